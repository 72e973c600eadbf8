// Deleting an account (src/xmpp/account_removal.hpp): its sessions end, its
// contacts' rosters change as RFC 6121 §2.5.2 says, and its data is gone —
// whether parleyd runs or starts later.
#include <doctest/doctest.h>

#include <chrono>
#include <memory>
#include <thread>

#include "harness/raw_client.hpp"
#include "harness/test_server.hpp"
#include "test_util.hpp"

using namespace parley;
using namespace parley::test;

namespace {

constexpr std::string_view kRoster = "jabber:iq:roster";

ServerOptions deletion_options() {
  ServerOptions options;
  options.modules = {"disco", "ping", "roster", "offline", "vcard", "private", "blocking", "last"};
  return options;
}

void contact(store::PgSync& db, const std::string& owner, const std::string& contact, const std::string& subscription) {
  REQUIRE(db.exec("INSERT INTO roster_items (host, username, contact, name, subscription, version)"
                  " VALUES ('localhost', $1, $2, 'friend', $3, 1)",
                  {owner, contact, subscription})
              .ok);
}

// alice and bob are mutual contacts; carol is subscribed to alice.
void befriend(TestServer& server) {
  server.add_user("alice@localhost", "a");
  server.add_user("bob@localhost", "b");
  server.add_user("carol@localhost", "c");
  store::PgSync db(server.conninfo());
  REQUIRE(db.connected());
  contact(db, "alice", "bob@localhost", "both");
  contact(db, "bob", "alice@localhost", "both");
  contact(db, "alice", "carol@localhost", "from");
  contact(db, "carol", "alice@localhost", "to");
}

std::unique_ptr<RawClient> online(TestServer& server, const std::string& user) {
  auto client = std::make_unique<RawClient>(server.starttls_port());
  client->login(user, user.substr(0, 1), "phone");
  ask(*client, "", "<query xmlns='jabber:iq:roster'/>");
  client->send("<presence/>");
  ping(*client);
  return client;
}

// Subscriptions of the pushes for alice that `client` gets until one says 'none'.
std::string pushes_until_none(RawClient& client) {
  std::string seen;
  while (std::optional<xml::Element> e = client.next()) {
    const xml::Element* query = e->first_child("query", kRoster);
    const xml::Element* item = query ? query->first_child("item", kRoster) : nullptr;
    if (e->name() != "iq" || !item || item->attr("jid") != "alice@localhost") continue;
    client.send("<iq type='result' id='" + std::string(e->attr("id")) + "'/>");
    seen += std::string(item->attr("subscription")) + " ";
    if (item->attr("subscription") == "none") break;
  }
  return seen;
}

std::string scalar(TestServer& server, const std::string& sql) {
  store::PgSync db(server.conninfo());
  REQUIRE(db.connected());
  store::PgResult r = db.exec(sql, {});
  REQUIRE(r.ok);
  return r.rows.empty() ? std::string("(no row)") : r.rows[0][0].value_or("(null)");
}

bool wait_for(TestServer& server, const std::string& sql, const std::string& expected) {
  return eventually([&] { return scalar(server, sql) == expected; });
}

constexpr const char* kAliceRows =
    "SELECT (SELECT count(*) FROM accounts WHERE username = 'alice') + "
    "(SELECT count(*) FROM roster_items WHERE username = 'alice') + "
    "(SELECT count(*) FROM account_scram WHERE username = 'alice')";

}  // namespace

TEST_CASE("deleting an account with parleyd running ends its sessions and updates its contacts' rosters") {
  TestServer server(deletion_options());
  befriend(server);
  auto alice = online(server, "alice");
  auto bob = online(server, "bob");
  auto carol = online(server, "carol");
  alice->send("<iq type='set' id='v'><vCard xmlns='vcard-temp'><FN>Alice</FN></vCard></iq>");
  ping(*alice);

  std::string out;
  CHECK(server.parleyctl({"user", "del", "alice@localhost"}, out) == 0);
  CHECK(out.find("deleted alice@localhost") != std::string::npos);

  std::optional<xml::Element> error = alice->next_named("error");
  REQUIRE(error);
  CHECK(RawClient::stream_error_condition(*error) == "not-authorized");
  CHECK(alice->wait_closed());

  // bob: 'both' loses 'from' (alice's unsubscribe), then 'to' (her unsubscribed).
  CHECK(pushes_until_none(*bob) == "to none ");
  CHECK(pushes_until_none(*carol) == "none ");
  CHECK(scalar(server, "SELECT subscription FROM roster_items WHERE username = 'bob'") == "none");
  CHECK(scalar(server, "SELECT subscription FROM roster_items WHERE username = 'carol'") == "none");
  CHECK(scalar(server, kAliceRows) == "0");
  CHECK(scalar(server, "SELECT count(*) FROM vcards WHERE username = 'alice'") == "0");

  RawClient again(server.starttls_port());
  again.open_stream();
  again.starttls();
  CHECK(condition_of(again.authenticate("SCRAM-SHA-256", "alice", "a"), kSasl) == "not-authorized");

  out.clear();
  CHECK(server.parleyctl({"user", "del", "alice@localhost"}, out) == 1);
  CHECK(out.find("no such account") != std::string::npos);
  CHECK(server.log().find("deleted alice@localhost") != std::string::npos);
}

TEST_CASE("a deletion requested while parleyd is stopped locks the account and happens at the next start") {
  TestServer server(deletion_options());
  befriend(server);
  CHECK(server.stop() == 0);

  std::string out;
  CHECK(server.parleyctl({"user", "del", "alice@localhost"}, out) == 0);
  CHECK(out.find("can no longer log in") != std::string::npos);
  out.clear();
  CHECK(server.parleyctl({"user", "list", "localhost"}, out) == 0);
  CHECK(out == "alice@localhost (being deleted)\nbob@localhost\ncarol@localhost\n");
  CHECK(scalar(server, "SELECT count(*) FROM accounts WHERE username = 'alice'") == "1");

  server.start();
  CHECK(wait_for(server, kAliceRows, "0"));
  CHECK(wait_for(server, "SELECT subscription FROM roster_items WHERE username = 'bob'", "none"));
  CHECK(scalar(server, "SELECT count(*) FROM account_deletions") == "0");
  auto bob = online(server, "bob");
  xml::Element roster = ask(*bob, "", "<query xmlns='jabber:iq:roster'/>");
  const xml::Element* item = roster.first_child("query", kRoster)->first_child("item", kRoster);
  REQUIRE(item);
  CHECK(item->attr("subscription") == "none");
}
