// Rosters (RFC 6121 §2, XEP-0237), subscriptions (RFC 6121 §3) and presence
// broadcast (RFC 6121 §4), module "roster".
#include <doctest/doctest.h>
#include <sys/socket.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <thread>
#include <memory>
#include <vector>

#include "harness/raw_client.hpp"
#include "harness/test_server.hpp"
#include "test_util.hpp"

using namespace parley;
using namespace parley::test;

namespace {

constexpr std::string_view kRoster = "jabber:iq:roster";

ServerOptions roster_options(const std::string& extra = {}) {
  ServerOptions options;
  options.modules = {"disco", "ping", "roster"};
  options.extra_config = extra;
  return options;
}

struct Users {
  TestServer server;
  explicit Users(const std::string& extra = {}) : server(roster_options(extra)) {
    server.add_user("alice@localhost", "a");
    server.add_user("bob@localhost", "b");
    server.add_user("carol@localhost", "c");
  }
  std::unique_ptr<RawClient> login(const std::string& user, const std::string& resource) {
    auto client = std::make_unique<RawClient>(server.starttls_port());
    client->login(user, user.substr(0, 1), resource);
    return client;
  }
  // Logged in, roster requested (interested) and available.
  std::unique_ptr<RawClient> online(const std::string& user, const std::string& resource) {
    auto client = login(user, resource);
    ask(*client, "", "<query xmlns='jabber:iq:roster'/>");
    client->send("<presence/>");
    ping(*client);
    return client;
  }
};

// Sends an IQ and returns everything received up to and including its answer.
std::vector<xml::Element> exchange(RawClient& client, const std::string& payload, const std::string& type = "set",
                                   const std::string& to = {}) {
  static int counter = 0;
  std::string id = "x" + std::to_string(++counter);
  std::string to_attr = to.empty() ? std::string() : " to='" + to + "'";
  client.send("<iq type='" + type + "' id='" + id + "'" + to_attr + ">" + payload + "</iq>");
  std::vector<xml::Element> seen;
  while (std::optional<xml::Element> e = client.next()) {
    seen.push_back(*e);
    if (e->name() == "iq" && e->attr("id") == id) return seen;
  }
  FAIL("no answer to " << payload);
  return seen;
}

const xml::Element* push_item(const xml::Element& iq) {
  if (iq.name() != "iq" || iq.attr("type") != "set") return nullptr;
  const xml::Element* query = iq.first_child("query", kRoster);
  return query ? query->first_child("item", kRoster) : nullptr;
}

// The next roster push, answered as RFC 6121 §2.1.6 asks.
xml::Element next_push(RawClient& client) {
  while (std::optional<xml::Element> e = client.next()) {
    if (const xml::Element* item = push_item(*e)) {
      CHECK(e->attr("from").empty());
      client.send("<iq type='result' id='" + std::string(e->attr("id")) + "'/>");
      return *item;
    }
  }
  FAIL("no roster push");
  return xml::Element("none");
}

std::optional<xml::Element> next_presence(RawClient& client, int timeout_ms = 3000) {
  return client.next_named("presence", timeout_ms);
}

// The next presence of `type` ("" for available), skipping others.
std::optional<xml::Element> next_of_type(RawClient& client, std::string_view type) {
  while (std::optional<xml::Element> p = next_presence(client)) {
    if (p->attr("type") == type) return p;
  }
  return std::nullopt;
}

// Everything that arrives until the stream is quiet for a while.
std::vector<xml::Element> drain(RawClient& client) {
  std::vector<xml::Element> out;
  while (std::optional<xml::Element> e = client.next(1000)) out.push_back(*e);
  return out;
}

// "push:<subscription>" or "presence:<type>:<from>" for each element, in order.
std::string summary(const std::vector<xml::Element>& elements) {
  std::string out;
  for (const xml::Element& e : elements) {
    if (const xml::Element* item = push_item(e)) {
      out += "push:" + std::string(item->attr("subscription")) + " ";
    } else if (e.name() == "presence") {
      out += "presence:" + std::string(e.attr("type")) + ":" + std::string(e.attr("from")) + " ";
    }
  }
  return out;
}

// Nothing (of that name) arrives within a short wait, after a round trip.
bool quiet(RawClient& client, std::string_view name) {
  ping(client);
  return !client.next_named(name, 300);
}

xml::Element roster_get(RawClient& client, const std::string& ver_attr = {}) {
  return ask(client, "", "<query xmlns='jabber:iq:roster'" + ver_attr + "/>");
}

std::vector<std::string> jids(const xml::Element& iq) {
  std::vector<std::string> out;
  if (const xml::Element* query = iq.first_child("query", kRoster)) {
    for (const xml::Element& item : query->children()) out.emplace_back(item.attr("jid"));
  }
  return out;
}

std::string error_of(const xml::Element& stanza) {
  CHECK(stanza.attr("type") == "error");
  return condition_of(stanza, kStanzaErrors);
}

// alice and bob subscribed to each other ("both"), both online and interested.
struct Friends : Users {
  std::unique_ptr<RawClient> alice = online("alice", "desk");
  std::unique_ptr<RawClient> bob = online("bob", "phone");
  Friends() {
    alice->send("<presence type='subscribe' to='bob@localhost'/>");
    next_push(*alice);
    REQUIRE(next_presence(*bob)->attr("type") == "subscribe");
    bob->send("<presence type='subscribed' to='alice@localhost'/>");
    next_push(*bob);
    CHECK(next_push(*alice).attr("subscription") == "to");
    bob->send("<presence type='subscribe' to='alice@localhost'/>");
    next_push(*bob);
    REQUIRE(next_of_type(*alice, "subscribe"));
    alice->send("<presence type='subscribed' to='bob@localhost'/>");
    CHECK(next_push(*alice).attr("subscription") == "both");
    CHECK(next_push(*bob).attr("subscription") == "both");
    ping(*alice);
    ping(*bob);
    while (alice->next(200)) {}
    while (bob->next(200)) {}
  }
};

}  // namespace

TEST_CASE("roster set, update and remove are pushed to every interested resource (RFC 6121 §2)") {
  Users u;
  auto desk = u.login("alice", "desk");
  auto phone = u.login("alice", "phone");
  auto watch = u.login("alice", "watch");  // never asks for the roster: not interested
  CHECK(jids(roster_get(*desk)).empty());
  roster_get(*phone);

  std::vector<xml::Element> seen =
      exchange(*desk, "<query xmlns='jabber:iq:roster'><item jid='Bob@localhost/x' name='Bob'>"
                      "<group>Friends</group><group>Work &amp; co</group></item></query>");
  REQUIRE(seen.size() == 2);
  const xml::Element* pushed = push_item(seen[0]);
  REQUIRE(pushed);
  CHECK(seen[0].attr("to") == "alice@localhost/desk");
  CHECK(pushed->attr("jid") == "bob@localhost");
  CHECK(pushed->attr("name") == "Bob");
  CHECK(pushed->attr("subscription") == "none");
  REQUIRE(pushed->element_count() == 2);
  CHECK(pushed->children()[1].text() == "Work & co");
  CHECK(seen[1].attr("type") == "result");
  xml::Element on_phone = next_push(*phone);
  CHECK(on_phone.attr("jid") == "bob@localhost");
  CHECK(quiet(*watch, "iq"));

  exchange(*phone, "<query xmlns='jabber:iq:roster'><item jid='bob@localhost' name='Bobby'/></query>");
  CHECK(next_push(*desk).attr("name") == "Bobby");
  xml::Element roster = roster_get(*watch);
  REQUIRE(jids(roster) == std::vector<std::string>{"bob@localhost"});
  CHECK(roster.first_child("query")->first_child("item")->attr("name") == "Bobby");
  CHECK(roster.first_child("query")->first_child("item")->element_count() == 0);

  exchange(*desk, "<query xmlns='jabber:iq:roster'><item jid='bob@localhost' subscription='remove'/></query>");
  CHECK(next_push(*phone).attr("subscription") == "remove");
  CHECK(next_push(*watch).attr("subscription") == "remove");
  CHECK(jids(roster_get(*desk)).empty());
  // RFC 6121 §2.5.3: removing what is not there.
  xml::Element missing = ask(*desk, "", "<query xmlns='jabber:iq:roster'><item jid='bob@localhost' "
                                        "subscription='remove'/></query>", "set");
  CHECK(error_of(missing) == "item-not-found");
}

TEST_CASE("roster versioning: <ver/> feature, empty result when current (XEP-0237)") {
  Users u;
  RawClient raw(u.server.starttls_port());
  raw.open_stream();
  raw.starttls();
  REQUIRE(raw.authenticate("SCRAM-SHA-256", "alice", "a").name() == "success");
  xml::Element features = raw.open_stream();
  CHECK(features.first_child("ver", "urn:xmpp:features:rosterver"));

  auto alice = u.login("alice", "desk");
  xml::Element first = roster_get(*alice, " ver=''");
  REQUIRE(first.first_child("query"));
  std::string v0(first.first_child("query")->attr("ver"));
  CHECK(!v0.empty());
  xml::Element same = roster_get(*alice, " ver='" + v0 + "'");
  CHECK(same.attr("type") == "result");
  CHECK(same.element_count() == 0);

  exchange(*alice, "<query xmlns='jabber:iq:roster'><item jid='bob@localhost'/></query>");
  auto later = u.login("alice", "phone");
  xml::Element changed = roster_get(*later, " ver='" + v0 + "'");
  REQUIRE(changed.first_child("query"));
  std::string v1(changed.first_child("query")->attr("ver"));
  CHECK(v1 != v0);
  CHECK(jids(changed) == std::vector<std::string>{"bob@localhost"});
  CHECK(roster_get(*later, " ver='" + v1 + "'").element_count() == 0);
}

TEST_CASE("a full roster refuses one more item (modules.roster.max_items)") {
  Users u("[modules.roster]\nmax_items = 2\n");
  auto alice = u.login("alice", "desk");
  for (std::string c : {"bob", "carol"}) {
    CHECK(ask(*alice, "", "<query xmlns='jabber:iq:roster'><item jid='" + c + "@localhost'/></query>", "set")
              .attr("type") == "result");
  }
  xml::Element full = ask(*alice, "", "<query xmlns='jabber:iq:roster'><item jid='dave@localhost'/></query>", "set");
  CHECK(error_of(full) == "not-acceptable");
  CHECK(full.first_child("error")->first_child("text")->text() == "the roster is full (2 items at most)");
  // Updating an existing item is still allowed.
  CHECK(ask(*alice, "", "<query xmlns='jabber:iq:roster'><item jid='bob@localhost' name='B'/></query>", "set")
            .attr("type") == "result");
  CHECK(jids(roster_get(*alice)).size() == 2);
}

TEST_CASE("bad roster sets are refused and store nothing (RFC 6121 §2.3.3)") {
  Users u;
  auto alice = u.login("alice", "desk");
  auto set = [&](const std::string& item) {
    return error_of(ask(*alice, "", "<query xmlns='jabber:iq:roster'>" + item + "</query>", "set"));
  };
  CHECK(set("<item jid='bob@localhost'><group></group></item>") == "not-acceptable");
  CHECK(set("<item jid='bob@localhost'><group>a</group><group>a</group></item>") == "bad-request");
  CHECK(set("<item jid='bob@localhost'><group>" + std::string(1100, 'g') + "</group></item>") == "not-acceptable");
  CHECK(set("<item jid='bob@localhost' name='" + std::string(1100, 'n') + "'/>") == "not-acceptable");
  CHECK(set("<item jid='bob@localhost'/><item jid='carol@localhost'/>") == "bad-request");
  CHECK(set("<item jid='a@b@c'/>") == "jid-malformed");
  CHECK(set("") == "bad-request");
  CHECK(jids(roster_get(*alice)).empty());
}

TEST_CASE("roster pushes sent by clients are refused") {
  Users u;
  auto alice = u.online("alice", "desk");
  auto bob = u.online("bob", "phone");
  std::string push = "<query xmlns='jabber:iq:roster'><item jid='mallory@localhost'/></query>";
  CHECK(error_of(ask(*bob, "alice@localhost/desk", push, "set")) == "forbidden");
  CHECK(error_of(ask(*bob, "alice@localhost", push, "set")) == "forbidden");
  CHECK(error_of(ask(*bob, "alice@localhost", "<query xmlns='jabber:iq:roster'/>")) == "forbidden");
  CHECK(quiet(*alice, "iq"));
  CHECK(jids(roster_get(*alice)).empty());
}

TEST_CASE("subscription: request, approval, presence, then the other direction (RFC 6121 §3.1)") {
  Users u;
  auto alice = u.online("alice", "desk");
  auto bob = u.online("bob", "phone");
  alice->send("<presence type='subscribe' to='bob@localhost/phone' id='s1'><status>hi</status></presence>");
  xml::Element out = next_push(*alice);
  CHECK(out.attr("jid") == "bob@localhost");
  CHECK(out.attr("subscription") == "none");
  CHECK(out.attr("ask") == "subscribe");
  std::optional<xml::Element> request = next_presence(*bob);
  REQUIRE(request);
  CHECK(request->attr("type") == "subscribe");
  CHECK(request->attr("from") == "alice@localhost");
  CHECK(request->attr("to") == "bob@localhost");
  CHECK(request->first_child("status")->text() == "hi");
  CHECK(quiet(*bob, "iq"));  // a request is not a roster item

  bob->send("<presence type='subscribed' to='alice@localhost'/>");
  xml::Element approved = next_push(*bob);
  CHECK(approved.attr("jid") == "alice@localhost");
  CHECK(approved.attr("subscription") == "from");
  xml::Element now_to = next_push(*alice);
  CHECK(now_to.attr("subscription") == "to");
  CHECK(now_to.find_attr("ask") == nullptr);
  std::optional<xml::Element> subscribed = next_presence(*alice);
  REQUIRE(subscribed);
  CHECK(subscribed->attr("type") == "subscribed");
  CHECK(subscribed->attr("from") == "bob@localhost");
  std::optional<xml::Element> current = next_presence(*alice);  // §3.1.5: bob's presence follows
  REQUIRE(current);
  CHECK(current->attr("from") == "bob@localhost/phone");
  CHECK(current->attr("type").empty());

  bob->send("<presence type='subscribe' to='alice@localhost'/>");
  CHECK(next_push(*bob).attr("ask") == "subscribe");
  // §3.1.3: alice gets the request itself; her item only records it
  // (pending-in), which no client sees, so there is no roster push.
  std::vector<xml::Element> at_alice = exchange(*alice, "<ping xmlns='urn:xmpp:ping'/>", "get", "localhost");
  CHECK(summary(at_alice) == "presence:subscribe:bob@localhost ");
  alice->send("<presence type='subscribed' to='bob@localhost'/>");
  CHECK(next_push(*alice).attr("subscription") == "both");
  CHECK(next_push(*bob).attr("subscription") == "both");
  // Subscribing again is answered by the server for alice (§3.1.3).
  bob->send("<presence type='subscribe' to='alice@localhost'/>");
  std::optional<xml::Element> auto_reply = next_presence(*bob);
  REQUIRE(auto_reply);
  CHECK(auto_reply->attr("type") == "subscribed");
  CHECK(auto_reply->attr("from") == "alice@localhost");
  CHECK(quiet(*alice, "presence"));
}

TEST_CASE("a subscription request for an offline user is delivered on their initial presence") {
  Users u;
  auto alice = u.online("alice", "desk");
  alice->send("<presence type='subscribe' to='bob@localhost'/>");
  next_push(*alice);
  ping(*alice);
  auto bob = u.login("bob", "phone");
  CHECK(quiet(*bob, "presence"));
  bob->send("<presence/>");
  std::optional<xml::Element> request = next_presence(*bob);
  while (request && request->attr("type") != "subscribe") request = next_presence(*bob);
  REQUIRE(request);
  CHECK(request->attr("from") == "alice@localhost");
  // Denied: the request is gone, and alice's pending-out too.
  bob->send("<presence type='unsubscribed' to='alice@localhost'/>");
  xml::Element denied = next_push(*alice);
  CHECK(denied.attr("subscription") == "none");
  CHECK(denied.find_attr("ask") == nullptr);
  REQUIRE(next_presence(*alice)->attr("type") == "unsubscribed");
  auto again = u.login("bob", "tablet");
  again->send("<presence/>");
  // bob's own presence arrives, but no request any more.
  while (std::optional<xml::Element> p = next_presence(*again, 300)) CHECK(p->attr("type") != "subscribe");
}

TEST_CASE("pre-approval: a request already approved is accepted by the server (RFC 6121 §3.4)") {
  Users u;
  auto alice = u.online("alice", "desk");
  auto bob = u.online("bob", "phone");
  bob->send("<presence type='subscribed' to='alice@localhost'/>");
  xml::Element pre = next_push(*bob);
  CHECK(pre.attr("jid") == "alice@localhost");
  CHECK(pre.attr("subscription") == "none");
  CHECK(pre.attr("approved") == "true");
  CHECK(quiet(*alice, "presence"));  // not routed

  alice->send("<presence type='subscribe' to='bob@localhost'/>");
  CHECK(next_push(*alice).attr("ask") == "subscribe");
  xml::Element from = next_push(*bob);
  CHECK(from.attr("subscription") == "from");
  CHECK(from.find_attr("approved") == nullptr);
  CHECK(next_push(*alice).attr("subscription") == "to");
  REQUIRE(next_presence(*alice)->attr("type") == "subscribed");
  CHECK(quiet(*bob, "presence"));  // bob is never asked
}

TEST_CASE("unsubscribe and cancel end each direction (RFC 6121 §3.2, §3.3)") {
  Friends f;
  f.alice->send("<presence type='unsubscribe' to='bob@localhost'/>");
  CHECK(next_push(*f.alice).attr("subscription") == "from");
  CHECK(next_push(*f.bob).attr("subscription") == "to");
  std::optional<xml::Element> p = next_presence(*f.bob);
  REQUIRE(p);
  CHECK(p->attr("type") == "unsubscribe");
  std::optional<xml::Element> gone = next_presence(*f.alice);  // §3.3.3: bob's presence is withdrawn
  REQUIRE(gone);
  CHECK(gone->attr("type") == "unavailable");
  CHECK(gone->attr("from") == "bob@localhost/phone");

  f.alice->send("<presence type='unsubscribed' to='bob@localhost'/>");
  CHECK(next_push(*f.alice).attr("subscription") == "none");
  // §3.2.2: alice's presence is withdrawn before bob learns of the cancel.
  CHECK(summary(drain(*f.bob)) == 
        "presence:unavailable:alice@localhost/desk push:none presence:unsubscribed:alice@localhost ");
}

TEST_CASE("removing an item unsubscribes both ways (RFC 6121 §2.5.2)") {
  Friends f;
  exchange(*f.alice, "<query xmlns='jabber:iq:roster'><item jid='bob@localhost' subscription='remove'/></query>");
  CHECK(summary(drain(*f.bob)) ==
        "push:to presence:unsubscribe:alice@localhost presence:unavailable:alice@localhost/desk push:none "
        "presence:unsubscribed:alice@localhost ");
  xml::Element bob_roster = roster_get(*f.bob);
  REQUIRE(bob_roster.first_child("query")->first_child("item"));
  CHECK(bob_roster.first_child("query")->first_child("item")->attr("subscription") == "none");
}

TEST_CASE("subscription stanzas with bogus addresses get jid-malformed") {
  Users u;
  auto alice = u.online("alice", "desk");
  alice->send("<presence type='subscribe' to='a@b@c' id='b1'/>");
  std::optional<xml::Element> e = next_presence(*alice);
  REQUIRE(e);
  CHECK(e->attr("id") == "b1");
  CHECK(error_of(*e) == "jid-malformed");
  alice->send("<presence type='subscribed' id='b2'/>");
  e = next_presence(*alice);
  REQUIRE(e);
  CHECK(e->attr("id") == "b2");
  CHECK(error_of(*e) == "jid-malformed");
  CHECK(jids(roster_get(*alice)).empty());
}

TEST_CASE("presence reaches subscribers on login, change and logout (RFC 6121 §4)") {
  Friends f;
  auto carol = f.online("carol", "pc");  // not subscribed: sees nothing
  auto alice2 = f.login("alice", "laptop");
  alice2->send("<presence><show>away</show></presence>");
  std::optional<xml::Element> p = next_presence(*f.bob);
  REQUIRE(p);
  CHECK(p->attr("from") == "alice@localhost/laptop");
  CHECK(p->attr("to") == "bob@localhost");
  CHECK(p->first_child("show")->text() == "away");
  // The new resource learns bob's presence (probe answered locally) and its own.
  std::vector<std::string> froms;
  while (std::optional<xml::Element> q = next_presence(*alice2, 1000)) froms.emplace_back(q->attr("from"));
  CHECK(std::find(froms.begin(), froms.end(), "bob@localhost/phone") != froms.end());
  CHECK(next_presence(*f.alice)->attr("from") == "alice@localhost/laptop");  // own resources (§4.2.2)

  alice2->send("<presence><show>dnd</show></presence>");
  p = next_presence(*f.bob);
  REQUIRE(p);
  CHECK(p->first_child("show")->text() == "dnd");

  alice2->send("</stream:stream>");  // clean close without unavailable presence
  p = next_presence(*f.bob);
  REQUIRE(p);
  CHECK(p->attr("type") == "unavailable");
  CHECK(p->attr("from") == "alice@localhost/laptop");

  // TCP reset of the other resource.
  linger hard{1, 0};
  setsockopt(f.alice->fd(), SOL_SOCKET, SO_LINGER, &hard, sizeof hard);
  f.alice.reset();
  p = next_presence(*f.bob);
  REQUIRE(p);
  CHECK(p->attr("type") == "unavailable");
  CHECK(p->attr("from") == "alice@localhost/desk");
  CHECK(quiet(*carol, "presence"));
}

TEST_CASE("directed presence is ended with unavailable when the session closes (RFC 6121 §4.6)") {
  Users u;
  auto alice = u.online("alice", "desk");
  auto carol = u.online("carol", "pc");
  alice->send("<presence to='carol@localhost'><status>psst</status></presence>");
  std::optional<xml::Element> p = next_presence(*carol);
  REQUIRE(p);
  CHECK(p->attr("from") == "alice@localhost/desk");
  alice->send("</stream:stream>");
  p = next_presence(*carol);
  REQUIRE(p);
  CHECK(p->attr("type") == "unavailable");
  CHECK(p->attr("from") == "alice@localhost/desk");
  CHECK(p->attr("to") == "carol@localhost");
}

TEST_CASE("a SIGHUP reload keeps interested resources and directed presence; sessions still go unavailable") {
  Friends f;
  auto carol = f.online("carol", "pc");
  f.alice->send("<presence to='carol@localhost'><status>psst</status></presence>");
  REQUIRE(next_presence(*carol));
  f.server.write_config(roster_options().extra_config);
  f.server.signal(SIGHUP);
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  REQUIRE(f.server.log().find("configuration and certificates reloaded") != std::string::npos);

  // bob asked for his roster before the reload, so he still gets pushes.
  std::vector<xml::Element> seen =
      exchange(*f.bob, "<query xmlns='jabber:iq:roster'><item jid='dave@localhost' name='Dave'/></query>");
  REQUIRE(seen.size() == 2);
  REQUIRE(push_item(seen[0]));
  CHECK(push_item(seen[0])->attr("jid") == "dave@localhost");
  CHECK(jids(roster_get(*f.bob)) == std::vector<std::string>{"alice@localhost", "dave@localhost"});

  // The directed presence alice sent before the reload is ended as well.
  f.alice->send("</stream:stream>");
  std::optional<xml::Element> p = next_presence(*f.bob);
  REQUIRE(p);
  CHECK(p->attr("type") == "unavailable");
  CHECK(p->attr("from") == "alice@localhost/desk");
  p = next_presence(*carol);
  REQUIRE(p);
  CHECK(p->attr("type") == "unavailable");
  CHECK(p->attr("from") == "alice@localhost/desk");
}
