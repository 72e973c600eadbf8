// XEP-0198 stream management for clients (acknowledgements, no resumption):
// negotiation, the counts on both sides, and what happens to stanzas a
// client never acknowledged when its session ends.
#include <doctest/doctest.h>

#include <chrono>
#include <thread>

#include "harness/raw_client.hpp"
#include "harness/test_server.hpp"
#include "store/pg_sync.hpp"
#include "test_util.hpp"

using namespace parley;
using namespace parley::test;

namespace {

constexpr std::string_view kSm = "urn:xmpp:sm:3";

TestServer make_server(const std::string& c2s_config = {}) {
  ServerOptions options;
  options.modules = {"disco", "ping", "offline", "version"};
  options.c2s_config = c2s_config;
  return TestServer(options);
}

// The next element that is not one of the server's <r/> requests.
std::optional<xml::Element> next_past_ack_requests(RawClient& client, int timeout_ms = 5000) {
  while (std::optional<xml::Element> e = client.next(timeout_ms)) {
    if (e->name() == "r" && e->ns() == kSm) continue;
    return e;
  }
  return std::nullopt;
}

void enable(RawClient& client) {
  client.send("<enable xmlns='urn:xmpp:sm:3'/>");
  std::optional<xml::Element> enabled = client.next();
  REQUIRE(enabled);
  CHECK(enabled->name() == "enabled");
  CHECK(enabled->ns() == kSm);
  CHECK(enabled->attr("resume").empty());  // resumption is not offered
}

// bob, and alice with stream management enabled and available.
struct AliceAndBob {
  TestServer server;
  RawClient bob;
  RawClient alice;
  explicit AliceAndBob(const std::string& c2s_config)
      : server(make_server(c2s_config)), bob(server.starttls_port()), alice(server.starttls_port()) {
    server.add_user("alice@localhost", "a");
    server.add_user("bob@localhost", "b");
    bob.login("bob", "b", "desk");
    alice.login("alice", "a", "phone");
    enable(alice);
    alice.send("<presence/>");
  }
};

std::vector<std::string> offline_bodies(TestServer& server, const std::string& user, const std::string& password) {
  RawClient again(server.starttls_port());
  again.login(user, password, "again");
  again.send("<presence/>");
  std::vector<std::string> bodies;
  while (std::optional<xml::Element> m = again.next_named("message", 1000)) {
    int delays = 0;
    for (const xml::Element& child : m->children()) delays += child.name() == "delay";
    CHECK(delays == 1);
    bodies.push_back(m->first_child("body") ? m->first_child("body")->text() : "");
  }
  return bodies;
}

// bob, and alice's desk (without stream management) available with `presence`;
// the tests add her phone.
struct BobAndAliceAtHerDesk {
  TestServer server;
  RawClient bob;
  RawClient desk;
  explicit BobAndAliceAtHerDesk(const std::string& presence)
      : server(make_server()), bob(server.starttls_port()), desk(server.starttls_port()) {
    server.add_user("alice@localhost", "a");
    server.add_user("bob@localhost", "b");
    bob.login("bob", "b", "home");
    desk.login("alice", "a", "desk");
    desk.send(presence);
    ping(desk);
  }
  // alice's phone, with stream management, available with `presence`.
  std::unique_ptr<RawClient> phone(const std::string& presence) {
    auto phone = std::make_unique<RawClient>(server.starttls_port());
    phone->login("alice", "a", "phone");
    enable(*phone);
    phone->send(presence);
    ping(*phone);
    return phone;
  }
  // The desk leaves too; nothing went to offline storage.
  void check_nothing_stored() {
    desk.send("</stream:stream>");
    CHECK(desk.wait_closed());
    CHECK(offline_bodies(server, "alice", "a").empty());
  }
};

}  // namespace

TEST_CASE("stream management: offered after authentication, enabled once after binding, counts both ways") {
  TestServer server = make_server();
  server.add_user("alice@localhost", "secret");
  RawClient client(server.starttls_port());
  client.open_stream();
  client.starttls();
  REQUIRE(client.authenticate("SCRAM-SHA-256", "alice", "secret").name() == "success");
  xml::Element features = client.open_stream();
  CHECK(features.first_child("sm", kSm));

  // XEP-0198 §3: not before a resource is bound.
  client.send("<enable xmlns='urn:xmpp:sm:3'/>");
  std::optional<xml::Element> early = client.next();
  REQUIRE(early);
  CHECK(early->name() == "failed");
  CHECK(early->first_child("unexpected-request"));

  // Sessions are not kept, so there is nothing to resume (XEP-0198 §5).
  client.send("<resume xmlns='urn:xmpp:sm:3' previd='some-id' h='0'/>");
  std::optional<xml::Element> resume = client.next();
  REQUIRE(resume);
  CHECK(resume->name() == "failed");
  CHECK(resume->first_child("feature-not-implemented"));

  client.send("<iq type='set' id='b1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>r</resource></bind></iq>");
  REQUIRE(client.next_named("iq"));
  enable(client);
  client.send("<enable xmlns='urn:xmpp:sm:3'/>");  // once only
  std::optional<xml::Element> twice = client.next();
  REQUIRE(twice);
  CHECK(twice->name() == "failed");

  // Two stanzas from the client (a ping and an IQ the server refuses) are
  // two handled.
  client.send("<iq type='get' id='p1' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>");
  client.send("<iq type='get' id='u1' to='localhost'><unknown xmlns='urn:example:nothing'/></iq>");
  client.send("<r xmlns='urn:xmpp:sm:3'/>");
  int results = 0;
  std::optional<xml::Element> a;
  int requests = 0;
  while (std::optional<xml::Element> e = client.next()) {
    if (e->name() == "r") ++requests;
    if (e->name() == "iq") ++results;
    if (e->name() == "a") {
      a = e;
      break;
    }
  }
  REQUIRE(a);
  CHECK(a->attr("h") == "2");
  CHECK(results == 2);    // the pong and the error
  CHECK(requests == 1);   // the server asks once until it hears back
  client.send("<a xmlns='urn:xmpp:sm:3' h='2'/>");

  // The server asks again for what it sends after an answer.
  client.send("<iq type='get' id='p2' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>");
  REQUIRE(client.next_named("iq"));
  std::optional<xml::Element> r = client.next();
  REQUIRE(r);
  CHECK(r->name() == "r");

  // More acknowledged than was sent (3 so far): a stream error that says so.
  client.send("<a xmlns='urn:xmpp:sm:3' h='9'/>");
  std::optional<xml::Element> error = client.next_named("error");
  REQUIRE(error);
  CHECK(RawClient::stream_error_condition(*error) == "undefined-condition");
  const xml::Element* detail = error->first_child("handled-count-too-high", kSm);
  REQUIRE(detail);
  CHECK(detail->attr("h") == "9");
  CHECK(detail->attr("send-count") == "3");
  CHECK(client.wait_closed());
  check_still_serving(server);
}

TEST_CASE("stream management: what the client did not acknowledge is not lost when its connection drops") {
  TestServer server = make_server();
  server.add_user("alice@localhost", "a");
  server.add_user("bob@localhost", "b");
  RawClient bob(server.starttls_port());
  bob.login("bob", "b", "desk");
  {
    RawClient alice(server.starttls_port());
    alice.login("alice", "a", "phone");
    enable(alice);
    alice.send("<presence/>");
    bob.send("<message to='alice@localhost' type='chat'><body>one</body></message>");
    std::optional<xml::Element> one = next_past_ack_requests(alice);
    REQUIRE(one);
    REQUIRE(one->name() == "message");
    alice.send("<a xmlns='urn:xmpp:sm:3' h='1'/>");  // "one" arrived

    bob.send("<message to='alice@localhost/phone' type='chat'><body>two</body></message>");
    bob.send("<iq type='get' id='v1' to='alice@localhost/phone'><query xmlns='jabber:iq:version'/></iq>");
    bob.send("<message to='alice@localhost/phone' type='headline'><body>news</body></message>");
    int seen = 0;
    while (seen < 3) {
      std::optional<xml::Element> e = next_past_ack_requests(alice);
      REQUIRE(e);
      ++seen;
    }
    // The connection ends without a word; nothing after "one" was acknowledged.
  }
  // The IQ request is answered as for a resource that is gone (RFC 6121 §8.5.3.2.3).
  std::optional<xml::Element> answer = bob.next_named("iq");
  REQUIRE(answer);
  CHECK(answer->attr("id") == "v1");
  CHECK(answer->attr("type") == "error");
  CHECK(condition_of(*answer, kStanzaErrors) == "service-unavailable");
  // alice had no other resource: "two" went to offline storage. "one" was
  // acknowledged.
  CHECK(offline_bodies(server, "alice", "a") == std::vector<std::string>{"two"});
}

TEST_CASE("stream management: with another resource online, nothing is stored or delivered twice") {
  BobAndAliceAtHerDesk u("<presence/>");
  RawClient& bob = u.bob;
  RawClient& desk = u.desk;
  {
    std::unique_ptr<RawClient> phone_owner = u.phone("<presence/>");
    RawClient& phone = *phone_owner;
    bob.send("<message to='alice@localhost' type='chat' id='both'><body>to both</body></message>");
    bob.send("<message to='alice@localhost/phone' type='chat' id='one'><body>phone only</body></message>");
    std::optional<xml::Element> first = phone.next_named("message");
    std::optional<xml::Element> second = phone.next_named("message");
    REQUIRE(first);
    REQUIRE(second);
  }
  // The sender learns that the message for the phone alone did not arrive.
  std::optional<xml::Element> refused = bob.next_named("message");
  REQUIRE(refused);
  CHECK(refused->attr("id") == "one");
  CHECK(refused->attr("type") == "error");
  CHECK(condition_of(*refused, kStanzaErrors) == "recipient-unavailable");
  // The desk got "to both" once, as it was sent, and not again.
  std::vector<std::string> at_desk;
  ping(desk, "localhost", Others::Kept);
  while (std::optional<xml::Element> m = desk.next(300)) {
    if (m->name() == "message") at_desk.push_back(m->first_child("body")->text());
  }
  CHECK(at_desk == std::vector<std::string>{"to both"});
  u.check_nothing_stored();
}

TEST_CASE("stream management: a normal message only the lost resource got, by its priority, goes to the next one") {
  BobAndAliceAtHerDesk u("<presence><priority>1</priority></presence>");
  RawClient& bob = u.bob;
  RawClient& desk = u.desk;
  {
    std::unique_ptr<RawClient> phone_owner = u.phone("<presence><priority>5</priority></presence>");
    RawClient& phone = *phone_owner;
    // RFC 6121 §8.5.2.1.1: a normal message to the bare JID goes to the
    // highest priority only; a chat message to every resource.
    bob.send("<message to='alice@localhost' id='normal'><body>for the top resource</body></message>");
    bob.send("<message to='alice@localhost' type='chat' id='chat'><body>for all</body></message>");
    REQUIRE(phone.next_named("message"));
    REQUIRE(phone.next_named("message"));
  }
  std::vector<std::string> at_desk;
  while (std::optional<xml::Element> m = desk.next_named("message", 1000)) at_desk.emplace_back(m->attr("id"));
  CHECK(at_desk == std::vector<std::string>{"chat", "normal"});
  CHECK_FALSE(bob.next_named("message", 300));  // no error: it arrived
  u.check_nothing_stored();
}

TEST_CASE("stream management: an ack request unanswered past c2s.sm_max_unacked for ping_timeout ends the session") {
  AliceAndBob u("sm_max_unacked = 3\nping_timeout = \"1s\"\n");
  for (int i = 1; i <= 5; ++i) {
    u.bob.send("<message to='alice@localhost' type='chat'><body>m" + std::to_string(i) + "</body></message>");
  }
  std::optional<xml::Element> error = u.alice.next_named("error", 5000);
  REQUIRE(error);
  CHECK(RawClient::stream_error_condition(*error) == "resource-constraint");
  CHECK(u.alice.wait_closed());
  CHECK(offline_bodies(u.server, "alice", "a") == std::vector<std::string>{"m1", "m2", "m3", "m4", "m5"});
}

TEST_CASE("stream management: four times c2s.sm_max_unacked waiting drops the client at once") {
  AliceAndBob u("sm_max_unacked = 1\n");
  ping(u.alice);  // presence processed; the pong is the first unacknowledged stanza
  // In one write, so that the server routes all five in one turn: the last
  // reaches a session that is closing but still bound.
  std::string five;
  for (int i = 1; i <= 5; ++i) five += "<message to='alice@localhost' type='chat'><body>m" + std::to_string(i) + "</body></message>";
  u.bob.send(five);
  CHECK(u.alice.wait_closed(3000));  // at once, not after ping_timeout (30 s)
  CHECK(offline_bodies(u.server, "alice", "a") == std::vector<std::string>{"m1", "m2", "m3", "m4", "m5"});
}

TEST_CASE("stream management: a mailbox larger than c2s.sm_max_unacked is delivered; unacknowledged, it is kept") {
  TestServer server = make_server("sm_max_unacked = 3\nping_timeout = \"1s\"\n");
  server.add_user("alice@localhost", "a");
  server.add_user("bob@localhost", "b");
  {
    RawClient bob(server.starttls_port());
    bob.login("bob", "b", "desk");
    for (int i = 1; i <= 5; ++i) {
      bob.send("<message to='alice@localhost' type='chat'><body>m" + std::to_string(i) + "</body></message>");
    }
    ping(bob);
  }
  auto read_mailbox = [](RawClient& alice) {
    int messages = 0;
    while (messages < 5) {
      std::optional<xml::Element> e = next_past_ack_requests(alice);
      REQUIRE(e);
      if (e->name() != "message") continue;
      ++messages;
      int delays = 0;
      for (const xml::Element& child : e->children()) delays += child.name() == "delay";
      CHECK(delays == 1);
    }
  };
  {
    // Delivered, then the connection dies before an acknowledgement: all five
    // are stored again, each with its first stamp only.
    RawClient alice(server.starttls_port());
    alice.login("alice", "a", "phone");
    enable(alice);
    alice.send("<presence/>");
    read_mailbox(alice);
  }
  store::PgSync db(server.conninfo());
  CHECK(eventually([&] { return *db.exec("SELECT count(*) FROM offline_messages", {}).at(0, 0) == "5"; }));
  RawClient alice(server.starttls_port());
  alice.login("alice", "a", "phone");
  enable(alice);
  alice.send("<presence/>");
  read_mailbox(alice);
  alice.send("<a xmlns='urn:xmpp:sm:3' h='5'/>");
  std::this_thread::sleep_for(std::chrono::milliseconds(2500));  // past ping_timeout
  CHECK(ping(alice).attr("type") == "result");  // acknowledged in time: still served
}

TEST_CASE("stream management: c2s.stream_management = false neither offers nor enables it") {
  TestServer server = make_server("stream_management = false\n");
  server.add_user("alice@localhost", "a");
  RawClient client(server.starttls_port());
  client.open_stream();
  client.starttls();
  REQUIRE(client.authenticate("SCRAM-SHA-256", "alice", "a").name() == "success");
  CHECK_FALSE(client.open_stream().first_child("sm", kSm));
  client.send("<iq type='set' id='b1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></iq>");
  REQUIRE(client.next_named("iq"));
  client.send("<enable xmlns='urn:xmpp:sm:3'/>");
  std::optional<xml::Element> failed = client.next();
  REQUIRE(failed);
  CHECK(failed->name() == "failed");
}

TEST_CASE("stream management: at shutdown a message no resource acknowledged is stored once, not once per resource") {
  TestServer server = make_server();
  server.add_user("alice@localhost", "a");
  server.add_user("bob@localhost", "b");
  RawClient bob(server.starttls_port());
  bob.login("bob", "b", "desk");
  std::vector<std::unique_ptr<RawClient>> resources;
  for (int i = 0; i < 3; ++i) {
    auto client = std::make_unique<RawClient>(server.starttls_port());
    client->login("alice", "a", "r" + std::to_string(i));
    enable(*client);
    client->send("<presence/>");
    ping(*client);
    resources.push_back(std::move(client));
  }
  bob.send("<message to='alice@localhost' type='chat'><body>in flight</body></message>");
  for (auto& client : resources) REQUIRE(client->next_named("message"));
  server.stop();  // SIGTERM: every session ends, none acknowledged the message
  for (auto& client : resources) {
    int copies = 0;
    while (std::optional<xml::Element> m = client->next_named("message", 500)) ++copies;
    CHECK(copies == 0);  // nothing re-sent to the resources still closing
  }
  resources.clear();
  server.start();
  CHECK(offline_bodies(server, "alice", "a") == std::vector<std::string>{"in flight"});
}
