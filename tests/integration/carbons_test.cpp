// XEP-0280 Message Carbons: which of a user's resources get copies of what
// the others send and receive, and what is never copied.
#include <doctest/doctest.h>

#include "harness/raw_client.hpp"
#include "harness/test_server.hpp"
#include "test_util.hpp"

using namespace parley;
using namespace parley::test;

namespace {

constexpr std::string_view kCarbonsNs = "urn:xmpp:carbons:2";
constexpr std::string_view kForwardNs = "urn:xmpp:forward:0";

struct Users {
  TestServer server{[] {
    ServerOptions options;
    options.modules = {"disco", "ping", "carbons", "blocking", "offline"};
    return options;
  }()};
  Users() {
    server.add_user("alice@localhost", "a");
    server.add_user("bob@localhost", "b");
  }
};

std::unique_ptr<RawClient> online(Users& u, const std::string& user, const std::string& resource,
                                  const std::string& presence = "<presence/>") {
  auto client = std::make_unique<RawClient>(u.server.starttls_port());
  client->login(user, user == "alice" ? "a" : "b", resource);
  client->send(presence);
  ping(*client);
  return client;
}

xml::Element carbons(RawClient& client, std::string_view action) {
  return ask(client, "", "<" + std::string(action) + " xmlns='urn:xmpp:carbons:2'/>", "set");
}

// The message inside a carbon of `direction` (sent/received), after checking
// the wrapper's addressing (XEP-0280 §7, §8).
xml::Element unwrap(const xml::Element& carbon, std::string_view direction, const std::string& to) {
  CHECK(carbon.name() == "message");
  CHECK(carbon.attr("from") == "alice@localhost");
  CHECK(carbon.attr("to") == to);
  const xml::Element* wrapper = carbon.first_child(direction, kCarbonsNs);
  REQUIRE(wrapper);
  const xml::Element* forwarded = wrapper->first_child("forwarded", kForwardNs);
  REQUIRE(forwarded);
  const xml::Element* inner = forwarded->first_child("message", "jabber:client");
  REQUIRE(inner);
  return *inner;
}

// The messages `client` got before the answer to a ping it sends now. Call
// it once the server has routed what is being checked: a copy is written in
// the same turn as the original, so it would be queued before the pong.
std::vector<xml::Element> messages_so_far(RawClient& client) {
  ping(client, "localhost", Others::Kept);
  std::vector<xml::Element> messages;
  while (std::optional<xml::Element> e = client.next(200)) {
    if (e->name() == "message") messages.push_back(std::move(*e));
  }
  return messages;
}

std::string body_of(const xml::Element& message) {
  const xml::Element* body = message.first_child("body");
  return body ? body->text() : std::string();
}

// The one message `client` got so far is the original with this body, not a copy.
void got_the_original(RawClient& client, const std::string& body) {
  std::vector<xml::Element> got = messages_so_far(client);
  REQUIRE(got.size() == 1);
  CHECK_FALSE(got[0].first_child("received", kCarbonsNs));
  CHECK_FALSE(got[0].first_child("sent", kCarbonsNs));
  CHECK(body_of(got[0]) == body);
}

// The one message `client` (this full JID) got so far is a <received/> copy of one with this body.
void got_a_received_copy(RawClient& client, const std::string& jid, const std::string& body) {
  std::vector<xml::Element> got = messages_so_far(client);
  REQUIRE(got.size() == 1);
  CHECK(body_of(unwrap(got[0], "received", jid)) == body);
}

}  // namespace

TEST_CASE("carbons: announced in disco, enabled and disabled per resource, refused for others") {
  Users u;
  auto desk = online(u, "alice", "desk");
  xml::Element info = ask(*desk, "localhost", "<query xmlns='http://jabber.org/protocol/disco#info'/>");
  bool announced = false;
  for (const xml::Element& f : info.first_child("query")->children()) announced |= f.attr("var") == kCarbonsNs;
  CHECK(announced);

  CHECK(carbons(*desk, "enable").attr("type") == "result");
  CHECK(carbons(*desk, "enable").attr("type") == "result");  // twice is no error (§10.1)
  CHECK(carbons(*desk, "disable").attr("type") == "result");
  CHECK(carbons(*desk, "disable").attr("type") == "result");

  xml::Element bad = carbons(*desk, "switch-on");
  CHECK(bad.attr("type") == "error");
  CHECK(condition_of(bad, kStanzaErrors) == "bad-request");

  // Not for someone else's account.
  xml::Element other = ask(*desk, "bob@localhost", "<enable xmlns='urn:xmpp:carbons:2'/>", "set");
  CHECK(other.attr("type") == "error");
  CHECK(condition_of(other, kStanzaErrors) == "service-unavailable");
}

TEST_CASE("carbons: another host of the same server does not enable them for a user it does not serve") {
  ServerOptions options;
  options.hosts = {"localhost", "other.test"};
  options.modules = {"ping", "carbons"};
  TestServer server(options);
  server.add_user("alice@localhost", "a");
  RawClient alice(server.starttls_port());
  alice.login("alice", "a", "desk");
  xml::Element refused = ask(alice, "other.test", "<enable xmlns='urn:xmpp:carbons:2'/>", "set");
  CHECK(refused.attr("type") == "error");
  CHECK(condition_of(refused, kStanzaErrors) == "not-allowed");  // XEP-0280 §4.1
}

TEST_CASE("carbons: a message one resource sends is copied to the others that enabled carbons") {
  Users u;
  auto phone = online(u, "alice", "phone");
  auto desk = online(u, "alice", "desk");
  auto tablet = online(u, "alice", "tablet");  // never enables carbons
  auto bob = online(u, "bob", "home");
  REQUIRE(carbons(*desk, "enable").attr("type") == "result");
  REQUIRE(carbons(*phone, "enable").attr("type") == "result");

  phone->send("<message to='bob@localhost/home' type='chat' id='m1'><body>hi &amp; bye</body></message>");
  std::optional<xml::Element> original = bob->next_named("message");
  REQUIRE(original);
  CHECK(body_of(*original) == "hi & bye");

  std::vector<xml::Element> at_desk = messages_so_far(*desk);
  REQUIRE(at_desk.size() == 1);
  CHECK(at_desk[0].attr("type") == "chat");
  xml::Element inner = unwrap(at_desk[0], "sent", "alice@localhost/desk");
  CHECK(inner.attr("from") == "alice@localhost/phone");
  CHECK(inner.attr("to") == "bob@localhost/home");
  CHECK(inner.attr("id") == "m1");
  CHECK(body_of(inner) == "hi & bye");

  CHECK(messages_so_far(*phone).empty());   // not back to the sender (§8)
  CHECK(messages_so_far(*tablet).empty());  // did not enable carbons

  // Disabled again: no more copies.
  REQUIRE(carbons(*desk, "disable").attr("type") == "result");
  phone->send("<message to='bob@localhost' type='chat'><body>two</body></message>");
  REQUIRE(bob->next_named("message"));
  CHECK(messages_so_far(*desk).empty());
}

TEST_CASE("carbons: a received message is copied to the enabled resources that did not get it") {
  Users u;
  auto phone = online(u, "alice", "phone");
  auto desk = online(u, "alice", "desk");
  auto away = online(u, "alice", "away", "<presence><priority>-1</priority></presence>");
  auto bob = online(u, "bob", "home");
  for (RawClient* c : {desk.get(), away.get()}) REQUIRE(carbons(*c, "enable").attr("type") == "result");

  SUBCASE("to a full JID: the addressed resource gets the message, the others a <received/> copy") {
    bob->send("<message to='alice@localhost/phone' type='chat' id='r1'><body>for the phone</body></message>");
    REQUIRE(phone->next_named("message"));
    for (auto [client, jid] : {std::pair{desk.get(), "alice@localhost/desk"}, {away.get(), "alice@localhost/away"}}) {
      std::vector<xml::Element> got = messages_so_far(*client);
      REQUIRE(got.size() == 1);
      xml::Element inner = unwrap(got[0], "received", jid);
      CHECK(inner.attr("from") == "bob@localhost/home");
      CHECK(inner.attr("to") == "alice@localhost/phone");
      CHECK(body_of(inner) == "for the phone");
    }
  }
  SUBCASE("a chat to the bare JID reaches every non-negative resource itself; only the negative one gets a copy") {
    bob->send("<message to='alice@localhost' type='chat'><body>to all</body></message>");
    REQUIRE(phone->next_named("message"));
    got_the_original(*desk, "to all");
    got_a_received_copy(*away, "alice@localhost/away", "to all");
  }
  SUBCASE("a full JID that is offline is delivered as to the bare JID, copies as for it") {
    bob->send("<message to='alice@localhost/gone' type='chat'><body>left?</body></message>");
    REQUIRE(phone->next_named("message"));
    got_the_original(*desk, "left?");
    got_a_received_copy(*away, "alice@localhost/away", "left?");
  }
}

TEST_CASE("carbons: what is never copied") {
  Users u;
  auto phone = online(u, "alice", "phone");
  auto desk = online(u, "alice", "desk");
  auto bob = online(u, "bob", "home");
  REQUIRE(carbons(*desk, "enable").attr("type") == "result");

  // Sent by alice's phone, received from bob for the phone: none of these
  // gets a copy. Each is followed by a marker chat that does, so that the
  // desk's only message shows nothing came before it.
  const char* uncopied[] = {
      "<message type='chat'><body>secret</body><private xmlns='urn:xmpp:carbons:2'/></message>",
      "<message type='chat'><body>hint</body><no-copy xmlns='urn:xmpp:hints'/></message>",
      "<message type='normal'><subject>no body</subject></message>",
      "<message type='headline'><body>news</body></message>",
  };
  for (const char* stanza : uncopied) {
    CAPTURE(stanza);
    std::string outgoing(stanza);
    outgoing.insert(std::string("<message").size(), " to='bob@localhost/home'");
    phone->send(outgoing);
    REQUIRE(bob->next_named("message"));
    std::string incoming(stanza);
    incoming.insert(std::string("<message").size(), " to='alice@localhost/phone'");
    bob->send(incoming);
    std::optional<xml::Element> at_phone = phone->next_named("message");
    REQUIRE(at_phone);
    // XEP-0280 §9: the recipient's server removes <private/>.
    CHECK_FALSE(at_phone->first_child("private", kCarbonsNs));
    CHECK(messages_so_far(*desk).empty());
  }

  // A message between alice's own resources is no conversation to copy.
  phone->send("<message to='alice@localhost/desk' type='chat'><body>note to self</body></message>");
  std::vector<xml::Element> at_desk = messages_so_far(*desk);
  REQUIRE(at_desk.size() == 1);
  CHECK_FALSE(at_desk[0].first_child("sent", kCarbonsNs));
  CHECK_FALSE(at_desk[0].first_child("received", kCarbonsNs));

  // A normal message with a body is copied (XEP-0280 §6).
  phone->send("<message to='bob@localhost/home'><body>normal</body></message>");
  REQUIRE(bob->next_named("message"));
  at_desk = messages_so_far(*desk);
  REQUIRE(at_desk.size() == 1);
  CHECK(body_of(unwrap(at_desk[0], "sent", "alice@localhost/desk")) == "normal");

  // What a room sends one occupant (a private message, to the full JID) is
  // not copied (§6); the user's own private message to an occupant is.
  const std::string muc_x = "<x xmlns='http://jabber.org/protocol/muc#user'/>";
  bob->send("<message to='alice@localhost/phone' type='chat'><body>from a room</body>" + muc_x + "</message>");
  REQUIRE(phone->next_named("message"));
  CHECK(messages_so_far(*desk).empty());
  phone->send("<message to='bob@localhost/home' type='chat'><body>to an occupant</body>" + muc_x + "</message>");
  REQUIRE(bob->next_named("message"));
  at_desk = messages_so_far(*desk);
  REQUIRE(at_desk.size() == 1);
  CHECK(body_of(unwrap(at_desk[0], "sent", "alice@localhost/desk")) == "to an occupant");

  // Messages the block list refuses, either way, are neither delivered nor copied.
  REQUIRE(ask(*phone, "", "<block xmlns='urn:xmpp:blocking'><item jid='bob@localhost'/></block>", "set")
              .attr("type") == "result");
  bob->send("<message to='alice@localhost/phone' type='chat'><body>blocked</body></message>");
  std::optional<xml::Element> refused = bob->next_named("message");
  REQUIRE(refused);
  CHECK(refused->attr("type") == "error");
  CHECK(messages_so_far(*desk).empty());
  CHECK(messages_so_far(*phone).empty());

  phone->send("<message to='bob@localhost/home' type='chat' id='tb'><body>to a blocked contact</body></message>");
  std::optional<xml::Element> not_sent = phone->next_named("message");
  REQUIRE(not_sent);
  CHECK(not_sent->attr("type") == "error");
  CHECK(messages_so_far(*desk).empty());
  CHECK(messages_so_far(*bob).empty());
}

TEST_CASE("carbons: a message that nobody receives now goes to offline storage, not to carbons") {
  Users u;
  // Carbons enabled before the first presence, as clients do right after binding.
  RawClient phone(u.server.starttls_port());
  phone.login("alice", "a", "phone");
  REQUIRE(carbons(phone, "enable").attr("type") == "result");
  auto bob = online(u, "bob", "home");

  bob->send("<message to='alice@localhost' type='chat'><body>while away</body></message>");
  CHECK(messages_so_far(*bob).empty());  // stored, not refused
  CHECK(messages_so_far(phone).empty());

  phone.send("<presence/>");
  std::vector<xml::Element> got = messages_so_far(phone);
  REQUIRE(got.size() == 1);  // once, from offline storage
  CHECK_FALSE(got[0].first_child("received", kCarbonsNs));
  CHECK(body_of(got[0]) == "while away");
  CHECK(got[0].first_child("delay", "urn:xmpp:delay"));
}

TEST_CASE("carbons: a resource that replaced an enabled one with the same name starts without carbons") {
  Users u;
  auto desk = online(u, "alice", "desk");
  REQUIRE(carbons(*desk, "enable").attr("type") == "result");
  auto phone = online(u, "alice", "phone");
  auto bob = online(u, "bob", "home");
  // The same full JID again: the old session gets <conflict/> (RFC 6120 §7.7.2.2).
  auto desk2 = online(u, "alice", "desk");
  CHECK(desk->wait_closed());

  phone->send("<message to='bob@localhost' type='chat'><body>after the switch</body></message>");
  REQUIRE(bob->next_named("message"));
  CHECK(messages_so_far(*desk2).empty());

  REQUIRE(carbons(*desk2, "enable").attr("type") == "result");
  phone->send("<message to='bob@localhost' type='chat'><body>now</body></message>");
  REQUIRE(bob->next_named("message"));
  std::vector<xml::Element> got = messages_so_far(*desk2);
  REQUIRE(got.size() == 1);
  CHECK(body_of(unwrap(got[0], "sent", "alice@localhost/desk")) == "now");
}
