// XEP-0388 SASL2 with XEP-0386 Bind 2: authentication and resource binding
// in one exchange, no stream restart.
#include <doctest/doctest.h>

#include <set>

#include "core/base64.hpp"
#include "harness/raw_client.hpp"
#include "harness/test_server.hpp"
#include "test_util.hpp"
#include "xmpp/sasl/scram_client.hpp"

using namespace parley;
using namespace parley::test;

namespace {

constexpr std::string_view kSasl2 = "urn:xmpp:sasl:2";
constexpr std::string_view kBind2 = "urn:xmpp:bind:0";

std::string b64(std::string_view data) { return core::base64_encode(data); }

std::string authenticate(const std::string& mechanism, const std::string& initial, const std::string& inline_xml) {
  return "<authenticate xmlns='urn:xmpp:sasl:2' mechanism='" + mechanism + "'><initial-response>" + b64(initial) +
         "</initial-response><user-agent id='d4565fa7-4d72-4749-b3d3-740edbf87770'><software>test</software>"
         "</user-agent>" + inline_xml + "</authenticate>";
}

// Features after STARTTLS, with the SASL2 feature checked.
void open_with_sasl2(RawClient& client) {
  client.open_stream();
  xml::Element features = client.starttls();
  const xml::Element* authentication = features.first_child("authentication", kSasl2);
  REQUIRE(authentication);
  bool scram = false;
  for (const xml::Element& m : authentication->children()) scram |= m.text() == "SCRAM-SHA-256";
  CHECK(scram);
  const xml::Element* inline_features = authentication->first_child("inline", kSasl2);
  REQUIRE(inline_features);
  CHECK(inline_features->first_child("bind", kBind2));
}

// A SCRAM-SHA-256 exchange over SASL2; returns the final element.
xml::Element scram_sasl2(RawClient& client, const std::string& user, const std::string& password,
                         const std::string& inline_xml) {
  xmpp::sasl::ScramClient scram(xmpp::sasl::ScramHash::Sha256, user, password);
  client.send(authenticate("SCRAM-SHA-256", scram.first_message(), inline_xml));
  std::optional<xml::Element> challenge = client.next();
  REQUIRE(challenge);
  if (challenge->name() != "challenge") return *challenge;
  CHECK(challenge->ns() == kSasl2);
  std::optional<std::string> final_message = scram.final_message(core::base64_decode(challenge->text()).value_or(""));
  REQUIRE(final_message);
  client.send("<response xmlns='urn:xmpp:sasl:2'>" + b64(*final_message) + "</response>");
  std::optional<xml::Element> outcome = client.next();
  REQUIRE(outcome);
  if (outcome->name() == "success") {
    const xml::Element* data = outcome->first_child("additional-data", kSasl2);
    REQUIRE(data);
    CHECK(scram.verify_server_final(core::base64_decode(data->text()).value_or("")));
  }
  return *outcome;
}

// Opens the stream and starts TLS; the namespaces of the features a client
// may request inside its Bind2 request (XEP-0386 §3), or nullopt when the
// offer lists none.
std::optional<std::set<std::string>> bind2_inline_features(RawClient& client) {
  client.open_stream();
  xml::Element features = client.starttls();
  const xml::Element* authentication = features.first_child("authentication", kSasl2);
  REQUIRE(authentication);
  const xml::Element* bind = authentication->first_child("inline", kSasl2)->first_child("bind", kBind2);
  REQUIRE(bind);
  const xml::Element* offered = bind->first_child("inline", kBind2);
  if (!offered) return std::nullopt;
  std::set<std::string> vars;
  for (const xml::Element& feature : offered->children()) vars.insert(std::string(feature.attr("var")));
  return vars;
}

}  // namespace

TEST_CASE("SASL2 with Bind2 authenticates and binds in one exchange, without a stream restart") {
  TestServer server;
  server.add_user("alice@localhost", "secret");
  server.add_user("bob@localhost", "other");
  RawClient bob(server.starttls_port());
  bob.login("bob", "other", "desk");

  RawClient client(server.starttls_port());
  open_with_sasl2(client);
  xml::Element success = scram_sasl2(client, "alice", "secret", "<bind xmlns='urn:xmpp:bind:0'><tag>Phone</tag></bind>");
  REQUIRE(success.name() == "success");
  CHECK(success.ns() == kSasl2);
  CHECK(success.first_child("bound", kBind2));
  const xml::Element* identifier = success.first_child("authorization-identifier", kSasl2);
  REQUIRE(identifier);
  std::string full = identifier->text();
  CHECK(full.rfind("alice@localhost/Phone.", 0) == 0);
  CHECK(full.size() > std::string("alice@localhost/Phone.").size());

  // Bound at once: stanzas flow on the same stream, routed with that JID.
  CHECK(ping(client).attr("type") == "result");
  CHECK(client.tls_tickets_received() == 1);  // sent behind the success
  client.send("<message to='bob@localhost/desk' type='chat'><body>hi</body></message>");
  std::optional<xml::Element> message = bob.next_named("message");
  REQUIRE(message);
  CHECK(message->attr("from") == full);
  // A second bind is refused like after RFC 6120 binding.
  xml::Element again = ask(client, "", "<bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/>", "set");
  CHECK(condition_of(again, kStanzaErrors) == "not-allowed");
}

TEST_CASE("SASL2 without Bind2 leaves binding to the client; failures are SASL2 failures") {
  TestServer server;
  server.add_user("alice@localhost", "secret");
  RawClient client(server.starttls_port());
  open_with_sasl2(client);

  xml::Element failure = scram_sasl2(client, "alice", "wrong", "");
  CHECK(failure.name() == "failure");
  CHECK(failure.ns() == kSasl2);
  CHECK(condition_of(failure, kSasl) == "not-authorized");

  client.send(authenticate("NO-SUCH-MECH", "x", ""));
  std::optional<xml::Element> invalid = client.next();
  REQUIRE(invalid);
  CHECK(invalid->ns() == kSasl2);
  CHECK(condition_of(*invalid, kSasl) == "invalid-mechanism");

  client.send("<response xmlns='urn:xmpp:sasl:2'>AAAA</response>");
  std::optional<xml::Element> stray = client.next();
  REQUIRE(stray);
  CHECK(stray->name() == "failure");
  CHECK(condition_of(*stray, kSasl) == "malformed-request");

  xml::Element success = scram_sasl2(client, "alice", "secret", "");
  REQUIRE(success.name() == "success");
  CHECK_FALSE(success.first_child("bound", kBind2));
  CHECK(success.first_child("authorization-identifier", kSasl2)->text() == "alice@localhost");
  xml::Element bound = ask(client, "", "<bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>r</resource></bind>",
                           "set");
  CHECK(bound.attr("type") == "result");
  CHECK(bound.first_child("bind")->first_child("jid")->text() == "alice@localhost/r");
}

TEST_CASE("SASL2 is not offered before TLS and is refused there") {
  TestServer server;
  server.add_user("alice@localhost", "secret");
  RawClient client(server.starttls_port());
  xml::Element features = client.open_stream();
  CHECK_FALSE(features.first_child("authentication", kSasl2));
  client.send(authenticate("PLAIN", std::string("\0alice\0secret", 13), ""));
  std::optional<xml::Element> refused = client.next();
  REQUIRE(refused);
  CHECK(refused->ns() == kSasl2);
  CHECK(condition_of(*refused, kSasl) == "encryption-required");
}

TEST_CASE("Bind2 enables stream management inline (XEP-0386, XEP-0198)") {
  TestServer server;
  server.add_user("alice@localhost", "secret");
  RawClient client(server.starttls_port());
  std::optional<std::set<std::string>> offered = bind2_inline_features(client);
  REQUIRE(offered);
  CHECK(offered->count("urn:xmpp:sm:3"));

  xml::Element success = scram_sasl2(client, "alice", "secret",
                                     "<bind xmlns='urn:xmpp:bind:0'><tag>Phone</tag><enable xmlns='urn:xmpp:sm:3'/></bind>");
  REQUIRE(success.name() == "success");
  const xml::Element* bound = success.first_child("bound", kBind2);
  REQUIRE(bound);
  CHECK(bound->first_child("enabled", "urn:xmpp:sm:3"));
  // Counting started with the success: one ping is one stanza handled.
  CHECK(ping(client).attr("type") == "result");
  client.send("<r xmlns='urn:xmpp:sm:3'/>");
  std::optional<xml::Element> a = client.next_named("a");
  REQUIRE(a);
  CHECK(a->attr("h") == "1");
}

TEST_CASE("Bind2 enables carbons and sets the client inactive inline (XEP-0386, XEP-0280, XEP-0352)") {
  ServerOptions options;
  options.modules = {"disco", "ping", "carbons", "csi"};
  TestServer server(options);
  server.add_user("alice@localhost", "secret");
  server.add_user("bob@localhost", "b");
  RawClient phone(server.starttls_port());
  CHECK(bind2_inline_features(phone) ==
        std::set<std::string>{"urn:xmpp:carbons:2", "urn:xmpp:csi:0", "urn:xmpp:sm:3"});

  xml::Element success = scram_sasl2(phone, "alice", "secret",
                                     "<bind xmlns='urn:xmpp:bind:0'><tag>Phone</tag>"
                                     "<enable xmlns='urn:xmpp:carbons:2'/><inactive xmlns='urn:xmpp:csi:0'/></bind>");
  REQUIRE(success.name() == "success");
  const xml::Element* bound = success.first_child("bound", kBind2);
  REQUIRE(bound);
  CHECK(bound->element_count() == 0);  // neither feature has an answer there
  std::string phone_jid = success.first_child("authorization-identifier", kSasl2)->text();
  phone.send("<presence/>");

  RawClient desk(server.starttls_port());
  desk.login("alice", "secret", "desk");
  RawClient bob(server.starttls_port());
  bob.login("bob", "b", "b");
  // The phone is inactive: bob's presence waits ...
  bob.send("<presence to='" + phone_jid + "'><show>away</show></presence>");
  REQUIRE(ping(bob).attr("type") == "result");
  CHECK_FALSE(phone.next(500));
  // ... until the carbon of what the desk sends, which the phone gets because
  // carbons were enabled inline.
  desk.send("<message type='chat' to='bob@localhost'><body>from the desk</body></message>");
  std::optional<xml::Element> held = phone.next();
  REQUIRE(held);
  CHECK(held->name() == "presence");
  std::optional<xml::Element> carbon = phone.next();
  REQUIRE(carbon);
  CHECK(carbon->first_child("sent", "urn:xmpp:carbons:2"));
}

TEST_CASE("Bind2 lists no inline features when no module and no stream management offers one") {
  ServerOptions options;
  options.modules = {"disco", "ping"};
  options.c2s_config = "stream_management = false\n";
  TestServer server(options);
  RawClient client(server.starttls_port());
  CHECK_FALSE(bind2_inline_features(client));
}
