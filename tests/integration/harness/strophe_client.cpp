#include "harness/strophe_client.hpp"

#include <chrono>
#include <stdexcept>

#include "xml/stream_parser.hpp"

namespace parley::test {

namespace {
struct OneElement : xml::StreamHandler {
  std::optional<xml::Element> element;
  void on_stream_open(const xml::Element&, std::string_view) override {}
  void on_stanza(xml::Element&& e) override { element = std::move(e); }
  void on_stream_close() override {}
  void on_stream_error(xml::StreamError, std::string_view) override {}
};

int accept_self_signed(const xmpp_tlscert_t*, const char*) { return 1; }
}  // namespace

std::optional<xml::Element> parse_element(const std::string& text) {
  OneElement handler;
  xml::StreamParser parser(handler, xml::StreamLimits{16 * 1024 * 1024, 1000, 1000});
  parser.feed("<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>");
  parser.feed(text);
  return handler.element;
}

StropheClient::StropheClient(const std::string& jid, const std::string& password, uint16_t port, Tls tls)
    : port_(port) {
  ctx_ = xmpp_ctx_new(nullptr, nullptr);
  conn_ = xmpp_conn_new(ctx_);
  xmpp_conn_set_jid(conn_, jid.c_str());
  xmpp_conn_set_pass(conn_, password.c_str());
  long flags = XMPP_CONN_FLAG_MANDATORY_TLS | XMPP_CONN_FLAG_TRUST_TLS | XMPP_CONN_FLAG_DISABLE_SM;
  if (tls == Tls::Direct) flags |= XMPP_CONN_FLAG_LEGACY_SSL;
  xmpp_conn_set_flags(conn_, flags);
  xmpp_conn_set_certfail_handler(conn_, accept_self_signed);
  xmpp_handler_add(conn_, on_stanza, nullptr, nullptr, nullptr, this);
}

StropheClient::~StropheClient() {
  if (connected_) disconnect();
  xmpp_conn_release(conn_);
  xmpp_ctx_free(ctx_);
}

void StropheClient::on_connection(xmpp_conn_t*, xmpp_conn_event_t status, int, xmpp_stream_error_t*, void* userdata) {
  auto* self = static_cast<StropheClient*>(userdata);
  if (status == XMPP_CONN_CONNECT) {
    self->connected_ = true;
  } else if (status == XMPP_CONN_DISCONNECT || status == XMPP_CONN_FAIL) {
    self->connected_ = false;
    self->disconnected_ = true;
  }
}

int StropheClient::on_stanza(xmpp_conn_t*, xmpp_stanza_t* stanza, void* userdata) {
  auto* self = static_cast<StropheClient*>(userdata);
  char* buffer = nullptr;
  size_t length = 0;
  if (xmpp_stanza_to_text(stanza, &buffer, &length) == XMPP_EOK) {
    if (auto element = parse_element(std::string(buffer, length))) self->inbox_.push_back(std::move(*element));
    xmpp_free(self->ctx_, buffer);
  }
  return 1;  // keep the handler
}

bool StropheClient::connect(int timeout_ms) {
  if (xmpp_connect_client(conn_, "127.0.0.1", port_, on_connection, this) != XMPP_EOK) return false;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (!connected_ && !disconnected_ && std::chrono::steady_clock::now() < deadline) xmpp_run_once(ctx_, 10);
  return connected_;
}

std::string StropheClient::bound_jid() const {
  const char* jid = xmpp_conn_get_bound_jid(conn_);
  return jid ? jid : "";
}

// libstrophe writes from its loop: run it briefly so the stanza leaves now.
void StropheClient::send(const std::string& xml) {
  xmpp_send_raw_string(conn_, "%s", xml.c_str());
  pump(50);
}

void StropheClient::pump(int ms) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
  while (std::chrono::steady_clock::now() < deadline) xmpp_run_once(ctx_, 5);
}

std::optional<xml::Element> StropheClient::wait_for(const std::function<bool(const xml::Element&)>& match,
                                                    int timeout_ms) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (true) {
    for (auto it = inbox_.begin(); it != inbox_.end(); ++it) {
      if (match(*it)) {
        xml::Element found = std::move(*it);
        inbox_.erase(it);
        return found;
      }
    }
    if (std::chrono::steady_clock::now() >= deadline || disconnected_) return std::nullopt;
    xmpp_run_once(ctx_, 5);
  }
}

void StropheClient::disconnect() {
  xmpp_disconnect(conn_);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(3);
  while (!disconnected_ && std::chrono::steady_clock::now() < deadline) xmpp_run_once(ctx_, 5);
  connected_ = false;
}

}  // namespace parley::test
