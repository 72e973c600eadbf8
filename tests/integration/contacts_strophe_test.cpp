// Issue 3's features as a conversation of libstrophe clients (a real client
// library doing its own TLS, SASL and binding): roster and subscriptions,
// presence, vCard and private storage, blocking, offline delivery, last
// activity and disco — the same server setup as production defaults.
#include <doctest/doctest.h>

#include <memory>
#include <set>

#include "harness/strophe_client.hpp"
#include "harness/test_server.hpp"
#include "test_util.hpp"

using namespace parley;
using namespace parley::test;

namespace {

ServerOptions all_contact_modules() {
  ServerOptions options;
  options.modules = {"disco", "ping", "roster", "offline", "vcard", "private", "blocking", "last"};
  return options;
}

// Sends an IQ and waits for its answer (matched by id).
std::optional<xml::Element> iq(StropheClient& client, const std::string& type, const std::string& id,
                               const std::string& payload, const std::string& to = {}) {
  std::string to_attr = to.empty() ? std::string() : " to='" + to + "'";
  client.send("<iq type='" + type + "' id='" + id + "'" + to_attr + ">" + payload + "</iq>");
  return client.wait_for([&](const xml::Element& e) { return e.name() == "iq" && e.attr("id") == id; });
}

std::optional<xml::Element> presence_of(StropheClient& client, std::string_view type, std::string_view from_prefix) {
  return client.wait_for([&](const xml::Element& e) {
    return e.name() == "presence" && e.attr("type") == type && e.attr("from").substr(0, from_prefix.size()) == from_prefix;
  });
}

// The subscription of `contact` in the next roster push for it (answered).
std::string pushed_subscription(StropheClient& client, const std::string& contact) {
  std::optional<xml::Element> push = client.wait_for([&](const xml::Element& e) {
    const xml::Element* query = e.first_child("query", "jabber:iq:roster");
    const xml::Element* item = query ? query->first_child("item") : nullptr;
    return e.name() == "iq" && e.attr("type") == "set" && item && item->attr("jid") == contact;
  });
  if (!push) return "(no push)";
  client.send("<iq type='result' id='" + std::string(push->attr("id")) + "'/>");
  return std::string(push->first_child("query")->first_child("item")->attr("subscription"));
}

}  // namespace

TEST_CASE("libstrophe clients: contacts, presence, profiles, blocking, offline delivery and last activity") {
  TestServer server(all_contact_modules());
  server.add_user("alice@localhost", "a");
  server.add_user("bob@localhost", "b");
  server.add_user("carol@localhost", "c");
  StropheClient alice("alice@localhost/lib", "a", server.starttls_port());
  auto bob = std::make_unique<StropheClient>("bob@localhost/lib", "b", server.starttls_port());
  StropheClient carol("carol@localhost/lib", "c", server.starttls_port());
  REQUIRE(alice.connect());
  REQUIRE(bob->connect());
  REQUIRE(carol.connect());

  // Roster: both ask for it (becoming interested), alice adds bob in a group.
  REQUIRE(iq(alice, "get", "r1", "<query xmlns='jabber:iq:roster'/>")->attr("type") == "result");
  REQUIRE(iq(*bob, "get", "r2", "<query xmlns='jabber:iq:roster'/>")->attr("type") == "result");
  alice.send("<presence/>");
  bob->send("<presence/>");
  std::optional<xml::Element> added = iq(
      alice, "set", "r3", "<query xmlns='jabber:iq:roster'><item jid='bob@localhost' name='Bob'><group>Friends</group></item></query>");
  REQUIRE(added);
  CHECK(added->attr("type") == "result");
  CHECK(pushed_subscription(alice, "bob@localhost") == "none");

  // Subscriptions both ways (RFC 6121 §3.1), with presence following.
  alice.send("<presence type='subscribe' to='bob@localhost'/>");
  CHECK(pushed_subscription(alice, "bob@localhost") == "none");  // with ask='subscribe'
  REQUIRE(bob->wait_for([](const xml::Element& e) { return e.name() == "presence" && e.attr("type") == "subscribe"; }));
  bob->send("<presence type='subscribed' to='alice@localhost'/>");
  CHECK(pushed_subscription(alice, "bob@localhost") == "to");
  CHECK(presence_of(alice, "", "bob@localhost/lib"));
  bob->send("<presence type='subscribe' to='alice@localhost'/>");
  REQUIRE(alice.wait_for([](const xml::Element& e) { return e.name() == "presence" && e.attr("type") == "subscribe"; }));
  alice.send("<presence type='subscribed' to='bob@localhost'/>");
  CHECK(pushed_subscription(alice, "bob@localhost") == "both");
  bob->send("<presence><show>away</show></presence>");
  std::optional<xml::Element> away = presence_of(alice, "", "bob@localhost/lib");
  REQUIRE(away);
  // The first available presence from bob after 'both' may be the earlier
  // one re-sent; wait for the one with <show/>.
  if (!away->first_child("show")) away = presence_of(alice, "", "bob@localhost/lib");
  REQUIRE(away);
  REQUIRE(away->first_child("show"));
  CHECK(away->first_child("show")->text() == "away");

  // vCard (XEP-0054): alice publishes, bob reads; private storage (XEP-0049).
  CHECK(iq(alice, "set", "v1", "<vCard xmlns='vcard-temp'><FN>Alice</FN></vCard>")->attr("type") == "result");
  std::optional<xml::Element> card = iq(*bob, "get", "v2", "<vCard xmlns='vcard-temp'/>", "alice@localhost");
  REQUIRE(card);
  REQUIRE(card->first_child("vCard"));
  CHECK(card->first_child("vCard")->first_child("FN")->text() == "Alice");
  CHECK(iq(alice, "set", "p1", "<query xmlns='jabber:iq:private'><n xmlns='urn:test:notes'>x</n></query>")->attr("type") ==
        "result");
  std::optional<xml::Element> note = iq(alice, "get", "p2", "<query xmlns='jabber:iq:private'><n xmlns='urn:test:notes'/></query>");
  REQUIRE(note);
  CHECK(note->first_child("query")->first_child("n")->text() == "x");

  // Blocking (XEP-0191): carol's message never reaches alice; carol gets an error.
  CHECK(iq(alice, "set", "b1", "<block xmlns='urn:xmpp:blocking'><item jid='carol@localhost'/></block>")->attr("type") ==
        "result");
  carol.send("<message to='alice@localhost' type='chat' id='c1'><body>psst</body></message>");
  std::optional<xml::Element> bounced = carol.wait_for([](const xml::Element& e) { return e.name() == "message"; });
  REQUIRE(bounced);
  CHECK(bounced->attr("type") == "error");

  // bob leaves: alice sees him go, then writes to him offline (XEP-0160).
  bob->disconnect();
  bob.reset();
  CHECK(presence_of(alice, "unavailable", "bob@localhost/lib"));
  std::optional<xml::Element> last = iq(alice, "get", "l1", "<query xmlns='jabber:iq:last'/>", "bob@localhost");
  REQUIRE(last);
  CHECK(last->attr("type") == "result");
  CHECK(last->first_child("query")->find_attr("seconds"));
  alice.send("<message to='bob@localhost' type='chat' id='o1'><body>while you were out</body></message>");
  alice.pump(300);

  StropheClient bob_again("bob@localhost/back", "b", server.starttls_port());
  REQUIRE(bob_again.connect());
  bob_again.send("<presence/>");
  std::optional<xml::Element> stored = bob_again.wait_for([](const xml::Element& e) { return e.name() == "message"; });
  REQUIRE(stored);
  CHECK(stored->first_child("body")->text() == "while you were out");
  CHECK(stored->first_child("delay", "urn:xmpp:delay"));

  // Disco lists what the enabled modules do.
  std::optional<xml::Element> info =
      iq(alice, "get", "d1", "<query xmlns='http://jabber.org/protocol/disco#info'/>", "localhost");
  REQUIRE(info);
  std::set<std::string> features;
  for (const xml::Element& f : info->first_child("query")->children()) features.insert(std::string(f.attr("var")));
  for (const char* expected : {"urn:xmpp:blocking", "vcard-temp", "jabber:iq:private", "jabber:iq:last", "msgoffline"}) {
    CHECK_MESSAGE(features.count(expected), expected);
  }
}
