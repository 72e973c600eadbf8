#include "xmpp_client.hpp"

#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/rand.h>

#include <cstring>

namespace parley::bench {
namespace {

// A pending socket write owns its bytes until libuv is done with them.
struct WriteRequest {
  uv_write_t req;
  std::string bytes;
};

void on_write_done(uv_write_t* req, int) { delete static_cast<WriteRequest*>(req->data); }

// The loop's data is the ClientContext, which counts open sockets so a
// round can wait until every close has completed.
void on_handle_closed(uv_handle_t* handle) {
  if (auto* ctx = static_cast<ClientContext*>(handle->loop->data)) --ctx->open_sockets;
  delete reinterpret_cast<uv_tcp_t*>(handle);
}

void on_shutdown_done(uv_shutdown_t* req, int) {
  auto* handle = reinterpret_cast<uv_handle_t*>(req->handle);
  if (!uv_is_closing(handle)) uv_close(handle, on_handle_closed);
  delete req;
}

// Character content of a simple element such as <challenge>BASE64</challenge>.
std::string_view element_text(std::string_view stanza) {
  const std::size_t open_end = stanza.find('>');
  if (open_end == std::string_view::npos || stanza[open_end - 1] == '/') return {};
  const std::size_t close = stanza.rfind('<');
  if (close == std::string_view::npos || close <= open_end) return {};
  return stanza.substr(open_end + 1, close - open_end - 1);
}

std::string random_nonce() {
  unsigned char bytes[18];
  RAND_bytes(bytes, sizeof bytes);
  return base64_encode(std::string_view(reinterpret_cast<char*>(bytes), sizeof bytes));
}

std::string stream_header(std::string_view domain) {
  return "<?xml version='1.0'?><stream:stream to='" + std::string(domain) +
         "' version='1.0' xml:lang='en' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>";
}

// Keeps the newest session ticket in the connection's ClientContext.
int keep_ticket(SSL* ssl, SSL_SESSION* session) {
  auto* ctx = static_cast<ClientContext*>(SSL_get_app_data(ssl));
  if (!ctx || !ctx->tls_resume) return 0;
  if (ctx->resumable) SSL_SESSION_free(ctx->resumable);
  ctx->resumable = session;
  return 1;  // the callback now owns the reference
}

}  // namespace

SSL_CTX* make_client_tls_context() {
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  if (!ctx) return nullptr;
  // RFC 7590 §3.1: TLS 1.2 or later.
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nullptr);
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
  SSL_CTX_sess_set_new_cb(ctx, keep_ticket);
  return ctx;
}

bool set_server_address(ClientContext& ctx, const std::string& ip, uint16_t port) {
  if (uv_ip4_addr(ip.c_str(), port, reinterpret_cast<sockaddr_in*>(&ctx.server)) == 0) return true;
  return uv_ip6_addr(ip.c_str(), port, reinterpret_cast<sockaddr_in6*>(&ctx.server)) == 0;
}

Client::Client(ClientContext& ctx, ClientListener& listener, std::string username, std::string password,
               std::string resource, bool send_presence, std::size_t index)
    : ctx_(ctx), listener_(listener), username_(std::move(username)), password_(std::move(password)),
      resource_(std::move(resource)), send_presence_(send_presence), index_(index) {}

Client::~Client() { close_socket(); }

void Client::start() {
  if (state_ != State::idle) return;
  started_ns_ = uv_hrtime();
  tcp_ = new uv_tcp_t;
  uv_tcp_init(ctx_.loop, tcp_);
  // Counted on the loop's context, where on_handle_closed counts them down
  // (the s2s scenario has a second context for the peer server's clients).
  if (auto* counter = static_cast<ClientContext*>(ctx_.loop->data)) ++counter->open_sockets;
  tcp_->data = this;
  auto* req = new uv_connect_t;
  req->data = this;
  state_ = State::connecting;
  const int rc = uv_tcp_connect(req, tcp_, reinterpret_cast<const sockaddr*>(&ctx_.server), on_connect);
  if (rc != 0) {
    delete req;
    fail(std::string("connect: ") + uv_strerror(rc));
  }
}

void Client::on_connect(uv_connect_t* req, int status) {
  // The handle's data is cleared when the client closed it first.
  auto* self = static_cast<Client*>(req->handle->data);
  delete req;
  if (!self) return;
  if (status != 0) {
    self->fail(std::string("connect: ") + uv_strerror(status));
    return;
  }
  uv_tcp_nodelay(self->tcp_, 1);
  self->state_ = State::features;
  uv_read_start(reinterpret_cast<uv_stream_t*>(self->tcp_), on_alloc, on_read);
  if (self->ctx_.direct_tls)
    self->begin_tls();
  else
    self->open_stream();
}

void Client::on_alloc(uv_handle_t* handle, size_t, uv_buf_t* buf) {
  auto* self = static_cast<Client*>(handle->data);
  if (!self) {
    *buf = uv_buf_init(nullptr, 0);
    return;
  }
  *buf = uv_buf_init(self->ctx_.read_buffer, sizeof self->ctx_.read_buffer);
}

void Client::on_read(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) {
  auto* self = static_cast<Client*>(stream->data);
  if (!self || nread == 0) return;
  if (nread < 0) {
    self->fail(nread == UV_EOF ? "server closed the connection" : std::string("read: ") + uv_strerror(nread));
    return;
  }
  self->bytes_received_ += static_cast<uint64_t>(nread);
  self->received(buf->base, static_cast<std::size_t>(nread));
}

void Client::received(const char* data, std::size_t size) {
  if (!ssl_) {
    scanner_.feed(std::string_view(data, size));
    process_stanzas();
    return;
  }
  BIO_write(tls_in_, data, static_cast<int>(size));
  if (state_ == State::tls_handshake) {
    continue_handshake();
    if (state_ == State::tls_handshake || state_ == State::failed) return;
  }
  char plain[16 * 1024];
  while (true) {
    const int n = SSL_read(ssl_.get(), plain, sizeof plain);
    if (n <= 0) {
      const int err = SSL_get_error(ssl_.get(), n);
      if (err == SSL_ERROR_ZERO_RETURN) {
        flush_tls();
        fail("server sent TLS close_notify");
        return;
      }
      if (err != SSL_ERROR_WANT_READ) {
        fail("TLS read error " + std::to_string(ERR_get_error()));
        return;
      }
      break;
    }
    scanner_.feed(std::string_view(plain, static_cast<std::size_t>(n)));
  }
  flush_tls();  // TLS 1.3 may answer with post-handshake records (key update)
  process_stanzas();
}

void Client::process_stanzas() {
  while (state_ != State::failed && state_ != State::closed && tcp_) {
    const auto event = scanner_.next();
    if (event == StanzaScanner::Event::need_more) return;
    handle(event, scanner_.text());
  }
}

void Client::handle(StanzaScanner::Event event, std::string_view text) {
  using Event = StanzaScanner::Event;
  if (event == Event::stream_open) return;
  if (event == Event::malformed) return fail("unparseable input from server");
  if (event == Event::stream_close) return fail("server closed the stream");
  if (root_name(text) == "error" && text.find("http://etherx.jabber.org/streams") != std::string_view::npos)
    return fail("stream error: " + std::string(text.substr(0, 300)));
  switch (state_) {
    case State::features: return handle_features(text);
    case State::starttls:
      if (root_name(text) == "proceed") return begin_tls();
      return fail("STARTTLS refused");
    case State::sasl: return handle_sasl(text);
    case State::bind: return handle_bind(text);
    case State::ready: return listener_.on_stanza(*this, text);
    default: return;
  }
}

void Client::handle_features(std::string_view stanza) {
  if (root_name(stanza) != "features") return fail("expected stream features");
  if (!ssl_) {
    if (stanza.find("urn:ietf:params:xml:ns:xmpp-tls") == std::string_view::npos)
      return fail("server offers no STARTTLS");
    state_ = State::starttls;
    send_plain("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>");
    return;
  }
  if (authenticated_) {
    // Features after SASL success: bind a resource (RFC 6120 §7).
    if (stanza.find("urn:ietf:params:xml:ns:xmpp-bind") == std::string_view::npos)
      return fail("server offers no resource binding");
    state_ = State::bind;
    send_plain("<iq type='set' id='bind1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>" + resource_ +
               "</resource></bind></iq>");
    return;
  }
  const std::string& mech = ctx_.mechanism;
  if (stanza.find(">" + mech + "<") == std::string_view::npos) return fail("server does not offer " + mech);
  std::string initial;
  if (auto hash = scram_hash_from_mechanism(mech)) {
    scram_ = std::make_unique<ScramClient>(*hash, username_, password_, random_nonce(), ctx_.salted_passwords);
    initial = scram_->client_first();
  } else {
    // RFC 4616: authzid NUL authcid NUL password; only ever sent inside TLS.
    initial = std::string(1, '\0') + username_ + std::string(1, '\0') + password_;
  }
  state_ = State::sasl;
  sasl2_ = ctx_.sasl2 && stanza.find("urn:xmpp:sasl:2") != std::string_view::npos &&
           stanza.find("urn:xmpp:bind:0") != std::string_view::npos;
  if (sasl2_) {
    const std::string bind = "<bind xmlns='urn:xmpp:bind:0'><tag>bench</tag></bind>";
    const std::string agent = "<user-agent id='parley-bench-" + username_ + "'/>";
    const bool fast = ctx_.fast && stanza.find(">HT-SHA-256-NONE<") != std::string_view::npos;
    auto token = ctx_.fast_tokens.find(username_);
    if (fast && token != ctx_.fast_tokens.end()) {
      // HT-SHA-256-NONE: authcid NUL HMAC(token, "Initiator"); no challenge follows.
      used_fast_ = true;
      scram_.reset();
      fast_responder_ = hmac_sha256(token->second, "Responder");
      send_plain("<authenticate xmlns='urn:xmpp:sasl:2' mechanism='HT-SHA-256-NONE'><initial-response>" +
                 base64_encode(username_ + std::string(1, '\0') + hmac_sha256(token->second, "Initiator")) +
                 "</initial-response>" + agent + bind + "<fast xmlns='urn:xmpp:fast:0'/></authenticate>");
      return;
    }
    send_plain("<authenticate xmlns='urn:xmpp:sasl:2' mechanism='" + mech + "'><initial-response>" +
               base64_encode(initial) + "</initial-response>" + agent + bind +
               (fast ? "<request-token xmlns='urn:xmpp:fast:0' mechanism='HT-SHA-256-NONE'/>" : "") +
               "</authenticate>");
    return;
  }
  send_plain("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='" + mech + "'>" + base64_encode(initial) +
             "</auth>");
}

namespace {
// The text of the first <name>...</name> inside `stanza` (SASL2 success children).
std::string_view child_text(std::string_view stanza, std::string_view name) {
  const std::string open = "<" + std::string(name) + ">";
  const std::size_t start = stanza.find(open);
  if (start == std::string_view::npos) return {};
  const std::size_t end = stanza.find("</" + std::string(name) + ">", start);
  if (end == std::string_view::npos) return {};
  return stanza.substr(start + open.size(), end - start - open.size());
}
}  // namespace

void Client::handle_sasl(std::string_view stanza) {
  const std::string_view name = root_name(stanza);
  if (name == "challenge") {
    auto decoded = base64_decode(element_text(stanza));
    if (!decoded || !scram_) return fail("bad SASL challenge");
    auto final_message = scram_->client_final(*decoded);
    if (!final_message) return fail("invalid SCRAM server-first-message");
    const std::string_view ns = sasl2_ ? "urn:xmpp:sasl:2" : "urn:ietf:params:xml:ns:xmpp-sasl";
    send_plain("<response xmlns='" + std::string(ns) + "'>" + base64_encode(*final_message) + "</response>");
    return;
  }
  if (name == "success" && sasl2_) {
    // XEP-0388: no restart; with Bind2 the resource is already bound.
    auto decoded = base64_decode(child_text(stanza, "additional-data"));
    if (scram_ && (!decoded || !scram_->verify_server_final(*decoded))) return fail("server signature did not verify");
    if (used_fast_ && decoded != fast_responder_) return fail("server's FAST proof did not verify");
    scram_.reset();
    if (const std::size_t at = stanza.find("<token "); at != std::string_view::npos) {
      // XEP-0484 §5: <token xmlns='urn:xmpp:fast:0' expiry='...' token='...'/>
      const std::size_t value = stanza.find("token='", at + 7);
      const std::size_t end = value == std::string_view::npos ? value : stanza.find('\'', value + 7);
      if (end != std::string_view::npos) ctx_.fast_tokens[username_] = std::string(stanza.substr(value + 7, end - value - 7));
    }
    authenticated_ = true;
    if (stanza.find("urn:xmpp:bind:0") == std::string_view::npos) return fail("SASL2 success without Bind2");
    return become_ready(std::string(child_text(stanza, "authorization-identifier")));
  }
  if (name == "success") {
    if (scram_) {
      // RFC 6120 §6.4.6: success carries the server-final-message.
      auto decoded = base64_decode(element_text(stanza));
      if (!decoded || !scram_->verify_server_final(*decoded)) return fail("server signature did not verify");
    }
    scram_.reset();
    authenticated_ = true;
    // RFC 6120 §6.4.6: both sides restart the stream after SASL success.
    scanner_.reset();
    state_ = State::features;
    open_stream();
    return;
  }
  fail("SASL failed: " + std::string(stanza.substr(0, 200)));
}

void Client::handle_bind(std::string_view stanza) {
  if (root_name(stanza) != "iq" || root_attribute(stanza, "id") != "bind1") return;
  if (root_attribute(stanza, "type") != "result") return fail("bind failed: " + std::string(stanza.substr(0, 200)));
  const std::size_t open = stanza.find("<jid>");
  const std::size_t close = stanza.find("</jid>");
  if (open == std::string_view::npos || close == std::string_view::npos || close < open)
    return fail("bind result without a JID");
  become_ready(std::string(stanza.substr(open + 5, close - open - 5)));
}

void Client::become_ready(std::string jid) {
  jid_ = std::move(jid);
  if (send_presence_) send_plain("<presence/>");
  state_ = State::ready;
  ready_ns_ = uv_hrtime();
  listener_.on_ready(*this);
}

void Client::begin_tls() {
  ssl_.reset(SSL_new(ctx_.tls));
  if (!ssl_) return fail("SSL_new failed");
  tls_in_ = BIO_new(BIO_s_mem());
  tls_out_ = BIO_new(BIO_s_mem());
  SSL_set_bio(ssl_.get(), tls_in_, tls_out_);
  SSL_set_tlsext_host_name(ssl_.get(), ctx_.domain.c_str());
  if (ctx_.direct_tls) {
    // XEP-0368 §3: the ALPN protocol identifier of direct TLS.
    static constexpr unsigned char alpn[] = "\x0bxmpp-client";
    SSL_set_alpn_protos(ssl_.get(), alpn, sizeof alpn - 1);
  }
  SSL_set_app_data(ssl_.get(), &ctx_);
  if (ctx_.tls_resume && ctx_.resumable) SSL_set_session(ssl_.get(), ctx_.resumable);
  SSL_set_connect_state(ssl_.get());
  // RFC 6120 §5.4.3.3: after TLS both parties start a new stream.
  scanner_.reset();
  state_ = State::tls_handshake;
  continue_handshake();
}

void Client::continue_handshake() {
  const int rc = SSL_do_handshake(ssl_.get());
  flush_tls();
  if (rc == 1) {
    resumed_tls_ = SSL_session_reused(ssl_.get()) == 1;
    state_ = State::features;
    open_stream();
    return;
  }
  const int err = SSL_get_error(ssl_.get(), rc);
  if (err != SSL_ERROR_WANT_READ && err != SSL_ERROR_WANT_WRITE) fail("TLS handshake failed");
}

void Client::open_stream() { send_plain(stream_header(ctx_.domain)); }

void Client::send(std::string_view xml) {
  if (state_ == State::ready) send_plain(xml);
}

void Client::send_plain(std::string_view bytes) {
  if (!tcp_) return;
  if (!ssl_) return write_socket(std::string(bytes));
  // Memory BIOs never push back, so SSL_write takes everything at once.
  if (SSL_write(ssl_.get(), bytes.data(), static_cast<int>(bytes.size())) <= 0) return fail("TLS write failed");
  flush_tls();
}

void Client::flush_tls() {
  if (!ssl_) return;
  const std::size_t pending = BIO_ctrl_pending(tls_out_);
  if (pending == 0) return;
  std::string records(pending, '\0');
  const int n = BIO_read(tls_out_, records.data(), static_cast<int>(pending));
  if (n <= 0) return;
  records.resize(static_cast<std::size_t>(n));
  write_socket(std::move(records));
}

void Client::write_socket(std::string bytes) {
  if (!tcp_ || uv_is_closing(reinterpret_cast<uv_handle_t*>(tcp_))) return;
  auto* request = new WriteRequest;
  request->bytes = std::move(bytes);
  request->req.data = request;
  uv_buf_t buf = uv_buf_init(request->bytes.data(), static_cast<unsigned>(request->bytes.size()));
  if (uv_write(&request->req, reinterpret_cast<uv_stream_t*>(tcp_), &buf, 1, on_write_done) != 0) delete request;
}

void Client::finish() {
  if (!tcp_ || state_ == State::closed || state_ == State::failed) return;
  if (state_ == State::connecting || state_ == State::idle) return abort();
  send_plain("</stream:stream>");
  if (!tcp_) return;
  if (ssl_ && SSL_is_init_finished(ssl_.get())) {
    // RFC 6120 §4.4: close TLS too. OpenSSL also keeps a session resumable
    // only after a clean close_notify.
    SSL_shutdown(ssl_.get());
    flush_tls();
  }
  uv_read_stop(reinterpret_cast<uv_stream_t*>(tcp_));
  // Shutdown waits for queued writes; the close follows in its callback.
  // The handle stops reporting to this client right away, so the client
  // may be destroyed before the server answers.
  tcp_->data = nullptr;
  auto* req = new uv_shutdown_t;
  if (uv_shutdown(req, reinterpret_cast<uv_stream_t*>(tcp_), on_shutdown_done) != 0) {
    delete req;
    uv_close(reinterpret_cast<uv_handle_t*>(tcp_), on_handle_closed);
  }
  tcp_ = nullptr;
  state_ = State::closed;
}

void Client::abort() {
  if (state_ != State::failed) state_ = State::closed;
  close_socket();
}

void Client::fail(std::string reason) {
  if (state_ == State::failed || state_ == State::closed) return;
  state_ = State::failed;
  error_ = std::move(reason);
  close_socket();
  listener_.on_closed(*this, error_);
}

void Client::close_socket() {
  if (!tcp_) return;
  tcp_->data = nullptr;
  if (!uv_is_closing(reinterpret_cast<uv_handle_t*>(tcp_)))
    uv_close(reinterpret_cast<uv_handle_t*>(tcp_), on_handle_closed);
  tcp_ = nullptr;
}

}  // namespace parley::bench
