// Local routing of messages, presence and IQs (RFC 6120 §8, RFC 6121 §8.5).
#include <doctest/doctest.h>

#include "harness/raw_client.hpp"
#include "harness/strophe_client.hpp"
#include "harness/test_server.hpp"
#include "test_util.hpp"

using namespace parley;
using namespace parley::test;

namespace {

struct Users {
  TestServer server;
  Users() {
    server.add_user("alice@localhost", "a");
    server.add_user("bob@localhost", "b");
  }
};

// Logs in and sends initial presence with a priority.
void online(RawClient& client, const std::string& user, const std::string& password, const std::string& resource,
            int priority) {
  client.login(user, password, resource);
  client.send("<presence><priority>" + std::to_string(priority) + "</priority></presence>");
}

// Round-trips a ping so that everything sent before has been routed.
void sync(RawClient& client) { ping(client); }

// alice@localhost/desk and bob@localhost/phone, both available at priority 0.
struct OnlinePair : Users {
  RawClient alice{server.starttls_port()};
  RawClient bob{server.starttls_port()};
  OnlinePair() {
    online(alice, "alice", "a", "desk", 0);
    online(bob, "bob", "b", "phone", 0);
    sync(bob);
  }
};

std::optional<xml::Element> next_message(RawClient& client, int timeout_ms = 3000) {
  return client.next_named("message", timeout_ms);
}

}  // namespace

TEST_CASE("a message to a full JID reaches that resource, with the sender's full JID") {
  OnlinePair u;
  RawClient& alice = u.alice;
  RawClient& bob = u.bob;
  alice.send("<message to='bob@localhost/phone' type='chat' id='m1'><body>hi &amp; &lt;bye&gt;</body></message>");
  std::optional<xml::Element> m = next_message(bob);
  REQUIRE(m);
  CHECK(m->attr("from") == "alice@localhost/desk");
  CHECK(m->attr("to") == "bob@localhost/phone");
  CHECK(m->attr("id") == "m1");
  REQUIRE(m->first_child("body"));
  CHECK(m->first_child("body")->text() == "hi & <bye>");
}

TEST_CASE("messages to a bare JID follow priorities (RFC 6121 §8.5.2.1)") {
  Users u;
  RawClient alice(u.server.starttls_port());
  RawClient high(u.server.starttls_port());
  RawClient low(u.server.starttls_port());
  RawClient negative(u.server.starttls_port());
  online(alice, "alice", "a", "desk", 0);
  online(high, "bob", "b", "high", 10);
  online(low, "bob", "b", "low", 1);
  online(negative, "bob", "b", "negative", -1);
  sync(high);
  sync(low);
  sync(negative);

  alice.send("<message to='bob@localhost' id='n1'><body>normal</body></message>");
  std::optional<xml::Element> normal = next_message(high);
  REQUIRE(normal);
  CHECK(normal->attr("id") == "n1");
  CHECK_FALSE(next_message(low, 300));

  alice.send("<message to='bob@localhost' type='chat' id='c1'><body>chat</body></message>");
  std::optional<xml::Element> chat_high = next_message(high);
  std::optional<xml::Element> chat_low = next_message(low);
  REQUIRE(chat_high);
  REQUIRE(chat_low);
  CHECK(chat_high->attr("id") == "c1");
  CHECK(chat_low->attr("id") == "c1");
  CHECK_FALSE(next_message(negative, 300));

  // A negative-priority resource still gets messages addressed to it.
  alice.send("<message to='bob@localhost/negative' type='chat' id='d1'><body>direct</body></message>");
  std::optional<xml::Element> direct = next_message(negative);
  REQUIRE(direct);
  CHECK(direct->attr("id") == "d1");
}

TEST_CASE("a message to a resource that is not online goes to the bare JID (RFC 6121 §8.5.3.2.1)") {
  OnlinePair u;
  RawClient& alice = u.alice;
  RawClient& bob = u.bob;
  alice.send("<message to='bob@localhost/gone' type='chat' id='g1'><body>x</body></message>");
  std::optional<xml::Element> m = next_message(bob);
  REQUIRE(m);
  CHECK(m->attr("id") == "g1");
}

TEST_CASE("messages for unknown or offline users bounce with service-unavailable") {
  Users u;
  RawClient alice(u.server.starttls_port());
  online(alice, "alice", "a", "desk", 0);
  for (const char* to : {"nobody@localhost", "bob@localhost", "bob@localhost/phone"}) {
    CAPTURE(to);
    alice.send(std::string("<message to='") + to + "' type='chat' id='x1'><body>hello?</body></message>");
    std::optional<xml::Element> error = next_message(alice);
    REQUIRE(error);
    CHECK(error->attr("type") == "error");
    CHECK(error->attr("from") == to);
    CHECK(error->attr("id") == "x1");
    CHECK(condition_of(*error, kStanzaErrors) == "service-unavailable");
  }
}

TEST_CASE("IQ rules: unknown namespace, missing id, wrong child count") {
  Users u;
  RawClient alice(u.server.starttls_port());
  online(alice, "alice", "a", "desk", 0);

  xml::Element unknown = ask(alice, "localhost", "<query xmlns='urn:example:unknown'/>");
  CHECK(unknown.attr("type") == "error");
  CHECK(condition_of(unknown, kStanzaErrors) == "service-unavailable");

  alice.send("<iq type='get' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>");
  std::optional<xml::Element> no_id = alice.next_named("iq");
  REQUIRE(no_id);
  CHECK(condition_of(*no_id, kStanzaErrors) == "bad-request");

  alice.send("<iq type='get' id='two' to='localhost'><ping xmlns='urn:xmpp:ping'/><x xmlns='y'/></iq>");
  std::optional<xml::Element> two = alice.next_named("iq");
  REQUIRE(two);
  CHECK(two->attr("id") == "two");
  CHECK(condition_of(*two, kStanzaErrors) == "bad-request");

  CHECK(condition_of(ask(alice, "localhost", "", "set"), kStanzaErrors) == "bad-request");
}

TEST_CASE("IQ results get no error, however malformed or misaddressed (RFC 6120 §8.2.3)") {
  Users u;
  RawClient alice(u.server.starttls_port());
  online(alice, "alice", "a", "desk", 0);
  alice.send("<iq type='result' id='r1' to='a@@localhost'/>");
  alice.send("<iq type='result' id='r2'><a xmlns='urn:a'/><b xmlns='urn:b'/></iq>");
  alice.send("<iq type='result'/>");
  alice.send("<iq type='result' id='r4' to='nobody@localhost/x'/>");
  alice.send("<iq type='get' id='after' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>");
  // The first IQ to arrive is the ping's answer: nothing answered the results.
  std::optional<xml::Element> first = alice.next_named("iq");
  REQUIRE(first);
  CHECK(first->attr("id") == "after");
  CHECK(first->attr("type") == "result");
}

TEST_CASE("IQs between full JIDs, and their results routed back") {
  OnlinePair u;
  RawClient& alice = u.alice;
  RawClient& bob = u.bob;
  alice.send("<iq type='get' id='v1' to='bob@localhost/phone'><query xmlns='jabber:iq:version'/></iq>");
  std::optional<xml::Element> request = bob.next_named("iq");
  REQUIRE(request);
  CHECK(request->attr("from") == "alice@localhost/desk");
  bob.send("<iq type='result' id='v1' to='alice@localhost/desk'><query xmlns='jabber:iq:version'><name>bobclient</name></query></iq>");
  std::optional<xml::Element> result = alice.next_named("iq");
  REQUIRE(result);
  CHECK(result->attr("type") == "result");
  CHECK(result->attr("from") == "bob@localhost/phone");
  CHECK(result->first_child("query")->first_child("name")->text() == "bobclient");

  xml::Element error = ask(alice, "bob@localhost/nothere", "<query xmlns='jabber:iq:version'/>");
  CHECK(condition_of(error, kStanzaErrors) == "service-unavailable");
}

TEST_CASE("directed presence reaches the resource; bad addresses are refused") {
  OnlinePair u;
  RawClient& alice = u.alice;
  RawClient& bob = u.bob;
  alice.send("<presence to='bob@localhost/phone'><show>away</show></presence>");
  std::optional<xml::Element> p = bob.next_named("presence");
  REQUIRE(p);
  CHECK(p->attr("from") == "alice@localhost/desk");
  CHECK(p->first_child("show")->text() == "away");

  alice.send("<message to='not a jid@@localhost' id='bad'><body>x</body></message>");
  std::optional<xml::Element> malformed = next_message(alice);
  REQUIRE(malformed);
  CHECK(condition_of(*malformed, kStanzaErrors) == "jid-malformed");

  alice.send("<message to='someone@remote.example' id='far'><body>x</body></message>");
  std::optional<xml::Element> far = next_message(alice);
  REQUIRE(far);
  CHECK(condition_of(*far, kStanzaErrors) == "remote-server-not-found");

  alice.send("<message from='bob@localhost/phone' to='bob@localhost'><body>spoof</body></message>");
  std::optional<xml::Element> error = alice.next_named("error");
  REQUIRE(error);
  CHECK(RawClient::stream_error_condition(*error) == "invalid-from");
}

TEST_CASE("two libstrophe clients chat") {
  Users u;
  StropheClient alice("alice@localhost/lib", "a", u.server.starttls_port());
  StropheClient bob("bob@localhost/lib", "b", u.server.starttls_port());
  REQUIRE(alice.connect());
  REQUIRE(bob.connect());
  bob.send("<presence/>");
  bob.pump(200);
  alice.send("<message to='bob@localhost' type='chat' id='s1'><body>from strophe</body></message>");
  auto m = bob.wait_for([](const xml::Element& e) { return e.name() == "message"; });
  REQUIRE(m);
  CHECK(m->attr("from") == "alice@localhost/lib");
  CHECK(m->first_child("body")->text() == "from strophe");
}
