// XEP-0215 external service discovery: the STUN/TURN server with TURN REST
// API credentials that coturn's use-auth-secret would accept.
#include <doctest/doctest.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <ctime>
#include <string>
#include <vector>

#include "core/base64.hpp"
#include "core/datetime.hpp"
#include "harness/raw_client.hpp"
#include "harness/test_server.hpp"
#include "test_util.hpp"

using namespace parley;
using namespace parley::test;

namespace {

constexpr std::string_view kExtdisco = "urn:xmpp:extdisco:2";

ServerOptions with_module(std::string extra_config) {
  ServerOptions options;
  options.modules = {"disco", "ping", "extdisco"};
  options.extra_config = std::move(extra_config);
  return options;
}

std::string turn_password(std::string_view secret, std::string_view username) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  HMAC(EVP_sha1(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(username.data()), username.size(), digest, &length);
  return core::base64_encode(std::string_view(reinterpret_cast<const char*>(digest), length));
}

// "type transport port" of each service, in order.
std::vector<std::string> listed(const xml::Element& iq) {
  std::vector<std::string> out;
  const xml::Element* payload = iq.first_child();
  if (!payload) return out;
  for (const xml::Element& s : payload->children()) {
    out.push_back(std::string(s.attr("type")) + " " + std::string(s.attr("transport")) + " " +
                  std::string(s.attr("port")));
  }
  return out;
}

constexpr const char* kTurnConfig =
    "[modules.extdisco]\nturn_host = \"turn.example.net\"\nturn_port = 3478\nturn_tls_port = 5349\n"
    "secret = \"s3cret\"\ncredential_ttl = \"2h\"\n";

}  // namespace

TEST_CASE("extdisco: STUN and TURN with credentials a TURN server checks against the shared secret") {
  TestServer server(with_module(kTurnConfig));
  server.add_user("alice@localhost", "secret");
  RawClient alice(server.starttls_port());
  alice.login("alice", "secret", "phone");
  xml::Element info = ask(alice, "localhost", "<query xmlns='http://jabber.org/protocol/disco#info'/>");
  bool announced = false;
  for (const xml::Element& f : info.first_child("query")->children()) announced |= f.attr("var") == kExtdisco;
  CHECK(announced);

  const std::time_t before = std::time(nullptr);
  xml::Element all = ask(alice, "localhost", "<services xmlns='urn:xmpp:extdisco:2'/>");
  REQUIRE(all.attr("type") == "result");
  CHECK(listed(all) == std::vector<std::string>{"stun udp 3478", "turn udp 3478", "turn tcp 3478", "turns tcp 5349"});
  for (const xml::Element& s : all.first_child("services", kExtdisco)->children()) {
    CAPTURE(s.attr("type"));
    CHECK(s.attr("host") == "turn.example.net");
    if (s.attr("type") == "stun") {
      CHECK(s.attr("username").empty());
      continue;
    }
    // The TURN REST API username: expiry, then the user; the password its HMAC.
    std::string username(s.attr("username"));
    const std::size_t colon = username.find(':');
    REQUIRE(colon != std::string::npos);
    CHECK(username.substr(colon + 1) == "alice@localhost");
    const long long expiry = std::stoll(username.substr(0, colon));
    CHECK(expiry >= before + 7200);
    CHECK(expiry <= std::time(nullptr) + 7200);
    CHECK(s.attr("password") == turn_password("s3cret", username));
    CHECK(s.attr("expires") == core::xep0082_datetime(static_cast<std::time_t>(expiry)));
    CHECK(s.attr("restricted") == "1");
  }

  // XEP-0215 §3.1: only one type; §3.3: credentials for one service.
  CHECK(listed(ask(alice, "localhost", "<services xmlns='urn:xmpp:extdisco:2' type='turns'/>")) ==
        std::vector<std::string>{"turns tcp 5349"});
  xml::Element credentials = ask(alice, "localhost",
                                 "<credentials xmlns='urn:xmpp:extdisco:2'>"
                                 "<service host='turn.example.net' type='turn'/></credentials>");
  CHECK(listed(credentials) == std::vector<std::string>{"turn udp 3478", "turn tcp 3478"});
  CHECK(condition_of(ask(alice, "localhost",
                         "<credentials xmlns='urn:xmpp:extdisco:2'><service host='elsewhere.net' type='turn'/>"
                         "</credentials>"),
                     kStanzaErrors) == "item-not-found");
  CHECK(condition_of(ask(alice, "localhost", "<credentials xmlns='urn:xmpp:extdisco:2'/>"), kStanzaErrors) ==
        "bad-request");
  CHECK(condition_of(ask(alice, "localhost", "<bogus xmlns='urn:xmpp:extdisco:2'/>"), kStanzaErrors) ==
        "bad-request");
  check_still_serving(server);
}

TEST_CASE("extdisco: without a secret only STUN; without a host nothing; disabled: service-unavailable") {
  {
    TestServer server(with_module("[modules.extdisco]\nturn_host = \"192.0.2.7\"\n"));
    server.add_user("alice@localhost", "secret");
    RawClient alice(server.starttls_port());
    alice.login("alice", "secret", "phone");
    CHECK(listed(ask(alice, "localhost", "<services xmlns='urn:xmpp:extdisco:2'/>")) ==
          std::vector<std::string>{"stun udp 3478"});
    CHECK(condition_of(ask(alice, "localhost",
                           "<credentials xmlns='urn:xmpp:extdisco:2'><service host='192.0.2.7' type='turn'/>"
                           "</credentials>"),
                       kStanzaErrors) == "item-not-found");
  }
  {
    TestServer server(with_module({}));
    server.add_user("alice@localhost", "secret");
    RawClient alice(server.starttls_port());
    alice.login("alice", "secret", "phone");
    xml::Element none = ask(alice, "localhost", "<services xmlns='urn:xmpp:extdisco:2'/>");
    CHECK(none.attr("type") == "result");
    CHECK(listed(none).empty());
  }
  {
    ServerOptions options;
    options.modules = {"disco", "ping"};
    options.extra_config = kTurnConfig;
    TestServer server(options);
    server.add_user("alice@localhost", "secret");
    RawClient alice(server.starttls_port());
    alice.login("alice", "secret", "phone");
    CHECK(condition_of(ask(alice, "localhost", "<services xmlns='urn:xmpp:extdisco:2'/>"), kStanzaErrors) ==
          "service-unavailable");
  }
}

TEST_CASE("extdisco: a bad option is a config error naming the file and line") {
  ServerOptions options;
  options.modules = {"disco", "extdisco"};
  options.extra_config = "[modules.extdisco]\nturn_port = 70000\n";
  options.start = false;
  TestServer server(options);
  std::string output;
  CHECK(server.parleyctl({"check-config"}, output) == 2);
  CAPTURE(output);
  CHECK(output.find("parley.toml:") != std::string::npos);
  CHECK(output.find("turn_port") != std::string::npos);
}
