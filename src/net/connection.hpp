#pragma once
// One TCP connection with an optional TLS layer (STARTTLS or direct TLS).

#include "net/tls_session.hpp"

#include <uv.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

namespace parley::net {

class NetLoop;

// Implemented by the connection's owner (a c2s/s2s session).
struct ConnectionHandler {
    // Received application bytes (decrypted when TLS is on). The view is
    // only valid during the call.
    virtual void on_data(std::string_view plaintext) = 0;
    // The TLS handshake finished (after start_tls / start_tls_client).
    virtual void on_tls_established() = 0;
    // The connection is finished and its socket closed: peer EOF or reset,
    // I/O or TLS error, or the end of close()/abort(). Called exactly once,
    // never from inside a Connection method called by the owner.
    virtual void on_closed(std::string_view reason) = 0;
    // Every byte written so far was taken by the kernel (pending_output_bytes()
    // fell to 0): a handler streaming a large body (HTTP downloads, relayed
    // bytestreams) writes its next piece here instead of buffering it all.
    virtual void on_output_drained() {}

protected:
    ~ConnectionHandler() = default;
};

// Lifetime rule: the owner holds the Connection in a std::unique_ptr and may
// destroy it at any time, including from inside any ConnectionHandler
// callback. The destructor detaches the libuv handle, which is closed and
// freed by its own close callback; pending writes are dropped. The NetLoop
// must outlive the Connection.
class Connection {
public:
    ~Connection();
    Connection(const Connection&) = delete;
    Connection& operator=(const Connection&) = delete;

    // Opens an outgoing connection to an IP literal (s2s, tests). Calls
    // `done` with the connection (not yet started), or nullptr and an error;
    // from the loop, except for an unparsable address (called at once).
    using ConnectCallback = std::function<void(std::unique_ptr<Connection>, std::string error)>;
    static void connect(NetLoop& net, const std::string& address, uint16_t port, ConnectCallback done);

    // Begins reading and delivering to `handler`. For direct TLS (XEP-0368)
    // call start_tls first.
    void start(ConnectionHandler& handler);

    // Server role. Output already queued (e.g. <proceed/>, RFC 6120 §5.4.2.3)
    // is sent in clear; everything read or written afterwards is TLS.
    // Bytes that arrived in the same read as the STARTTLS request are part
    // of the current on_data call: the session must discard them, never
    // treat them as protected (the CVE-2011-0411 injection).
    void start_tls(SSL_CTX* server_context);
    // Client role (s2s): same switch, sending SNI for and verifying `peer_name`.
    void start_tls_client(SSL_CTX* client_context, std::string_view peer_name);

    // Queues bytes; they are sent (encrypted if TLS) at the end of this loop
    // turn. Ignored once close() or abort() was called.
    void write(std::string_view bytes);
    // Bytes queued plus bytes handed to the kernel but not yet confirmed,
    // for the owner's slow-consumer policy.
    size_t pending_output_bytes() const;

    // Server TLS 1.3: sends the peer a session ticket right after the output
    // queued so far has been written, so making it does not delay the
    // answer the peer is waiting for. Nothing for plain TCP or TLS 1.2.
    void issue_tls_ticket();

    // Stops/restarts delivering on_data (flow control); writes continue.
    void pause_reading();
    void resume_reading();

    // Graceful: stop reading, send queued output and TLS close_notify, shut
    // down the write side, close; then on_closed("closed").
    void close();
    // Immediate: drop queued output, reset the TCP connection; then on_closed("aborted").
    void abort();

    std::string remote_address() const;  // "192.0.2.1:5222", "[2001:db8::1]:5222"
    // The peer's IP alone ("192.0.2.1", "2001:db8::1"): the key for per-IP limits.
    std::string remote_ip() const;
    TlsSession* tls() { return tls_.get(); }
    const TlsSession* tls() const { return tls_.get(); }
    bool is_tls() const { return tls_ != nullptr; }
    bool is_open() const { return tcp_ != nullptr && !closing_; }

private:
    friend class Listener;
    friend class NetLoop;
    Connection(NetLoop& net, uv_tcp_t* tcp);  // adopts an initialised, connected handle

    static void on_alloc(uv_handle_t* handle, size_t suggested, uv_buf_t* buf);
    static void on_read(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf);
    static void on_write(uv_write_t* req, int status);
    static void on_shutdown(uv_shutdown_t* req, int status);
    static void on_handle_closed(uv_handle_t* handle);

    void handle_input(std::string_view bytes);
    struct PeerAddress {
        std::string ip;  // empty until known
        uint16_t port = 0;
    };
    const PeerAddress& peer_address() const;
    void flush();
    bool write_wire(std::string& bytes);  // empties `bytes` into the socket; false if the connection failed
    void finish(std::string reason);        // close the socket now
    void finish_after_flush(std::string reason);
    void mark_dirty();
    // Calls into the handler; returns false if it destroyed this Connection.
    template <typename Call>
    bool notify(Call&& call);

    NetLoop& net_;
    uv_tcp_t* tcp_;  // null once closed; the close callback frees it
    ConnectionHandler* handler_ = nullptr;
    std::unique_ptr<TlsSession> tls_;
    std::string out_;   // application bytes not yet flushed
    std::string wire_;  // bytes ready for the socket (clear, or TLS records)
    size_t in_flight_ = 0;
    std::string close_reason_;
    mutable PeerAddress peer_;
    bool* alive_ = nullptr;  // set during handler calls, cleared by ~Connection
    bool reading_ = false;
    bool paused_ = false;
    bool closing_ = false;
    bool shutdown_sent_ = false;
    bool send_close_notify_ = false;
    bool flush_scheduled_ = false;
    bool ticket_wanted_ = false;
};

}  // namespace parley::net
