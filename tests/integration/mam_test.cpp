// XEP-0313 message archives with XEP-0359 stanza ids: what is archived, how
// a client pages through it, and what it may not do.
#include <doctest/doctest.h>

#include <map>

#include "harness/raw_client.hpp"
#include "harness/test_server.hpp"
#include "store/pg_sync.hpp"
#include "test_util.hpp"

using namespace parley;
using namespace parley::test;

namespace {

constexpr std::string_view kMam = "urn:xmpp:mam:2";
constexpr std::string_view kSid = "urn:xmpp:sid:0";
constexpr std::string_view kRsm = "http://jabber.org/protocol/rsm";

TestServer make_server(const std::string& extra_config = {}) {
  ServerOptions options;
  options.modules = {"disco", "ping", "mam", "offline"};
  options.extra_config = extra_config;
  return TestServer(options);
}

struct Result {
  std::string id, from, to, body, stamp;
};

struct Answer {
  xml::Element iq;
  std::vector<Result> results;
};

// Sends an archive query and collects its results up to the IQ that ends them.
Answer query(RawClient& client, const std::string& inner, const std::string& to = {}) {
  static int counter = 0;
  std::string id = "mam" + std::to_string(++counter);
  std::string query_id = "q" + std::to_string(counter);
  client.send("<iq type='set' id='" + id + "'" + (to.empty() ? "" : " to='" + to + "'") +
              "><query xmlns='urn:xmpp:mam:2' queryid='" + query_id + "'>" + inner + "</query></iq>");
  Answer answer{xml::Element("none"), {}};
  while (std::optional<xml::Element> e = client.next()) {
    if (e->name() == "iq" && e->attr("id") == id) {
      answer.iq = *e;
      return answer;
    }
    const xml::Element* result = e->first_child("result", kMam);
    if (e->name() != "message" || !result) continue;
    CHECK(result->attr("queryid") == query_id);
    const xml::Element* forwarded = result->first_child("forwarded", "urn:xmpp:forward:0");
    REQUIRE(forwarded);
    const xml::Element* delay = forwarded->first_child("delay", "urn:xmpp:delay");
    const xml::Element* message = forwarded->first_child("message", "jabber:client");
    REQUIRE(delay);
    REQUIRE(message);
    const xml::Element* body = message->first_child("body");
    answer.results.push_back({std::string(result->attr("id")), std::string(message->attr("from")),
                              std::string(message->attr("to")), body ? body->text() : "",
                              std::string(delay->attr("stamp"))});
  }
  FAIL("no answer to the archive query");
  return answer;
}

std::vector<std::string> bodies(const Answer& a) {
  std::vector<std::string> out;
  for (const Result& r : a.results) out.push_back(r.body);
  return out;
}

std::string rsm(const std::string& inner) { return "<set xmlns='http://jabber.org/protocol/rsm'>" + inner + "</set>"; }

std::string with(const std::string& jid) {
  return "<x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE' type='hidden'><value>urn:xmpp:mam:2</value>"
         "</field><field var='with'><value>" + jid + "</value></field></x>";
}

// alice and bob, online; alice's messages to bob are answered one by one.
struct AliceAndBob {
  TestServer server;
  RawClient alice;
  RawClient bob;
  explicit AliceAndBob(const std::string& extra_config = {})
      : server(make_server(extra_config)), alice(server.starttls_port()), bob(server.starttls_port()) {
    server.add_user("alice@localhost", "secret");
    server.add_user("bob@localhost", "b");
    server.add_user("carol@localhost", "c");
    alice.login("alice", "secret", "phone");
    bob.login("bob", "b", "desk");
    alice.send("<presence/>");
    bob.send("<presence/>");
  }
  // bob gets `body` from alice; returns the message as bob got it.
  xml::Element alice_says(const std::string& body, const std::string& extra = {}) {
    alice.send("<message to='bob@localhost' type='chat'><body>" + body + "</body>" + extra + "</message>");
    std::optional<xml::Element> got = bob.next_named("message");
    REQUIRE(got);
    return *got;
  }
};

}  // namespace

TEST_CASE("mam: both sides archive a conversation; what bob receives carries his archive's id") {
  AliceAndBob u;
  xml::Element first = u.alice_says("one");
  const xml::Element* sid = first.first_child("stanza-id", kSid);
  REQUIRE(sid);
  CHECK(sid->attr("by") == "bob@localhost");
  u.bob.send("<message to='alice@localhost/phone' type='chat'><body>two</body></message>");
  std::optional<xml::Element> reply = u.alice.next_named("message");
  REQUIRE(reply);
  CHECK(reply->first_child("stanza-id", kSid)->attr("by") == "alice@localhost");
  // Not archived: a chat state alone, a message marked <no-store/>, a headline.
  u.alice.send("<message to='bob@localhost' type='chat'><composing xmlns='http://jabber.org/protocol/chatstates'/>"
               "</message>");
  u.alice_says("secret", "<no-store xmlns='urn:xmpp:hints'/>");
  u.alice.send("<message to='bob@localhost' type='headline'><body>news</body></message>");
  u.alice_says("three");
  REQUIRE(eventually([&] { return query(u.bob, "").results.size() == 3; }));

  Answer bobs = query(u.bob, "");
  CHECK(bodies(bobs) == std::vector<std::string>{"one", "two", "three"});
  CHECK(bobs.results[0].id == std::string(sid->attr("id")));
  CHECK(bobs.results[0].from == "alice@localhost/phone");
  CHECK(bobs.results[1].to == "alice@localhost/phone");
  CHECK(bobs.results[0].stamp.size() >= 20);
  CHECK(bobs.results[0].stamp.back() == 'Z');
  const xml::Element* fin = bobs.iq.first_child("fin", kMam);
  REQUIRE(fin);
  CHECK(fin->attr("complete") == "true");
  CHECK(fin->first_child("set", kRsm)->first_child("first", kRsm)->text() == bobs.results[0].id);
  CHECK(fin->first_child("set", kRsm)->first_child("last", kRsm)->text() == bobs.results[2].id);

  Answer alices = query(u.alice, "", "alice@localhost");
  CHECK(bodies(alices) == std::vector<std::string>{"one", "two", "three"});
  CHECK(alices.results[1].id == std::string(reply->first_child("stanza-id", kSid)->attr("id")));
}

TEST_CASE("mam: pages forwards from an id, backwards from the newest, and filters by contact and time") {
  AliceAndBob u;
  for (int i = 1; i <= 5; ++i) u.alice_says("m" + std::to_string(i));
  RawClient carol(u.server.starttls_port());
  carol.login("carol", "c", "c");
  carol.send("<message to='alice@localhost/phone' type='chat'><body>from carol</body></message>");
  REQUIRE(u.alice.next_named("message"));
  REQUIRE(eventually([&] { return query(u.alice, "").results.size() == 6; }));

  Answer first = query(u.alice, rsm("<max>2</max>"));
  CHECK(bodies(first) == std::vector<std::string>{"m1", "m2"});
  CHECK(first.iq.first_child("fin", kMam)->attr("complete").empty());
  Answer second = query(u.alice, rsm("<max>2</max><after>" + first.results[1].id + "</after>"));
  CHECK(bodies(second) == std::vector<std::string>{"m3", "m4"});
  Answer newest = query(u.alice, rsm("<max>2</max><before/>"));
  CHECK(bodies(newest) == std::vector<std::string>{"m5", "from carol"});
  Answer before = query(u.alice, rsm("<max>10</max><before>" + newest.results[0].id + "</before>"));
  CHECK(bodies(before) == std::vector<std::string>{"m1", "m2", "m3", "m4"});
  CHECK(before.iq.first_child("fin", kMam)->attr("complete") == "true");

  CHECK(bodies(query(u.alice, with("carol@localhost"))) == std::vector<std::string>{"from carol"});
  CHECK(bodies(query(u.alice, with("carol@localhost/c"))) == std::vector<std::string>{"from carol"});
  CHECK(query(u.alice, with("carol@localhost/elsewhere")).results.empty());
  std::string future = "<x xmlns='jabber:x:data' type='submit'><field var='start'><value>2999-01-01T00:00:00Z"
                       "</value></field></x>";
  CHECK(query(u.alice, future).results.empty());
  std::string past = "<x xmlns='jabber:x:data' type='submit'><field var='end'><value>2000-01-01T00:00:00Z"
                     "</value></field></x>";
  CHECK(query(u.alice, past).results.empty());
  // modules.mam.max_page bounds a page whatever the client asks.
  CHECK(query(u.alice, rsm("<max>1000</max>")).results.size() == 6);
}

TEST_CASE("mam: max_page bounds a page") {
  AliceAndBob u("[modules.mam]\nmax_page = 2\n");
  for (int i = 1; i <= 3; ++i) u.alice_says("m" + std::to_string(i));
  REQUIRE(eventually([&] { return query(u.alice, rsm("<before/>")).results.size() == 2; }));
  Answer page = query(u.alice, rsm("<max>50</max>"));
  CHECK(bodies(page) == std::vector<std::string>{"m1", "m2"});
  CHECK(page.iq.first_child("fin", kMam)->attr("complete").empty());
}

TEST_CASE("mam: bad queries, another user's archive and forged ids get clear errors and change nothing") {
  AliceAndBob u;
  u.alice_says("hello");
  auto condition = [&](RawClient& client, const std::string& inner, const std::string& to = {}) {
    Answer a = query(client, inner, to);
    CHECK(a.iq.attr("type") == "error");
    CHECK(a.results.empty());
    return condition_of(a.iq, kStanzaErrors);
  };
  CHECK(condition(u.alice, rsm("<after>no-such-id</after>")) == "item-not-found");
  CHECK(condition(u.alice, rsm("<max>-3</max>")) == "bad-request");
  CHECK(condition(u.alice, "<x xmlns='jabber:x:data' type='submit'><field var='start'><value>yesterday</value>"
                           "</field></x>") == "bad-request");
  CHECK(condition(u.alice, "<x xmlns='jabber:x:data' type='submit'><field var='fulltext'><value>x</value>"
                           "</field></x>") == "feature-not-implemented");
  CHECK(condition(u.bob, "", "alice@localhost") == "forbidden");

  // A sender cannot plant an id in bob's name: bob sees the archive's own only.
  xml::Element got = u.alice_says("forged", "<stanza-id xmlns='urn:xmpp:sid:0' by='bob@localhost' id='fake'/>"
                                            "<stanza-id xmlns='urn:xmpp:sid:0' by='alice@localhost' id='kept'/>");
  std::multimap<std::string, std::string> ids;
  for (const xml::Element& c : got.children()) {
    if (c.name() == "stanza-id") ids.emplace(c.attr("by"), c.attr("id"));
  }
  CHECK(ids.size() == 2);
  CHECK(ids.count("bob@localhost") == 1);
  CHECK(ids.find("bob@localhost")->second != "fake");
  CHECK(ids.find("alice@localhost")->second == "kept");

  // The search form and the fixed preferences.
  xml::Element form = ask(u.alice, "", "<query xmlns='urn:xmpp:mam:2'/>");
  REQUIRE(form.first_child("query", kMam));
  CHECK(form.first_child("query", kMam)->first_child("x", "jabber:x:data"));
  xml::Element prefs = ask(u.alice, "", "<prefs xmlns='urn:xmpp:mam:2'/>");
  CHECK(prefs.first_child("prefs", kMam)->attr("default") == "always");
  CHECK(condition_of(ask(u.alice, "", "<prefs xmlns='urn:xmpp:mam:2' default='never'/>", "set"), kStanzaErrors) ==
        "feature-not-implemented");
  REQUIRE(eventually([&] { return query(u.bob, "").results.size() == 2; }));
}

TEST_CASE("mam: a message stored offline is archived, comes with its id, and the archive survives a restart and "
          "goes with the account") {
  TestServer server = make_server();
  server.add_user("alice@localhost", "secret");
  server.add_user("bob@localhost", "b");
  {
    RawClient alice(server.starttls_port());
    alice.login("alice", "secret", "phone");
    alice.send("<message to='bob@localhost' type='chat'><body>while you were away</body></message>");
    ping(alice);
  }
  server.stop();
  server.start();
  RawClient bob(server.starttls_port());
  bob.login("bob", "b", "desk");
  bob.send("<presence/>");
  std::optional<xml::Element> stored = bob.next_named("message");
  REQUIRE(stored);
  const xml::Element* sid = stored->first_child("stanza-id", kSid);
  REQUIRE(sid);
  Answer archive = query(bob, "");
  REQUIRE(archive.results.size() == 1);
  CHECK(archive.results[0].id == std::string(sid->attr("id")));
  CHECK(archive.results[0].body == "while you were away");

  std::string output;
  REQUIRE(server.parleyctl({"user", "del", "bob@localhost"}, output) == 0);
  store::PgSync db(server.conninfo());
  REQUIRE(db.connected());
  CHECK(db.exec("SELECT count(*) FROM mam_messages WHERE username = 'bob'").at(0, 0) == "0");
  CHECK(db.exec("SELECT count(*) FROM mam_messages WHERE username = 'alice'").at(0, 0) == "1");
}

TEST_CASE("mam: a message stream management routes again is archived once") {
  TestServer server = make_server();
  server.add_user("alice@localhost", "secret");
  server.add_user("bob@localhost", "b");
  RawClient bob(server.starttls_port());
  bob.login("bob", "b", "desk");
  {
    RawClient alice(server.starttls_port());
    alice.login("alice", "secret", "phone");
    alice.send("<enable xmlns='urn:xmpp:sm:3'/>");
    REQUIRE(alice.next_named("enabled"));
    alice.send("<presence/>");
    ping(alice);
    bob.send("<message to='alice@localhost' type='chat'><body>never acknowledged</body></message>");
    REQUIRE(alice.next_named("message"));
  }  // gone without acknowledging: the message goes to offline storage
  RawClient again(server.starttls_port());
  again.login("alice", "secret", "again");
  again.send("<presence/>");
  std::optional<xml::Element> stored = again.next_named("message");
  REQUIRE(stored);
  int ids = 0;
  for (const xml::Element& c : stored->children()) ids += c.name() == "stanza-id";
  CHECK(ids == 1);
  Answer archive = query(again, "");
  REQUIRE(archive.results.size() == 1);
  CHECK(archive.results[0].id == std::string(stored->first_child("stanza-id", kSid)->attr("id")));
}

TEST_CASE("mam: messages older than modules.mam.expire_after are removed") {
  TestServer server = make_server("[modules.mam]\nexpire_after = \"1d\"\ncleanup_interval = \"1s\"\n");
  server.add_user("alice@localhost", "secret");
  store::PgSync db(server.conninfo());
  REQUIRE(db.connected());
  for (const char* age : {"2 days", "1 hour"}) {
    REQUIRE(db.exec("INSERT INTO mam_messages (host, username, stanza_id, with_bare, with_full, stamp, stanza) "
                    "VALUES ('localhost', 'alice', $1, 'bob@localhost', 'bob@localhost/x', now() - $2::interval, "
                    "'<message xmlns=''jabber:client''><body>old</body></message>')",
                    {age, age})
                .ok);
  }
  CHECK(eventually([&] { return db.exec("SELECT count(*) FROM mam_messages").at(0, 0) == "1"; }));
  CHECK(db.exec("SELECT stanza_id FROM mam_messages").at(0, 0) == "1 hour");
}

TEST_CASE("mam: without the module, archive queries get service-unavailable and messages carry no id") {
  ServerOptions options;
  options.modules = {"disco", "ping"};
  TestServer server(options);
  server.add_user("alice@localhost", "secret");
  server.add_user("bob@localhost", "b");
  RawClient alice(server.starttls_port());
  alice.login("alice", "secret", "phone");
  RawClient bob(server.starttls_port());
  bob.login("bob", "b", "desk");
  bob.send("<presence/>");
  ping(bob);
  alice.send("<message to='bob@localhost' type='chat'><body>hi</body></message>");
  std::optional<xml::Element> got = bob.next_named("message");
  REQUIRE(got);
  CHECK_FALSE(got->first_child("stanza-id", kSid));
  CHECK(condition_of(query(alice, "").iq, kStanzaErrors) == "service-unavailable");
}
