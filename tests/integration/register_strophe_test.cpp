// Phone sign-up with libstrophe, an independent XMPP implementation: its raw
// connection mode (as in libstrophe's own registration example) negotiates
// STARTTLS, then sends the XEP-0077 IQs before SASL; afterwards an ordinary
// libstrophe client signs in with the new account.
#include <doctest/doctest.h>
#include <strophe.h>

#include <chrono>
#include <deque>

#include "harness/strophe_client.hpp"
#include "harness/test_server.hpp"
#include "register_test_util.hpp"
#include "test_util.hpp"

using namespace parley;
using namespace parley::test;

namespace {

class StropheSignUp {
 public:
  explicit StropheSignUp(uint16_t port) : ctx_(xmpp_ctx_new(nullptr, nullptr)), conn_(xmpp_conn_new(ctx_)) {
    xmpp_conn_set_jid(conn_, "localhost");
    xmpp_conn_set_flags(conn_, XMPP_CONN_FLAG_TRUST_TLS | XMPP_CONN_FLAG_DISABLE_SM);
    xmpp_conn_set_certfail_handler(conn_, [](const xmpp_tlscert_t*, const char*) { return 1; });
    xmpp_connect_raw(conn_, "127.0.0.1", port, on_connection, this);
    run_until([this] { return ready_ || failed_; });
  }
  ~StropheSignUp() {
    xmpp_disconnect(conn_);
    run_until([this] { return failed_; }, 2000);
    xmpp_conn_release(conn_);
    xmpp_ctx_free(ctx_);
  }
  bool ready() const { return ready_; }
  bool offers_registration() const { return offers_registration_; }

  // Sends an IQ and returns its answer.
  std::optional<xml::Element> ask(const std::string& type, const std::string& payload) {
    std::string id = "s" + std::to_string(++counter_);
    xmpp_send_raw_string(conn_, "<iq type='%s' id='%s'>%s</iq>", type.c_str(), id.c_str(), payload.c_str());
    std::optional<xml::Element> answer;
    run_until([&] {
      for (auto it = inbox_.begin(); it != inbox_.end(); ++it) {
        if (it->attr("id") == id) {
          answer = std::move(*it);
          inbox_.erase(it);
          return true;
        }
      }
      return false;
    });
    return answer;
  }

 private:
  template <class Done>
  void run_until(Done done, int timeout_ms = 10000) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    while (!done() && std::chrono::steady_clock::now() < deadline) xmpp_run_once(ctx_, 10);
  }

  static void on_connection(xmpp_conn_t* conn, xmpp_conn_event_t status, int, xmpp_stream_error_t*, void* data) {
    auto* self = static_cast<StropheSignUp*>(data);
    if (status == XMPP_CONN_RAW_CONNECT) {
      xmpp_handler_add(conn, on_features, XMPP_NS_STREAMS, "features", nullptr, self);
      xmpp_conn_open_stream_default(conn);
    } else if (status == XMPP_CONN_DISCONNECT || status == XMPP_CONN_FAIL) {
      self->failed_ = true;
    }
  }

  // First features: STARTTLS; the features after it: ready to register.
  static int on_features(xmpp_conn_t* conn, xmpp_stanza_t* features, void* data) {
    auto* self = static_cast<StropheSignUp*>(data);
    if (!xmpp_conn_is_secured(conn)) {
      xmpp_handler_add(conn, on_proceed, XMPP_NS_TLS, "proceed", nullptr, self);
      xmpp_send_raw_string(conn, "<starttls xmlns='%s'/>", XMPP_NS_TLS);
      return 0;
    }
    self->offers_registration_ =
        xmpp_stanza_get_child_by_ns(features, "http://jabber.org/features/iq-register") != nullptr;
    xmpp_handler_add(conn, on_stanza, nullptr, "iq", nullptr, self);
    self->ready_ = true;
    return 0;
  }

  static int on_proceed(xmpp_conn_t* conn, xmpp_stanza_t*, void* data) {
    auto* self = static_cast<StropheSignUp*>(data);
    if (xmpp_conn_tls_start(conn) != 0) {
      self->failed_ = true;
      return 0;
    }
    xmpp_handler_add(conn, on_features, XMPP_NS_STREAMS, "features", nullptr, self);
    xmpp_conn_open_stream_default(conn);
    return 0;
  }

  static int on_stanza(xmpp_conn_t*, xmpp_stanza_t* stanza, void* data) {
    auto* self = static_cast<StropheSignUp*>(data);
    char* buffer = nullptr;
    size_t length = 0;
    if (xmpp_stanza_to_text(stanza, &buffer, &length) == XMPP_EOK) {
      if (auto element = parse_element(std::string(buffer, length))) self->inbox_.push_back(std::move(*element));
      xmpp_free(self->ctx_, buffer);
    }
    return 1;
  }

  xmpp_ctx_t* ctx_;
  xmpp_conn_t* conn_;
  bool ready_ = false;
  bool failed_ = false;
  bool offers_registration_ = false;
  int counter_ = 0;
  std::deque<xml::Element> inbox_;
};

}  // namespace

TEST_CASE("register: libstrophe signs up with a phone number and its SMS code, then signs in") {
  TestServer server(register_options());
  StropheSignUp client(server.starttls_port());
  REQUIRE(client.ready());
  CHECK(client.offers_registration());
  std::optional<xml::Element> form = client.ask("get", "<query xmlns='jabber:iq:register'/>");
  REQUIRE(form);
  CHECK(form->attr("type") == "result");
  std::optional<xml::Element> step1 = client.ask("set", signup_form("+12015550123", "strophe pw"));
  REQUIRE(step1);
  REQUIRE(step1->attr("type") == "result");
  std::string code = last_code(server, "+12015550123");
  std::string wrong = code == "000000" ? "111111" : "000000";
  std::optional<xml::Element> refused = client.ask("set", code_form("+12015550123", wrong));
  REQUIRE(refused);
  CHECK(condition_of(*refused, kStanzaErrors) == "not-authorized");
  CHECK(account_count(server, "+12015550123") == 0);
  std::optional<xml::Element> step2 = client.ask("set", code_form("+12015550123", code));
  REQUIRE(step2);
  CHECK(step2->attr("type") == "result");

  StropheClient login("+12015550123@localhost", "strophe pw", server.starttls_port());
  REQUIRE(login.connect());
  CHECK(login.bound_jid().rfind("+12015550123@localhost/", 0) == 0);
}
