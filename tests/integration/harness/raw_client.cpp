#include "harness/raw_client.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <chrono>
#include <stdexcept>

#include "core/base64.hpp"
#include "xml/writer.hpp"
#include "xmpp/sasl/scram_client.hpp"

namespace parley::test {

namespace {
constexpr std::string_view kSaslNs = "urn:ietf:params:xml:ns:xmpp-sasl";
constexpr std::string_view kTlsNs = "urn:ietf:params:xml:ns:xmpp-tls";

std::string sasl_element(std::string_view name, std::string_view payload, std::string_view mechanism = {}) {
  xml::Element e{std::string(name), std::string(kSaslNs)};
  if (!mechanism.empty()) e.set_attr("mechanism", std::string(mechanism));
  e.append_text(payload.empty() ? "=" : core::base64_encode(payload));
  return xml::to_string(e, "jabber:client");
}
}  // namespace

RawClient::RawClient(uint16_t port, bool direct_tls, std::string sni)
    : sni_(std::move(sni)), parser_(*this, xml::StreamLimits{16 * 1024 * 1024, 1000, 1000}) {
  fd_ = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    throw std::runtime_error("cannot connect to port " + std::to_string(port));
  }
  int one = 1;
  setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  ctx_ = SSL_CTX_new(TLS_client_method());
  // Keep the session tickets the server sends (tests of TLS resumption).
  SSL_CTX_set_session_cache_mode(ctx_, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
  SSL_CTX_sess_set_new_cb(ctx_, [](SSL* ssl, SSL_SESSION* session) {
    auto* self = static_cast<RawClient*>(SSL_get_app_data(ssl));
    if (self->ticket_) SSL_SESSION_free(self->ticket_);
    self->ticket_ = session;
    ++self->tickets_received_;
    return 1;  // kept
  });
  if (direct_tls) handshake("direct TLS handshake failed");
}

RawClient::RawClient(Accepted accepted)
    : fd_(accepted.fd), parser_(*this, xml::StreamLimits{16 * 1024 * 1024, 1000, 1000}) {
  int one = 1;
  setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

std::unique_ptr<RawClient> RawClient::accept_from(int listen_fd, int timeout_ms) {
  pollfd p{listen_fd, POLLIN, 0};
  if (poll(&p, 1, timeout_ms) <= 0) throw std::runtime_error("parleyd did not connect");
  int fd = accept(listen_fd, nullptr, nullptr);
  if (fd < 0) throw std::runtime_error("accept failed");
  return std::unique_ptr<RawClient>(new RawClient(Accepted{fd}));
}

bool RawClient::answer_stream(const std::string& from, const std::string& features, int timeout_ms) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (!header_) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0 || (!read_some(static_cast<int>(left.count())) && connection_closed_)) return false;
  }
  send("<?xml version='1.0'?><stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams' "
       "xmlns:db='jabber:server:dialback' from='" + from + "' to='" + std::string(header_->attr("from")) +
       "' id='fake-" + std::to_string(fd_) + "-" + std::to_string(++streams_answered_) +
       "' version='1.0'><stream:features>" + features + "</stream:features>");
  return true;
}

void RawClient::accept_tls(const std::string& cert_file, const std::string& key_file) {
  if (ctx_) SSL_CTX_free(ctx_);
  ctx_ = SSL_CTX_new(TLS_server_method());
  if (SSL_CTX_use_certificate_chain_file(ctx_, cert_file.c_str()) != 1 ||
      SSL_CTX_use_PrivateKey_file(ctx_, key_file.c_str(), SSL_FILETYPE_PEM) != 1) {
    throw std::runtime_error("cannot load " + cert_file);
  }
  ssl_ = SSL_new(ctx_);
  SSL_set_fd(ssl_, fd_);
  if (SSL_accept(ssl_) != 1) throw std::runtime_error("server-side TLS handshake failed");
  parser_.reset();
  header_.reset();
}

void RawClient::handshake(const char* failure) {
  ssl_ = SSL_new(ctx_);
  SSL_set_app_data(ssl_, this);
  SSL_set_fd(ssl_, fd_);
  SSL_set_tlsext_host_name(ssl_, sni_.c_str());
  if (resume_ && SSL_set_session(ssl_, resume_) != 1) throw std::runtime_error("SSL_set_session failed");
  if (SSL_connect(ssl_) != 1) throw std::runtime_error(failure);
}

RawClient::~RawClient() {
  if (ticket_) SSL_SESSION_free(ticket_);
  if (resume_) SSL_SESSION_free(resume_);
  if (ssl_) SSL_free(ssl_);
  if (ctx_) SSL_CTX_free(ctx_);
  if (fd_ >= 0) close(fd_);
}

void RawClient::send(std::string_view bytes) {
  size_t done = 0;
  while (done < bytes.size()) {
    ssize_t n = ssl_ ? SSL_write(ssl_, bytes.data() + done, static_cast<int>(bytes.size() - done))
                     : ::send(fd_, bytes.data() + done, bytes.size() - done, MSG_NOSIGNAL);
    if (n <= 0) return;  // the server closed; the test will notice when reading
    done += static_cast<size_t>(n);
  }
}

bool RawClient::read_some(int timeout_ms) {
  if (connection_closed_) return false;
  if (!(ssl_ && SSL_pending(ssl_) > 0)) {
    pollfd p{fd_, POLLIN, 0};
    if (poll(&p, 1, timeout_ms) <= 0) return false;
  }
  char buffer[65536];
  ssize_t n = 0;
  if (ssl_) {
    // A record without application data (a TLS 1.3 session ticket) wakes
    // poll() too; a blocking SSL_read would then wait for the next stanza,
    // past the caller's timeout.
    int flags = fcntl(fd_, F_GETFL);
    fcntl(fd_, F_SETFL, flags | O_NONBLOCK);
    n = SSL_read(ssl_, buffer, sizeof buffer);
    int error = n > 0 ? SSL_ERROR_NONE : SSL_get_error(ssl_, static_cast<int>(n));
    fcntl(fd_, F_SETFL, flags);
    if (error == SSL_ERROR_WANT_READ) return false;
  } else {
    n = recv(fd_, buffer, sizeof buffer, 0);
  }
  if (n <= 0) {
    connection_closed_ = true;
    return false;
  }
  parser_.feed(std::string_view(buffer, static_cast<size_t>(n)));
  return true;
}

std::optional<xml::Element> RawClient::next(int timeout_ms) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (received_.empty()) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return std::nullopt;
    if (!read_some(static_cast<int>(left.count())) && connection_closed_) break;
  }
  if (received_.empty()) return std::nullopt;
  xml::Element e = std::move(received_.front());
  received_.pop_front();
  return e;
}

void RawClient::unread(std::vector<xml::Element> elements) {
  received_.insert(received_.begin(), std::make_move_iterator(elements.begin()),
                   std::make_move_iterator(elements.end()));
}

std::optional<xml::Element> RawClient::next_named(std::string_view name, int timeout_ms) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (true) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return std::nullopt;
    std::optional<xml::Element> e = next(static_cast<int>(left.count()));
    if (!e) return std::nullopt;
    if (e->name() == name) return e;
  }
}

bool RawClient::wait_closed(int timeout_ms) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (!connection_closed_) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    read_some(static_cast<int>(left.count()));
  }
  return true;
}

xml::Element RawClient::open_stream(const std::string& host) {
  header_.reset();
  std::string from = stream_from_.empty() ? std::string() : " from='" + stream_from_ + "'";
  send("<?xml version='1.0'?><stream:stream xmlns='" + stream_ns_ +
       "' xmlns:stream='http://etherx.jabber.org/streams' to='" + host + "'" + from + " version='1.0'>");
  while (std::optional<xml::Element> e = next()) {
    if (e->name() == "features") return *e;
    if (e->name() == "error" && e->ns() == "http://etherx.jabber.org/streams") {
      throw std::runtime_error("stream error: " + stream_error_condition(*e));
    }
  }
  throw std::runtime_error("no stream features from the server");
}

xml::Element RawClient::starttls(const std::string& host) {
  send("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>");
  std::optional<xml::Element> proceed = next();
  if (!proceed || proceed->name() != "proceed" || proceed->ns() != kTlsNs) {
    throw std::runtime_error("the server did not answer STARTTLS with <proceed/>");
  }
  handshake("TLS handshake failed");
  parser_.reset();
  return open_stream(host);
}

std::string RawClient::tls_version() const { return ssl_ ? SSL_get_version(ssl_) : ""; }

void RawClient::resume_with(SSL_SESSION* ticket) {
  if (resume_) SSL_SESSION_free(resume_);
  SSL_SESSION_up_ref(ticket);
  resume_ = ticket;
}

bool RawClient::tls_resumed() const { return ssl_ && SSL_session_reused(ssl_) == 1; }

bool RawClient::peer_certificate_matches(const std::string& host) const {
  if (!ssl_) return false;
  X509* cert = SSL_get1_peer_certificate(ssl_);
  if (!cert) return false;
  bool match = X509_check_host(cert, host.data(), host.size(), 0, nullptr) == 1;
  X509_free(cert);
  return match;
}

std::optional<std::string> RawClient::channel_binding(const std::string& type) const {
  if (!ssl_) return std::nullopt;
  if (type == "tls-exporter") {
    unsigned char out[32];
    static constexpr char label[] = "EXPORTER-Channel-Binding";
    if (SSL_export_keying_material(ssl_, out, sizeof out, label, sizeof label - 1, nullptr, 0, 0) != 1) {
      return std::nullopt;
    }
    return std::string(reinterpret_cast<char*>(out), sizeof out);
  }
  if (type == "tls-server-end-point") {
    X509* cert = SSL_get1_peer_certificate(ssl_);
    if (!cert) return std::nullopt;
    int md_nid = 0;
    X509_get_signature_info(cert, &md_nid, nullptr, nullptr, nullptr);
    const EVP_MD* md = EVP_get_digestbynid(md_nid);
    if (!md || md_nid == NID_md5 || md_nid == NID_sha1) md = EVP_sha256();  // RFC 5929 §4.1
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    X509_digest(cert, md, digest, &len);
    X509_free(cert);
    return std::string(reinterpret_cast<char*>(digest), len);
  }
  return std::nullopt;
}

xml::Element RawClient::authenticate(const std::string& mechanism, const std::string& user,
                                     const std::string& password, const std::string& cb_type) {
  if (mechanism == "PLAIN") {
    send(sasl_element("auth", std::string("\0", 1) + user + std::string("\0", 1) + password, "PLAIN"));
    std::optional<xml::Element> answer = next();
    if (!answer) throw std::runtime_error("no answer to PLAIN");
    if (answer->name() == "success") parser_.reset();
    return *answer;
  }
  std::optional<xmpp::sasl::ScramMechanism> m = xmpp::sasl::parse_scram_mechanism(mechanism);
  if (!m) throw std::runtime_error("unknown mechanism " + mechanism);
  xmpp::sasl::ScramClientOptions options;
  if (m->plus) {
    options.cb_type = cb_type;
    options.cb_data = channel_binding(cb_type).value_or("");
  }
  // cb_type "y": a client that supports channel binding but does not use it.
  options.client_supports_binding = m->plus || cb_type == "y";
  xmpp::sasl::ScramClient client(m->hash, user, password, options);
  send(sasl_element("auth", client.first_message(), mechanism));
  std::optional<xml::Element> challenge = next();
  if (!challenge || challenge->name() != "challenge") {
    if (!challenge) throw std::runtime_error("no SCRAM challenge");
    return *challenge;
  }
  std::optional<std::string> server_first = core::base64_decode(challenge->text());
  std::optional<std::string> final_message = client.final_message(server_first.value_or(""));
  if (!final_message) throw std::runtime_error("bad server-first message");
  send(sasl_element("response", *final_message));
  std::optional<xml::Element> outcome = next();
  if (!outcome) throw std::runtime_error("no SASL outcome");
  if (outcome->name() == "success") {
    std::optional<std::string> server_final = core::base64_decode(outcome->text());
    if (!server_final || !client.verify_server_final(*server_final)) {
      throw std::runtime_error("the server's SCRAM signature did not verify");
    }
    parser_.reset();
  }
  return *outcome;
}

std::string RawClient::bind(const std::string& resource, const std::string& host) {
  open_stream(host);
  std::string request = "<iq type='set' id='bind1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'>";
  if (!resource.empty()) request += "<resource>" + resource + "</resource>";
  request += "</bind></iq>";
  send(request);
  std::optional<xml::Element> result = next_named("iq");
  if (!result || result->attr("type") != "result") throw std::runtime_error("bind failed");
  const xml::Element* bind = result->first_child("bind");
  const xml::Element* jid = bind ? bind->first_child("jid") : nullptr;
  if (!jid) throw std::runtime_error("bind result without jid");
  return jid->text();
}

std::string RawClient::login(const std::string& user, const std::string& password, const std::string& resource,
                             const std::string& host) {
  open_stream(host);
  starttls(host);
  xml::Element outcome = authenticate("SCRAM-SHA-256", user, password);
  if (outcome.name() != "success") throw std::runtime_error("login failed for " + user);
  return bind(resource, host);
}

void RawClient::restart_stream() {
  parser_.reset();
  header_.reset();
}

void RawClient::act_as_server(const std::string& from, const std::string& cert_file, const std::string& key_file) {
  stream_ns_ = "jabber:server";
  stream_from_ = from;
  if (SSL_CTX_use_certificate_chain_file(ctx_, cert_file.c_str()) != 1 ||
      SSL_CTX_use_PrivateKey_file(ctx_, key_file.c_str(), SSL_FILETYPE_PEM) != 1) {
    throw std::runtime_error("cannot load " + cert_file);
  }
}

std::string RawClient::stream_error_condition(const xml::Element& error) {
  for (const xml::Element& child : error.children()) {
    if (child.ns() == "urn:ietf:params:xml:ns:xmpp-streams" && child.name() != "text") return child.name();
  }
  return {};
}

void RawClient::on_stream_open(const xml::Element& root, std::string_view) { header_ = root; }
void RawClient::on_stanza(xml::Element&& element) { received_.push_back(std::move(element)); }
void RawClient::on_stream_close() { stream_closed_ = true; }
void RawClient::on_stream_error(xml::StreamError, std::string_view) { connection_closed_ = true; }

}  // namespace parley::test
