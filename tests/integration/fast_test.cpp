// XEP-0484 FAST: a token obtained with a password login, then logins with it
// in one round trip (HT-SHA-256 mechanisms, draft-ietf-kitten-sasl-ht), and
// everything that ends a token.
#include <doctest/doctest.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <chrono>
#include <ctime>
#include <thread>

#include "core/base64.hpp"
#include "harness/raw_client.hpp"
#include "harness/test_server.hpp"
#include "store/pg_sync.hpp"
#include "test_util.hpp"
#include "xmpp/sasl/scram_client.hpp"

using namespace parley;
using namespace parley::test;

namespace {

constexpr std::string_view kSasl2 = "urn:xmpp:sasl:2";
constexpr std::string_view kBind2 = "urn:xmpp:bind:0";
constexpr std::string_view kFast = "urn:xmpp:fast:0";
const std::string kAgent = "5e4d2a52-8f0c-4d6f-9a55-7a1d3c0b2f61";

std::string b64(std::string_view data) { return core::base64_encode(data); }

// Computed here with OpenSSL directly, not with the server's code.
std::string hmac_sha256(const std::string& key, const std::string& data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(data.data()),
       data.size(), out, &size);
  return std::string(reinterpret_cast<char*>(out), size);
}

std::string user_agent(const std::string& id) {
  return id.empty() ? std::string() : "<user-agent id='" + id + "'><software>fast test</software></user-agent>";
}

const xml::Element* fast_offer(const xml::Element& features) {
  const xml::Element* authentication = features.first_child("authentication", kSasl2);
  if (!authentication) return nullptr;
  const xml::Element* inline_features = authentication->first_child("inline", kSasl2);
  return inline_features ? inline_features->first_child("fast", kFast) : nullptr;
}

std::vector<std::string> offered(const xml::Element& features) {
  std::vector<std::string> out;
  if (const xml::Element* fast = fast_offer(features)) {
    for (const xml::Element& m : fast->children()) out.push_back(m.text());
  }
  return out;
}

// A SCRAM-SHA-256 password login over SASL2 asking for a token; returns <success/>.
xml::Element password_login(RawClient& client, const std::string& user, const std::string& password,
                            const std::string& token_mechanism, const std::string& agent = kAgent) {
  client.open_stream();
  client.starttls();
  xmpp::sasl::ScramClient scram(xmpp::sasl::ScramHash::Sha256, user, password);
  client.send("<authenticate xmlns='urn:xmpp:sasl:2' mechanism='SCRAM-SHA-256'><initial-response>" +
              b64(scram.first_message()) + "</initial-response>" + user_agent(agent) +
              "<bind xmlns='urn:xmpp:bind:0'><tag>fast</tag></bind><request-token xmlns='urn:xmpp:fast:0' mechanism='" +
              token_mechanism + "'/></authenticate>");
  std::optional<xml::Element> challenge = client.next();
  REQUIRE(challenge);
  REQUIRE(challenge->name() == "challenge");
  std::optional<std::string> final_message = scram.final_message(core::base64_decode(challenge->text()).value_or(""));
  REQUIRE(final_message);
  client.send("<response xmlns='urn:xmpp:sasl:2'>" + b64(*final_message) + "</response>");
  std::optional<xml::Element> outcome = client.next();
  REQUIRE(outcome);
  return *outcome;
}

struct Issued {
  std::string token;
  std::string expiry;
};

Issued token_of(const xml::Element& success) {
  const xml::Element* token = success.first_child("token", kFast);
  REQUIRE(token);
  return {std::string(token->attr("token")), std::string(token->attr("expiry"))};
}

struct FastOutcome {
  xml::Element element;
  std::string expected_responder;  // HMAC(token, "Responder" || cb)
};

// One FAST login on a fresh stream: authenticate with the token and nothing else.
FastOutcome fast_login(RawClient& client, const std::string& user, const std::string& token,
                       const std::string& mechanism, const std::string& agent = kAgent,
                       const std::string& fast_attrs = {}) {
  client.open_stream();
  client.starttls();
  std::string cb;
  if (mechanism == "HT-SHA-256-EXPR") cb = client.channel_binding("tls-exporter").value_or("");
  if (mechanism == "HT-SHA-256-ENDP") cb = client.channel_binding("tls-server-end-point").value_or("");
  std::string initial = user + std::string(1, '\0') + hmac_sha256(token, "Initiator" + cb);
  client.send("<authenticate xmlns='urn:xmpp:sasl:2' mechanism='" + mechanism + "'><initial-response>" + b64(initial) +
              "</initial-response>" + user_agent(agent) + "<bind xmlns='urn:xmpp:bind:0'><tag>fast</tag></bind>" +
              "<fast xmlns='urn:xmpp:fast:0'" + fast_attrs + "/></authenticate>");
  std::optional<xml::Element> outcome = client.next();
  REQUIRE(outcome);
  return {*outcome, hmac_sha256(token, "Responder" + cb)};
}

std::string failure_condition(const xml::Element& failure) {
  if (failure.name() != "failure" || failure.children().empty()) return "(" + std::string(failure.name()) + ")";
  return std::string(failure.children().front().name());
}

std::vector<std::string> slots(TestServer& server, const std::string& user) {
  store::PgSync db(server.conninfo());
  REQUIRE(db.connected());
  store::PgResult r = db.exec("SELECT slot FROM fast_tokens WHERE username = $1 ORDER BY slot", {user});
  REQUIRE(r.ok);
  std::vector<std::string> out;
  for (const auto& row : r.rows) out.push_back(row[0].value_or(""));
  return out;
}

}  // namespace

TEST_CASE("FAST: a token from a password login logs in again in one round trip (XEP-0484)") {
  TestServer server;
  server.add_user("alice@localhost", "secret");

  RawClient first(server.starttls_port());
  first.open_stream();
  xml::Element features = first.starttls();
  CHECK(offered(features) == std::vector<std::string>{"HT-SHA-256-EXPR", "HT-SHA-256-ENDP", "HT-SHA-256-NONE"});
  // Tokens never go over an unencrypted stream: no offer before STARTTLS.
  RawClient plain(server.starttls_port());
  CHECK_FALSE(fast_offer(plain.open_stream()));

  RawClient login(server.starttls_port());
  xml::Element success = password_login(login, "alice", "secret", "HT-SHA-256-NONE");
  REQUIRE(success.name() == "success");
  CHECK(success.first_child("bound", kBind2));
  Issued issued = token_of(success);
  CHECK(issued.token.size() >= 40);
  // Default lifetime: 14 days (XEP-0082 DateTime).
  std::time_t in_14_days = std::time(nullptr) + 14 * 86400;
  std::tm utc{};
  gmtime_r(&in_14_days, &utc);
  char day[16];
  std::strftime(day, sizeof day, "%Y-%m-%d", &utc);
  CHECK(issued.expiry.rfind(day, 0) == 0);
  CHECK(slots(server, "alice") == std::vector<std::string>{"new"});

  // The next login: one <authenticate/>, then <success/> at once, bound.
  RawClient again(server.starttls_port());
  FastOutcome fast = fast_login(again, "alice", issued.token, "HT-SHA-256-NONE");
  REQUIRE(fast.element.name() == "success");
  const xml::Element* data = fast.element.first_child("additional-data", kSasl2);
  REQUIRE(data);
  CHECK(core::base64_decode(data->text()).value_or("") == fast.expected_responder);  // mutual authentication
  CHECK(fast.element.first_child("bound", kBind2));
  CHECK_FALSE(fast.element.first_child("token", kFast));  // a young token is not replaced
  CHECK(ping(again).attr("type") == "result");
  // The used token took the 'current' slot (written behind the login).
  CHECK(eventually([&] { return slots(server, "alice") == std::vector<std::string>{"current"}; }));

  // Channel-bound tokens: tls-exporter and tls-server-end-point.
  for (std::string mechanism : {"HT-SHA-256-EXPR", "HT-SHA-256-ENDP"}) {
    CAPTURE(mechanism);
    RawClient with_password(server.starttls_port());
    Issued bound_token = token_of(password_login(with_password, "alice", "secret", mechanism, mechanism));
    RawClient with_token(server.starttls_port());
    FastOutcome outcome = fast_login(with_token, "alice", bound_token.token, mechanism, mechanism);
    REQUIRE(outcome.element.name() == "success");
    CHECK(core::base64_decode(outcome.element.first_child("additional-data", kSasl2)->text()).value_or("") ==
          outcome.expected_responder);
  }
}

TEST_CASE("FAST: wrong tokens, other clients, other mechanisms and malformed requests are refused") {
  TestServer server;
  server.add_user("alice@localhost", "secret");
  RawClient login(server.starttls_port());
  Issued issued = token_of(password_login(login, "alice", "secret", "HT-SHA-256-NONE"));

  RawClient wrong(server.starttls_port());
  CHECK(failure_condition(fast_login(wrong, "alice", issued.token + "x", "HT-SHA-256-NONE").element) ==
        "not-authorized");
  RawClient other_client(server.starttls_port());
  CHECK(failure_condition(fast_login(other_client, "alice", issued.token, "HT-SHA-256-NONE", "another-device").element) ==
        "not-authorized");
  // XEP-0484 §6: a token works only with the mechanism it was issued for.
  RawClient other_mechanism(server.starttls_port());
  CHECK(failure_condition(fast_login(other_mechanism, "alice", issued.token, "HT-SHA-256-EXPR").element) ==
        "not-authorized");
  RawClient other_user(server.starttls_port());
  CHECK(failure_condition(fast_login(other_user, "bob", issued.token, "HT-SHA-256-NONE").element) == "not-authorized");
  RawClient no_agent(server.starttls_port());
  CHECK(failure_condition(fast_login(no_agent, "alice", issued.token, "HT-SHA-256-NONE", "").element) ==
        "malformed-request");
  RawClient long_agent(server.starttls_port());
  CHECK(failure_condition(
            fast_login(long_agent, "alice", issued.token, "HT-SHA-256-NONE", std::string(129, 'a')).element) ==
        "malformed-request");
  RawClient unknown(server.starttls_port());
  CHECK(failure_condition(fast_login(unknown, "alice", issued.token, "HT-SHA-1-NONE").element) == "invalid-mechanism");

  RawClient no_separator(server.starttls_port());
  no_separator.open_stream();
  no_separator.starttls();
  no_separator.send("<authenticate xmlns='urn:xmpp:sasl:2' mechanism='HT-SHA-256-NONE'><initial-response>" +
                    b64("alice") + "</initial-response>" + user_agent(kAgent) + "</authenticate>");
  std::optional<xml::Element> refused = no_separator.next();
  REQUIRE(refused);
  CHECK(failure_condition(*refused) == "malformed-request");

  // A refused request for a token: a mechanism not on offer gets no token.
  RawClient bad_request(server.starttls_port());
  xml::Element success = password_login(bad_request, "alice", "secret", "HT-MD5-NONE");
  REQUIRE(success.name() == "success");
  CHECK_FALSE(success.first_child("token", kFast));

  // The right token still works after all that.
  RawClient good(server.starttls_port());
  CHECK(fast_login(good, "alice", issued.token, "HT-SHA-256-NONE").element.name() == "success");
}

TEST_CASE("FAST: invalidation and a password change end tokens") {
  TestServer server;
  server.add_user("alice@localhost", "secret");

  RawClient login(server.starttls_port());
  Issued first = token_of(password_login(login, "alice", "secret", "HT-SHA-256-NONE"));
  RawClient invalidating(server.starttls_port());
  FastOutcome last_use = fast_login(invalidating, "alice", first.token, "HT-SHA-256-NONE", kAgent, " invalidate='true'");
  REQUIRE(last_use.element.name() == "success");
  CHECK_FALSE(last_use.element.first_child("token", kFast));  // §8: no new token unless asked
  CHECK(eventually([&] { return slots(server, "alice").empty(); }));  // deleted behind the login
  RawClient after(server.starttls_port());
  CHECK(failure_condition(fast_login(after, "alice", first.token, "HT-SHA-256-NONE").element) == "not-authorized");

  RawClient relogin(server.starttls_port());
  Issued second = token_of(password_login(relogin, "alice", "secret", "HT-SHA-256-NONE"));
  RawClient warm(server.starttls_port());
  REQUIRE(fast_login(warm, "alice", second.token, "HT-SHA-256-NONE").element.name() == "success");  // now in memory
  std::string out;
  REQUIRE(server.parleyctl({"user", "passwd", "alice@localhost"}, out, "changed\n") == 0);
  CHECK(slots(server, "alice").empty());
  bool refused = false;
  for (int i = 0; i < 50 && !refused; ++i) {  // parleyctl's NOTIFY reaches parleyd asynchronously
    RawClient attempt(server.starttls_port());
    refused = fast_login(attempt, "alice", second.token, "HT-SHA-256-NONE").element.name() == "failure";
    if (!refused) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  CHECK(refused);
}

TEST_CASE("FAST: tokens expire, are replaced in the second half of their life, and old ones end when the new is used") {
  ServerOptions options;
  options.extra_config = "[auth]\nfast_token_lifetime = \"4s\"\n";
  TestServer server(options);
  server.add_user("alice@localhost", "secret");

  RawClient login(server.starttls_port());
  Issued first = token_of(password_login(login, "alice", "secret", "HT-SHA-256-NONE"));
  std::this_thread::sleep_for(std::chrono::milliseconds(2500));  // past half of 4 s
  RawClient rotating(server.starttls_port());
  FastOutcome rotated = fast_login(rotating, "alice", first.token, "HT-SHA-256-NONE");
  REQUIRE(rotated.element.name() == "success");
  Issued second = token_of(rotated.element);  // §7: replaced without being asked
  CHECK(second.token != first.token);
  // Until the new one is used, the old one still works (the client may have missed it).
  RawClient old_still(server.starttls_port());
  CHECK(fast_login(old_still, "alice", first.token, "HT-SHA-256-NONE").element.name() == "success");
  RawClient uses_new(server.starttls_port());
  CHECK(fast_login(uses_new, "alice", second.token, "HT-SHA-256-NONE").element.name() == "success");
  RawClient old_gone(server.starttls_port());
  CHECK(failure_condition(fast_login(old_gone, "alice", first.token, "HT-SHA-256-NONE").element) == "not-authorized");

  std::this_thread::sleep_for(std::chrono::milliseconds(4200));
  RawClient expired(server.starttls_port());
  CHECK(failure_condition(fast_login(expired, "alice", second.token, "HT-SHA-256-NONE").element) == "not-authorized");
  CHECK(slots(server, "alice") == std::vector<std::string>{"current"});  // expired, still stored
  // A new token clears the account's expired ones.
  RawClient relogin(server.starttls_port());
  token_of(password_login(relogin, "alice", "secret", "HT-SHA-256-NONE", "another-device"));
  CHECK(slots(server, "alice") == std::vector<std::string>{"new"});
}

TEST_CASE("FAST is not offered when auth.fast_token_lifetime is 0") {
  ServerOptions options;
  options.extra_config = "[auth]\nfast_token_lifetime = 0\n";
  TestServer server(options);
  server.add_user("alice@localhost", "secret");
  RawClient client(server.starttls_port());
  client.open_stream();
  CHECK_FALSE(fast_offer(client.starttls()));
  RawClient login(server.starttls_port());
  xml::Element success = password_login(login, "alice", "secret", "HT-SHA-256-NONE");
  REQUIRE(success.name() == "success");
  CHECK_FALSE(success.first_child("token", kFast));
  RawClient attempt(server.starttls_port());
  CHECK(failure_condition(fast_login(attempt, "alice", "anything", "HT-SHA-256-NONE").element) == "invalid-mechanism");
}

TEST_CASE("FAST: wrong tokens count towards the login throttle like wrong passwords") {
  TestServer server;
  server.add_user("alice@localhost", "secret");
  RawClient login(server.starttls_port());
  Issued issued = token_of(password_login(login, "alice", "secret", "HT-SHA-256-NONE"));
  for (int i = 0; i < 5; ++i) {
    RawClient guess(server.starttls_port());
    CHECK(failure_condition(fast_login(guess, "alice", "guess" + std::to_string(i), "HT-SHA-256-NONE").element) ==
          "not-authorized");
  }
  RawClient throttled(server.starttls_port());
  xml::Element refused = fast_login(throttled, "alice", issued.token, "HT-SHA-256-NONE").element;
  CHECK(failure_condition(refused) == "temporary-auth-failure");
}
