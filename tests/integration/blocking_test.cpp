// XEP-0191 Blocking Command: the list, its pushes, and enforcement.
#include <doctest/doctest.h>

#include <csignal>
#include <chrono>
#include <thread>

#include "harness/raw_client.hpp"
#include "harness/test_server.hpp"
#include "store/pg_sync.hpp"
#include "test_util.hpp"

using namespace parley;
using namespace parley::test;

namespace {

constexpr std::string_view kBlockingNs = "urn:xmpp:blocking";

ServerOptions blocking_options() {
  ServerOptions options;
  options.modules = {"disco", "ping", "blocking", "last"};
  return options;
}

struct Users {
  TestServer server{blocking_options()};
  Users() {
    server.add_user("alice@localhost", "a");
    server.add_user("bob@localhost", "b");
  }
};

void online(RawClient& client, const std::string& user, const std::string& password, const std::string& resource) {
  client.login(user, password, resource);
  client.send("<presence/>");
  ping(client);
}

std::vector<std::string> items_of(const xml::Element& payload) {
  std::vector<std::string> jids;
  for (const xml::Element& item : payload.children()) jids.emplace_back(item.attr("jid"));
  return jids;
}

std::vector<std::string> blocklist(RawClient& client) {
  xml::Element result = ask(client, "", "<blocklist xmlns='urn:xmpp:blocking'/>");
  REQUIRE(result.attr("type") == "result");
  const xml::Element* list = result.first_child("blocklist", kBlockingNs);
  REQUIRE(list);
  return items_of(*list);
}

xml::Element block(RawClient& client, const std::string& items) {
  return ask(client, "", "<block xmlns='urn:xmpp:blocking'>" + items + "</block>", "set");
}

xml::Element unblock(RawClient& client, const std::string& items) {
  return ask(client, "", "<unblock xmlns='urn:xmpp:blocking'>" + items + "</unblock>", "set");
}

// The next block-list push (an IQ set from the server), acknowledged.
std::optional<xml::Element> next_push(RawClient& client, int timeout_ms = 3000) {
  std::optional<xml::Element> iq = client.next_named("iq", timeout_ms);
  if (!iq) return iq;
  CHECK(iq->attr("type") == "set");
  client.send("<iq type='result' id='" + std::string(iq->attr("id")) + "'/>");
  return iq;
}

}  // namespace

TEST_CASE("block, unblock and unblock-all are pushed to the resources that retrieved the list") {
  Users u;
  RawClient desk(u.server.starttls_port());
  RawClient phone(u.server.starttls_port());
  RawClient other(u.server.starttls_port());
  online(desk, "alice", "a", "desk");
  online(phone, "alice", "a", "phone");
  online(other, "alice", "a", "other");

  xml::Element info = ask(desk, "localhost", "<query xmlns='http://jabber.org/protocol/disco#info'/>");
  bool announced = false;
  for (const xml::Element& f : info.first_child("query")->children()) announced |= f.attr("var") == kBlockingNs;
  CHECK(announced);

  CHECK(blocklist(desk).empty());
  CHECK(blocklist(phone).empty());

  // JIDs are stored normalised (RFC 7622).
  xml::Element blocked = block(desk, "<item jid='Bob@LocalHost'/><item jid='spam.example'/>");
  CHECK(blocked.attr("type") == "result");
  CHECK(blocked.element_count() == 0);
  for (RawClient* resource : {&desk, &phone}) {
    std::optional<xml::Element> push = next_push(*resource);
    REQUIRE(push);
    CHECK(push->attr("to") == (resource == &desk ? "alice@localhost/desk" : "alice@localhost/phone"));
    const xml::Element* payload = push->first_child("block", kBlockingNs);
    REQUIRE(payload);
    CHECK(items_of(*payload) == std::vector<std::string>{"bob@localhost", "spam.example"});
  }
  CHECK_FALSE(other.next_named("iq", 300));  // never asked for the list
  CHECK(blocklist(phone) == std::vector<std::string>{"bob@localhost", "spam.example"});

  CHECK(unblock(phone, "<item jid='spam.example'/>").attr("type") == "result");
  for (RawClient* resource : {&desk, &phone}) {
    std::optional<xml::Element> push = next_push(*resource);
    REQUIRE(push);
    const xml::Element* payload = push->first_child("unblock", kBlockingNs);
    REQUIRE(payload);
    CHECK(items_of(*payload) == std::vector<std::string>{"spam.example"});
  }
  CHECK(blocklist(desk) == std::vector<std::string>{"bob@localhost"});

  CHECK(unblock(desk, "").attr("type") == "result");
  for (RawClient* resource : {&desk, &phone}) {
    std::optional<xml::Element> push = next_push(*resource);
    REQUIRE(push);
    const xml::Element* payload = push->first_child("unblock", kBlockingNs);
    REQUIRE(payload);
    CHECK(payload->element_count() == 0);
  }
  CHECK(blocklist(desk).empty());
  CHECK_FALSE(other.next_named("iq", 300));
}

TEST_CASE("a blocked sender's message, IQ and presence never reach the user") {
  Users u;
  RawClient alice(u.server.starttls_port());
  RawClient bob(u.server.starttls_port());
  online(alice, "alice", "a", "desk");
  online(bob, "bob", "b", "phone");
  REQUIRE(block(alice, "<item jid='bob@localhost'/>").attr("type") == "result");

  bob.send("<message to='alice@localhost' type='chat' id='m1'><body>hi</body></message>");
  std::optional<xml::Element> bounce = bob.next_named("message");
  REQUIRE(bounce);
  CHECK(bounce->attr("type") == "error");
  CHECK(bounce->attr("from") == "alice@localhost");
  CHECK(bounce->attr("to") == "bob@localhost/phone");
  CHECK(bounce->attr("id") == "m1");
  CHECK(condition_of(*bounce, kStanzaErrors) == "service-unavailable");

  xml::Element iq = ask(bob, "alice@localhost/desk", "<query xmlns='jabber:iq:version'/>");
  CHECK(iq.attr("type") == "error");
  CHECK(iq.attr("from") == "alice@localhost/desk");
  CHECK(condition_of(iq, kStanzaErrors) == "service-unavailable");

  bob.send("<presence to='alice@localhost/desk'><show>away</show></presence>");
  bob.send("<message to='alice@localhost/desk' type='chat' id='m2'><body>again</body></message>");
  ping(bob);
  CHECK_FALSE(alice.next_named("presence", 300));
  CHECK_FALSE(alice.next_named("message", 300));
  CHECK_FALSE(alice.next_named("iq", 300));

  // Unblocked, bob gets through again.
  REQUIRE(unblock(alice, "<item jid='bob@localhost'/>").attr("type") == "result");
  bob.send("<message to='alice@localhost/desk' type='chat' id='m3'><body>finally</body></message>");
  std::optional<xml::Element> m = alice.next_named("message");
  REQUIRE(m);
  CHECK(m->attr("id") == "m3");
}

TEST_CASE("a full-JID item blocks only that resource (XEP-0016 §2.1 matching)") {
  Users u;
  u.server.add_user("carol@localhost", "c");
  RawClient alice(u.server.starttls_port());
  RawClient bob(u.server.starttls_port());
  RawClient carol(u.server.starttls_port());
  online(alice, "alice", "a", "desk");
  online(bob, "bob", "b", "phone");
  online(carol, "carol", "c", "laptop");
  REQUIRE(block(alice, "<item jid='bob@localhost/tablet'/>").attr("type") == "result");
  bob.send("<message to='alice@localhost/desk' type='chat' id='f1'><body>from the phone</body></message>");
  std::optional<xml::Element> m = alice.next_named("message");
  REQUIRE(m);
  CHECK(m->attr("id") == "f1");

  // Sending to bob@localhost/tablet is refused; to bob's other resource it is not.
  alice.send("<message to='bob@localhost/tablet' type='chat' id='t1'><body>x</body></message>");
  std::optional<xml::Element> refused = alice.next_named("message");
  REQUIRE(refused);
  CHECK(condition_of(*refused, kStanzaErrors) == "not-acceptable");
}

TEST_CASE("sending to a blocked JID gives not-acceptable with <blocked/>") {
  Users u;
  RawClient alice(u.server.starttls_port());
  RawClient bob(u.server.starttls_port());
  online(alice, "alice", "a", "desk");
  online(bob, "bob", "b", "phone");
  REQUIRE(block(alice, "<item jid='bob@localhost'/>").attr("type") == "result");

  alice.send("<message to='bob@localhost/phone' type='chat' id='o1'><body>hi</body></message>");
  std::optional<xml::Element> error = alice.next_named("message");
  REQUIRE(error);
  CHECK(error->attr("type") == "error");
  CHECK(error->attr("from") == "bob@localhost/phone");
  CHECK(error->attr("to") == "alice@localhost/desk");
  CHECK(error->attr("id") == "o1");
  const xml::Element* e = error->first_child("error");
  REQUIRE(e);
  CHECK(e->attr("type") == "cancel");
  CHECK(condition_of(*error, kStanzaErrors) == "not-acceptable");
  CHECK(e->first_child("blocked", "urn:xmpp:blocking:errors"));

  xml::Element iq = ask(alice, "bob@localhost", "<query xmlns='jabber:iq:last'/>");
  CHECK(condition_of(iq, kStanzaErrors) == "not-acceptable");
  CHECK(iq.first_child("error")->first_child("blocked", "urn:xmpp:blocking:errors"));
  CHECK_FALSE(bob.next_named("message", 300));

  // An IQ result is dropped without an answer (RFC 6120 §8.2.3).
  alice.send("<iq type='result' id='res' to='bob@localhost/phone'/>");
  xml::Element after = ping(alice, "localhost", Others::Kept);
  CHECK(after.attr("type") == "result");
  std::optional<xml::Element> extra = alice.next_named("iq", 300);
  CHECK_FALSE(extra);
  CHECK_FALSE(bob.next_named("iq", 300));
}

TEST_CASE("the block list is enforced for an offline user and survives a new login") {
  Users u;
  roster_row(u.server, "alice", "bob@localhost", "both");
  {
    RawClient alice(u.server.starttls_port());
    online(alice, "alice", "a", "desk");
    REQUIRE(block(alice, "<item jid='bob@localhost'/>").attr("type") == "result");
    alice.send("</stream:stream>");
    alice.wait_closed();
  }
  RawClient bob(u.server.starttls_port());
  online(bob, "bob", "b", "phone");
  // Not blocked, bob (a subscribed contact) would get alice's last activity.
  xml::Element iq = ask(bob, "alice@localhost", "<query xmlns='jabber:iq:last'/>");
  CHECK(condition_of(iq, kStanzaErrors) == "service-unavailable");

  RawClient alice(u.server.starttls_port());
  online(alice, "alice", "a", "laptop");
  CHECK(blocklist(alice) == std::vector<std::string>{"bob@localhost"});
  CHECK(unblock(alice, "<item jid='bob@localhost'/>").attr("type") == "result");
  alice.send("</stream:stream>");
  alice.wait_closed();
  xml::Element allowed = ask(bob, "alice@localhost", "<query xmlns='jabber:iq:last'/>");
  CHECK(allowed.attr("type") == "result");
}

TEST_CASE("bad block requests: malformed JIDs, no items, our own server; nothing stored") {
  Users u;
  RawClient alice(u.server.starttls_port());
  online(alice, "alice", "a", "desk");
  CHECK(blocklist(alice).empty());

  xml::Element malformed = block(alice, "<item jid='ok@localhost'/><item jid='bad@@jid'/>");
  CHECK(malformed.attr("type") == "error");
  CHECK(condition_of(malformed, kStanzaErrors) == "jid-malformed");

  xml::Element empty_jid = block(alice, "<item jid=''/>");
  CHECK(condition_of(empty_jid, kStanzaErrors) == "jid-malformed");

  xml::Element no_items = block(alice, "");
  CHECK(condition_of(no_items, kStanzaErrors) == "bad-request");

  xml::Element own = block(alice, "<item jid='LOCALHOST'/>");
  CHECK(condition_of(own, kStanzaErrors) == "not-acceptable");
  REQUIRE(own.first_child("error"));
  REQUIRE(own.first_child("error")->first_child("text"));
  CHECK(own.first_child("error")->first_child("text")->text() == "you cannot block your own server");

  CHECK(condition_of(unblock(alice, "<item jid='x@@y'/>"), kStanzaErrors) == "jid-malformed");
  CHECK(blocklist(alice).empty());
}

// The next presence from `from`, skipping the client's own presence echoes.
std::optional<xml::Element> presence_from(RawClient& client, std::string_view from, int timeout_ms = 3000) {
  while (std::optional<xml::Element> p = client.next_named("presence", timeout_ms)) {
    if (p->attr("from") == from) return p;
  }
  return std::nullopt;
}

TEST_CASE("blocking a subscribed contact sends it unavailable presence; unblocking sends presence again") {
  ServerOptions options;
  options.modules = {"disco", "ping", "roster", "blocking"};
  TestServer server(options);
  server.add_user("alice@localhost", "a");
  server.add_user("bob@localhost", "b");
  server.add_user("carol@localhost", "c");
  // alice and bob see each other's presence; carol is a stranger to alice.
  roster_row(server, "alice", "bob@localhost", "both");
  roster_row(server, "bob", "alice@localhost", "both");
  RawClient bob(server.starttls_port());
  online(bob, "bob", "b", "phone");
  RawClient carol(server.starttls_port());
  online(carol, "carol", "c", "desk");
  RawClient alice(server.starttls_port());
  alice.login("alice", "a", "laptop");
  alice.send("<presence><status>here</status></presence>");
  std::optional<xml::Element> initial = presence_from(bob, "alice@localhost/laptop");
  REQUIRE(initial);

  CHECK(block(alice, "<item jid='bob@localhost'/><item jid='carol@localhost'/>").attr("type") == "result");
  std::optional<xml::Element> gone = presence_from(bob, "alice@localhost/laptop");
  REQUIRE(gone);
  CHECK(gone->attr("type") == "unavailable");
  CHECK_FALSE(presence_from(carol, "alice@localhost/laptop", 500));  // a stranger learns nothing

  CHECK(unblock(alice, "").attr("type") == "result");  // unblock all
  std::optional<xml::Element> back = presence_from(bob, "alice@localhost/laptop");
  REQUIRE(back);
  CHECK(back->attr("type").empty());
  REQUIRE(back->first_child("status"));
  CHECK(back->first_child("status")->text() == "here");
  CHECK_FALSE(presence_from(carol, "alice@localhost/laptop", 500));
}

TEST_CASE("after a SIGHUP reload the lists of online users still apply and are still pushed") {
  Users u;
  RawClient desk(u.server.starttls_port());
  RawClient phone(u.server.starttls_port());
  online(desk, "alice", "a", "desk");
  online(phone, "alice", "a", "phone");
  CHECK(blocklist(desk).empty());  // desk asks for the list; phone does not
  CHECK(block(desk, "<item jid='bob@localhost'/>").attr("type") == "result");
  REQUIRE(next_push(desk));

  u.server.write_config({});
  u.server.signal(SIGHUP);
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  REQUIRE(u.server.log().find("configuration and certificates reloaded") != std::string::npos);

  // Sending to a blocked contact is still refused from memory (XEP-0191 §3.6).
  phone.send("<message to='bob@localhost' id='m1' type='chat'><body>hi</body></message>");
  std::optional<xml::Element> refused = phone.next_named("message");
  REQUIRE(refused);
  CHECK(refused->attr("type") == "error");
  CHECK(condition_of(*refused, kStanzaErrors) == "not-acceptable");
  // A new block is pushed to desk, which retrieved the list before the reload, and not to phone.
  CHECK(block(phone, "<item jid='eve@localhost'/>").attr("type") == "result");
  std::optional<xml::Element> push = next_push(desk);
  REQUIRE(push);
  CHECK(push->first_child("block", kBlockingNs));
  CHECK_FALSE(phone.next_named("iq", 500));
}
