// Offline messages (XEP-0160) with delay stamps (XEP-0203): stored for an
// account with no available resource, delivered on its next available
// presence, kept across a restart, bounded per user.
#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <thread>

#include "harness/raw_client.hpp"
#include "harness/test_server.hpp"
#include "store/pg_sync.hpp"
#include "test_util.hpp"

using namespace parley;
using namespace parley::test;

namespace {

constexpr std::string_view kDelayNs = "urn:xmpp:delay";

ServerOptions offline_options(const std::string& extra = {}) {
  ServerOptions options;
  options.modules = {"disco", "ping", "offline"};
  options.extra_config = extra;
  return options;
}

struct Users {
  TestServer server;
  explicit Users(ServerOptions options = offline_options()) : server(std::move(options)) {
    server.add_user("alice@localhost", "a");
    server.add_user("bob@localhost", "b");
  }
};

// How many messages are stored for bob, read straight from the database.
long stored_for_bob(TestServer& server) {
  store::PgSync db(server.conninfo());
  store::PgResult r =
      db.exec("SELECT count(*) FROM offline_messages WHERE host = 'localhost' AND username = 'bob'", {});
  REQUIRE(r.ok);
  return std::stol(*r.at(0, 0));
}

// Storage is asynchronous: wait until the database holds `count` messages.
void wait_stored(TestServer& server, long count) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (stored_for_bob(server) != count && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  REQUIRE(stored_for_bob(server) == count);
}

void send_three(RawClient& alice) {
  alice.send("<message to='bob@localhost' type='chat' id='o1'><body>first</body></message>");
  alice.send("<message to='bob@localhost' id='o2'><body>second &amp; &lt;more&gt;</body></message>");
  alice.send("<message to='bob@localhost/phone' type='chat' id='o3'><body>third</body></message>");
}

// The message as delivered from storage: the original plus one delay stamp.
void check_delivered(const std::optional<xml::Element>& m, const std::string& id, const std::string& body) {
  REQUIRE(m);
  CHECK(m->attr("id") == id);
  CHECK(m->attr("from") == "alice@localhost/desk");
  REQUIRE(m->first_child("body"));
  CHECK(m->first_child("body")->text() == body);
  const xml::Element* delay = m->first_child("delay", kDelayNs);
  REQUIRE(delay);
  CHECK(delay->attr("from") == "localhost");
  std::string stamp(delay->attr("stamp"));
  CHECK(stamp.size() == 20);  // XEP-0082: CCYY-MM-DDThh:mm:ssZ
  CHECK(stamp.back() == 'Z');
}

void receive_three(RawClient& bob) {
  check_delivered(bob.next_named("message"), "o1", "first");
  check_delivered(bob.next_named("message"), "o2", "second & <more>");
  check_delivered(bob.next_named("message"), "o3", "third");
}

}  // namespace

TEST_CASE("offline messages are stored and delivered in order with delay stamps (XEP-0160, XEP-0203)") {
  Users u;
  RawClient alice(u.server.starttls_port());
  alice.login("alice", "a", "desk");
  send_three(alice);
  wait_stored(u.server, 3);
  CHECK_FALSE(alice.next_named("message", 300));  // stored, not bounced

  RawClient bob(u.server.starttls_port());
  bob.login("bob", "b", "phone");
  CHECK_FALSE(bob.next_named("message", 300));  // not before available presence
  bob.send("<presence/>");
  receive_three(bob);
  wait_stored(u.server, 0);

  // A later presence update delivers nothing again; a live message has no stamp.
  bob.send("<presence><show>away</show></presence>");
  alice.send("<message to='bob@localhost' type='chat' id='live'><body>now</body></message>");
  std::optional<xml::Element> live = bob.next_named("message");
  REQUIRE(live);
  CHECK(live->attr("id") == "live");
  CHECK_FALSE(live->first_child("delay", kDelayNs));
}

TEST_CASE("offline messages wait for a non-negative priority (RFC 6121 §8.5.2.1.1)") {
  Users u;
  RawClient alice(u.server.starttls_port());
  alice.login("alice", "a", "desk");
  alice.send("<message to='bob@localhost' type='chat' id='o1'><body>first</body></message>");
  wait_stored(u.server, 1);

  RawClient bob(u.server.starttls_port());
  bob.login("bob", "b", "phone");
  bob.send("<presence><priority>-1</priority></presence>");
  CHECK_FALSE(bob.next_named("message", 500));
  CHECK(stored_for_bob(u.server) == 1);
  bob.send("<presence><priority>1</priority></presence>");
  check_delivered(bob.next_named("message"), "o1", "first");
  wait_stored(u.server, 0);
}

TEST_CASE("offline messages survive a restart of parleyd") {
  Users u;
  {
    RawClient alice(u.server.starttls_port());
    alice.login("alice", "a", "desk");
    send_three(alice);
    wait_stored(u.server, 3);
  }
  CHECK(u.server.stop() == 0);
  u.server.start();

  RawClient bob(u.server.starttls_port());
  bob.login("bob", "b", "phone");
  bob.send("<presence/>");
  receive_three(bob);
  wait_stored(u.server, 0);
}

TEST_CASE("a full offline mailbox refuses with resource-constraint, never silently") {
  Users u(offline_options("\n[modules.offline]\nmax_messages = 2\n"));
  RawClient alice(u.server.starttls_port());
  alice.login("alice", "a", "desk");
  alice.send("<message to='bob@localhost' type='chat' id='f1'><body>1</body></message>");
  alice.send("<message to='bob@localhost' type='chat' id='f2'><body>2</body></message>");
  alice.send("<message to='bob@localhost' type='chat' id='f3'><body>3</body></message>");

  std::optional<xml::Element> error = alice.next_named("message");
  REQUIRE(error);
  CHECK(error->attr("type") == "error");
  CHECK(error->attr("id") == "f3");
  CHECK(error->attr("from") == "bob@localhost");
  CHECK(error->attr("to") == "alice@localhost/desk");
  const xml::Element* e = error->first_child("error");
  REQUIRE(e);
  CHECK(e->attr("type") == "wait");
  CHECK(condition_of(*error, kStanzaErrors) == "resource-constraint");
  const xml::Element* text = e->first_child("text", kStanzaErrors);
  REQUIRE(text);
  CHECK(text->text() == "the recipient's offline mailbox is full");
  CHECK(stored_for_bob(u.server) == 2);
  CHECK_FALSE(alice.next_named("message", 300));
}

TEST_CASE("headline messages are not stored offline (XEP-0160 §3)") {
  Users u;
  RawClient alice(u.server.starttls_port());
  alice.login("alice", "a", "desk");
  alice.send("<message to='bob@localhost' type='headline' id='h1'><body>news</body></message>");
  alice.send("<message to='bob@localhost' type='chat' id='c1'><body>chat</body></message>");
  wait_stored(u.server, 1);
  CHECK_FALSE(alice.next_named("message", 300));  // headlines are dropped without an error

  RawClient bob(u.server.starttls_port());
  bob.login("bob", "b", "phone");
  bob.send("<presence/>");
  std::optional<xml::Element> m = bob.next_named("message");
  REQUIRE(m);
  CHECK(m->attr("id") == "c1");
  CHECK_FALSE(bob.next_named("message", 300));
}

TEST_CASE("a message for an unknown user still gets service-unavailable") {
  Users u;
  RawClient alice(u.server.starttls_port());
  alice.login("alice", "a", "desk");
  alice.send("<message to='nobody@localhost' type='chat' id='x1'><body>hello?</body></message>");
  std::optional<xml::Element> error = alice.next_named("message");
  REQUIRE(error);
  CHECK(error->attr("type") == "error");
  CHECK(error->attr("id") == "x1");
  CHECK(error->attr("from") == "nobody@localhost");
  CHECK(error->attr("to") == "alice@localhost/desk");
  CHECK(condition_of(*error, kStanzaErrors) == "service-unavailable");
  store::PgSync db(u.server.conninfo());
  CHECK(*db.exec("SELECT count(*) FROM offline_messages", {}).at(0, 0) == "0");
}

TEST_CASE("two resources coming online at once get the offline messages once") {
  Users u;
  RawClient alice(u.server.starttls_port());
  alice.login("alice", "a", "desk");
  for (int i = 0; i < 20; ++i) {
    alice.send("<message to='bob@localhost' type='chat' id='m" + std::to_string(i) + "'><body>" +
               std::to_string(i) + "</body></message>");
  }
  wait_stored(u.server, 20);

  RawClient one(u.server.starttls_port());
  RawClient two(u.server.starttls_port());
  one.login("bob", "b", "one");
  two.login("bob", "b", "two");
  one.send("<presence/>");
  two.send("<presence/>");

  std::vector<std::string> ids;
  for (RawClient* client : {&one, &two}) {
    int last = -1;
    while (std::optional<xml::Element> m = client->next_named("message", 1000)) {
      REQUIRE(m->first_child("delay", kDelayNs));
      int n = std::stoi(m->first_child("body")->text());
      CHECK(n > last);  // each resource sees its share in order
      last = n;
      ids.push_back(std::string(m->attr("id")));
    }
  }
  CHECK(ids.size() == 20);
  std::sort(ids.begin(), ids.end());
  CHECK(std::adjacent_find(ids.begin(), ids.end()) == ids.end());
  wait_stored(u.server, 0);
}

TEST_CASE("disco announces msgoffline when the module is enabled") {
  Users u;
  RawClient alice(u.server.starttls_port());
  alice.login("alice", "a", "desk");
  xml::Element info = ask(alice, "localhost", "<query xmlns='http://jabber.org/protocol/disco#info'/>");
  bool found = false;
  for (const xml::Element& f : info.first_child("query")->children()) {
    if (f.name() == "feature" && f.attr("var") == "msgoffline") found = true;
  }
  CHECK(found);
}
