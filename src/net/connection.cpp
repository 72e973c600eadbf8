#include "net/connection.hpp"

#include "net/net_loop.hpp"

#include <utility>

namespace parley::net {

namespace {

// A uv_write_t that owns the bytes it sends; freed in its callback, which
// libuv runs (with UV_ECANCELED) even if the handle is closed first.
struct WriteRequest {
    uv_write_t req;
    std::string bytes;
};

std::string uv_reason(const char* what, int status) {
    return std::string(what) + ": " + uv_strerror(status);
}

Connection* owner_of(uv_handle_t* handle) { return static_cast<Connection*>(handle->data); }

}  // namespace

Connection::Connection(NetLoop& net, uv_tcp_t* tcp) : net_(net), tcp_(tcp) {
    tcp_->data = this;
    // Output is already batched per loop turn; Nagle would only add latency.
    uv_tcp_nodelay(tcp_, 1);
}

Connection::~Connection() {
    if (alive_ != nullptr) *alive_ = false;
    if (flush_scheduled_) net_.cancel_flush(*this);
    if (tcp_ != nullptr) {
        tcp_->data = nullptr;  // callbacks still in flight must not find us
        auto* handle = reinterpret_cast<uv_handle_t*>(tcp_);
        if (!uv_is_closing(handle)) uv_close(handle, on_handle_closed);
    }
}

void Connection::connect(NetLoop& net, const std::string& address, uint16_t port, ConnectCallback done) {
    sockaddr_storage addr{};
    if (uv_ip4_addr(address.c_str(), port, reinterpret_cast<sockaddr_in*>(&addr)) != 0 &&
        uv_ip6_addr(address.c_str(), port, reinterpret_cast<sockaddr_in6*>(&addr)) != 0) {
        done(nullptr, "not an IP address: " + address);
        return;
    }
    struct ConnectRequest {
        uv_connect_t req;
        NetLoop* net;
        ConnectCallback done;
    };
    auto* tcp = new uv_tcp_t;
    uv_tcp_init(net.loop(), tcp);
    tcp->data = nullptr;
    auto* request = new ConnectRequest{{}, &net, std::move(done)};
    const int rc = uv_tcp_connect(&request->req, tcp, reinterpret_cast<sockaddr*>(&addr),
                                  [](uv_connect_t* req, int status) {
                                      std::unique_ptr<ConnectRequest> request(
                                          reinterpret_cast<ConnectRequest*>(req));
                                      auto* tcp = reinterpret_cast<uv_tcp_t*>(req->handle);
                                      if (status < 0) {
                                          uv_close(reinterpret_cast<uv_handle_t*>(tcp), on_handle_closed);
                                          request->done(nullptr, uv_reason("connect", status));
                                          return;
                                      }
                                      request->done(std::unique_ptr<Connection>(new Connection(*request->net, tcp)),
                                                    {});
                                  });
    if (rc != 0) {
        uv_close(reinterpret_cast<uv_handle_t*>(tcp), on_handle_closed);
        ConnectCallback callback = std::move(request->done);
        delete request;
        callback(nullptr, uv_reason("connect", rc));
    }
}

template <typename Call>
bool Connection::notify(Call&& call) {
    bool alive = true;
    bool* outer = std::exchange(alive_, &alive);
    call(*handler_);
    if (!alive) return false;
    alive_ = outer;
    return true;
}

void Connection::start(ConnectionHandler& handler) {
    handler_ = &handler;
    resume_reading();
}

void Connection::start_tls(SSL_CTX* server_context) {
    // Whatever was queued in clear (the <proceed/>) precedes the TLS records.
    wire_ += out_;
    out_.clear();
    tls_ = std::make_unique<TlsSession>(server_context, true);
    if (!wire_.empty()) mark_dirty();
}

void Connection::start_tls_client(SSL_CTX* client_context, std::string_view peer_name) {
    wire_ += out_;
    out_.clear();
    tls_ = std::make_unique<TlsSession>(client_context, false);
    if (!peer_name.empty()) tls_->set_peer_name(peer_name);
    if (tls_->start(wire_) == TlsStatus::Error) {
        finish_after_flush("tls error: " + tls_->last_error());
        return;
    }
    mark_dirty();
}

void Connection::write(std::string_view bytes) {
    if (closing_ || tcp_ == nullptr || bytes.empty()) return;
    out_.append(bytes);
    mark_dirty();
}

void Connection::issue_tls_ticket() {
    if (closing_ || tcp_ == nullptr || !tls_) return;
    ticket_wanted_ = true;
    mark_dirty();
}

size_t Connection::pending_output_bytes() const { return out_.size() + wire_.size() + in_flight_; }

void Connection::pause_reading() {
    paused_ = true;
    if (reading_ && tcp_ != nullptr) {
        uv_read_stop(reinterpret_cast<uv_stream_t*>(tcp_));
        reading_ = false;
    }
}

void Connection::resume_reading() {
    paused_ = false;
    if (reading_ || closing_ || tcp_ == nullptr || handler_ == nullptr) return;
    const int rc = uv_read_start(reinterpret_cast<uv_stream_t*>(tcp_), on_alloc, on_read);
    if (rc != 0) {
        finish(uv_reason("read error", rc));
        return;
    }
    reading_ = true;
}

void Connection::close() {
    if (closing_ || tcp_ == nullptr) return;
    send_close_notify_ = true;
    finish_after_flush("closed");
}

void Connection::abort() {
    if (tcp_ == nullptr || uv_is_closing(reinterpret_cast<uv_handle_t*>(tcp_))) return;
    closing_ = true;
    close_reason_ = "aborted";
    out_.clear();
    wire_.clear();
    // RST instead of FIN: the peer learns at once that data was discarded.
    if (uv_tcp_close_reset(tcp_, on_handle_closed) != 0)
        uv_close(reinterpret_cast<uv_handle_t*>(tcp_), on_handle_closed);
}

std::string Connection::remote_address() const {
    const PeerAddress& peer = peer_address();
    if (peer.ip.empty()) return {};
    if (peer.ip.find(':') != std::string::npos) return "[" + peer.ip + "]:" + std::to_string(peer.port);
    return peer.ip + ":" + std::to_string(peer.port);
}

std::string Connection::remote_ip() const { return peer_address().ip; }

// Asked for by the per-IP limits, the session and its log lines: one
// getpeername per connection is enough, and the answer outlives the socket.
const Connection::PeerAddress& Connection::peer_address() const {
    if (peer_.ip.empty() && tcp_ != nullptr) {
        sockaddr_storage addr{};
        int len = sizeof addr;
        if (uv_tcp_getpeername(tcp_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) return peer_;
        char ip[INET6_ADDRSTRLEN] = {};
        if (addr.ss_family == AF_INET6) {
            const auto* a6 = reinterpret_cast<const sockaddr_in6*>(&addr);
            uv_ip6_name(a6, ip, sizeof ip);
            peer_.port = ntohs(a6->sin6_port);
        } else {
            const auto* a4 = reinterpret_cast<const sockaddr_in*>(&addr);
            uv_ip4_name(a4, ip, sizeof ip);
            peer_.port = ntohs(a4->sin_port);
        }
        peer_.ip = ip;
    }
    return peer_;
}

void Connection::on_alloc(uv_handle_t* handle, size_t, uv_buf_t* buf) {
    // One buffer per loop: each read is consumed before the next allocation,
    // so idle connections hold no receive memory.
    NetLoop& net = owner_of(handle)->net_;
    *buf = uv_buf_init(net.read_buffer(), NetLoop::read_buffer_size);
}

void Connection::on_read(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) {
    Connection* self = owner_of(reinterpret_cast<uv_handle_t*>(stream));
    if (self == nullptr || nread == 0) return;
    if (nread == UV_EOF) {
        self->finish("closed by peer");
        return;
    }
    if (nread < 0) {
        self->finish(uv_reason("read error", static_cast<int>(nread)));
        return;
    }
    self->handle_input(std::string_view(buf->base, static_cast<size_t>(nread)));
}

// read -> (decrypt) -> deliver; TLS handshake records go back out via wire_.
void Connection::handle_input(std::string_view bytes) {
    if (!tls_) {
        notify([&](ConnectionHandler& h) { h.on_data(bytes); });
        return;
    }
    const bool was_established = tls_->handshake_done();
    std::string& plaintext = net_.plaintext_scratch();
    plaintext.clear();
    const size_t wire_before = wire_.size();
    const TlsStatus status = tls_->receive(bytes, plaintext, wire_);
    if (wire_.size() != wire_before) mark_dirty();
    if (status == TlsStatus::Error) {
        // Flush first so the peer gets the alert OpenSSL queued.
        finish_after_flush("tls error: " + tls_->last_error());
        return;
    }
    if (!was_established && tls_->handshake_done()) {
        if (!notify([](ConnectionHandler& h) { h.on_tls_established(); })) return;
    }
    if (!plaintext.empty() && !closing_ && tcp_ != nullptr) {
        // The scratch buffer is shared: hand the handler its own view only
        // for the duration of the call.
        if (!notify([&](ConnectionHandler& h) { h.on_data(plaintext); })) return;
    }
    if (status == TlsStatus::Closed && !closing_) {
        send_close_notify_ = true;  // answer the peer's close_notify (RFC 8446 §6.1)
        finish_after_flush("closed by peer");
    }
}

void Connection::mark_dirty() {
    if (flush_scheduled_ || tcp_ == nullptr) return;
    flush_scheduled_ = true;
    net_.schedule_flush(*this);
}

// Runs once per loop turn from NetLoop: encrypt, hand to the kernel, and
// finish a graceful close once everything queued has been written.
void Connection::flush() {
    if (tcp_ == nullptr || uv_is_closing(reinterpret_cast<uv_handle_t*>(tcp_))) return;
    // Handshake records already waiting in wire_ go first; otherwise this
    // turn's bytes are built in the loop's scratch buffer.
    std::string& wire = wire_.empty() ? net_.wire_scratch() : wire_;
    if (!out_.empty()) {
        if (tls_) {
            if (tls_->send(out_, wire) == TlsStatus::Error) {
                out_.clear();
                wire.clear();
                finish("tls error: " + tls_->last_error());
                return;
            }
        } else {
            wire += out_;
        }
        // Free the buffer rather than keep the largest batch ever sent (a
        // whole roster) on a connection that may now sit idle for hours.
        std::string().swap(out_);
    }
    if (closing_ && send_close_notify_ && tls_) {
        send_close_notify_ = false;
        tls_->shutdown(wire);
    }
    const bool wrote = !wire.empty();
    if (!write_wire(wire)) return;
    if (ticket_wanted_) {
        ticket_wanted_ = false;
        // The answer is already with the kernel, so it is on its way while
        // the ticket is made and sent behind it.
        if (tls_ && !closing_ && tls_->issue_ticket(wire) && !write_wire(wire)) return;
    }
    if (closing_ && !shutdown_sent_) {
        // uv_shutdown waits for the writes queued above, then sends FIN.
        shutdown_sent_ = true;
        auto* req = new uv_shutdown_t;
        if (uv_shutdown(req, reinterpret_cast<uv_stream_t*>(tcp_), on_shutdown) != 0) {
            delete req;
            finish(close_reason_);
        }
        return;
    }
    // The kernel took everything at once, so no write callback will say so.
    if (wrote && pending_output_bytes() == 0 && handler_ != nullptr && !closing_)
        notify([](ConnectionHandler& handler) { handler.on_output_drained(); });
}

// Writes at once what the kernel takes (one system call, no request to
// allocate, nothing for libuv to watch); only a remainder is queued with
// uv_write, behind which libuv keeps the order of later writes.
bool Connection::write_wire(std::string& bytes) {
    if (bytes.empty()) return true;
    size_t written = 0;
    const uv_buf_t whole = uv_buf_init(bytes.data(), static_cast<unsigned>(bytes.size()));
    const int rc = uv_try_write(reinterpret_cast<uv_stream_t*>(tcp_), &whole, 1);
    if (rc >= 0) {
        written = static_cast<size_t>(rc);
    } else if (rc != UV_EAGAIN) {
        bytes.clear();
        finish(uv_reason("write error", rc));
        return false;
    }
    std::string remainder = bytes.substr(written);
    bytes.clear();
    if (&bytes == &wire_) wire_.shrink_to_fit();  // as for out_ in flush()
    if (remainder.empty()) return true;
    auto* request = new WriteRequest{{}, std::move(remainder)};
    const uv_buf_t rest = uv_buf_init(request->bytes.data(), static_cast<unsigned>(request->bytes.size()));
    const int queued = uv_write(&request->req, reinterpret_cast<uv_stream_t*>(tcp_), &rest, 1, on_write);
    if (queued != 0) {
        delete request;
        finish(uv_reason("write error", queued));
        return false;
    }
    in_flight_ += request->bytes.size();
    return true;
}

void Connection::on_write(uv_write_t* req, int status) {
    std::unique_ptr<WriteRequest> request(reinterpret_cast<WriteRequest*>(req));
    Connection* self = owner_of(reinterpret_cast<uv_handle_t*>(req->handle));
    if (self == nullptr) return;
    self->in_flight_ -= request->bytes.size();
    if (status < 0 && status != UV_ECANCELED) {
        self->finish(uv_reason("write error", status));
        return;
    }
    if (self->pending_output_bytes() == 0 && self->handler_ != nullptr && !self->closing_) {
        self->notify([](ConnectionHandler& handler) { handler.on_output_drained(); });
    }
}

void Connection::on_shutdown(uv_shutdown_t* req, int status) {
    auto* handle = reinterpret_cast<uv_handle_t*>(req->handle);
    delete req;
    Connection* self = owner_of(handle);
    if (self != nullptr)
        self->finish(std::string(self->close_reason_));
    else if (!uv_is_closing(handle))
        uv_close(handle, on_handle_closed);
}

void Connection::finish_after_flush(std::string reason) {
    if (closing_ || tcp_ == nullptr) return;
    closing_ = true;
    close_reason_ = std::move(reason);
    if (reading_) {
        uv_read_stop(reinterpret_cast<uv_stream_t*>(tcp_));
        reading_ = false;
    }
    mark_dirty();  // even with nothing queued: close from the check phase
}

void Connection::finish(std::string reason) {
    if (tcp_ == nullptr) return;
    auto* handle = reinterpret_cast<uv_handle_t*>(tcp_);
    if (uv_is_closing(handle)) return;
    close_reason_ = std::move(reason);
    closing_ = true;
    reading_ = false;
    uv_close(handle, on_handle_closed);
}

void Connection::on_handle_closed(uv_handle_t* handle) {
    Connection* self = owner_of(handle);
    delete reinterpret_cast<uv_tcp_t*>(handle);
    if (self == nullptr) return;
    self->tcp_ = nullptr;
    if (self->flush_scheduled_) {
        self->net_.cancel_flush(*self);
        self->flush_scheduled_ = false;
    }
    // A copy: the handler may destroy the Connection while reading it.
    const std::string reason = self->close_reason_;
    if (self->handler_ != nullptr) self->notify([&](ConnectionHandler& h) { h.on_closed(reason); });
}

}  // namespace parley::net
