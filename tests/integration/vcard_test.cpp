// Profiles: vcard-temp (XEP-0054), avatar hashes in presence (XEP-0153) and
// private XML storage (XEP-0049).
#include <doctest/doctest.h>

#include "harness/raw_client.hpp"
#include "harness/test_server.hpp"
#include "store/pg_sync.hpp"
#include "test_util.hpp"
#include "xml/fragment.hpp"

using namespace parley;
using namespace parley::test;

namespace {


// SHA-1 of "hello", the image below (base64 "aGVsbG8=").
constexpr std::string_view kHelloSha1 = "aaf4c61ddcc5e8a2dabede0f3b482cd9aea9434d";
const std::string kVcardWithPhoto =
    "<vCard xmlns='vcard-temp'><FN>Alice</FN><PHOTO><TYPE>image/png</TYPE><BINVAL>aGVs\nbG8=</BINVAL></PHOTO></vCard>";

xml::Element parse(const std::string& text) {
  std::optional<xml::Element> e = xml::parse_element(text);
  REQUIRE(e);
  return *e;
}

ServerOptions profile_options(const std::string& extra) {
  ServerOptions options;
  options.modules = {"disco", "ping", "vcard", "private"};
  options.extra_config = extra;
  return options;
}

void check_error(const xml::Element& reply, std::string_view type, std::string_view condition) {
  CHECK(reply.attr("type") == "error");
  const xml::Element* error = reply.first_child("error");
  REQUIRE(error);
  CHECK(error->attr("type") == type);
  CHECK(condition_of(reply, kStanzaErrors) == condition);
}

}  // namespace

// alice@localhost/desk and bob@localhost/phone logged in; `extra` is TOML
// appended after the host table (per-host module options).
struct ProfilesStarted {
  TestServer server;
  std::optional<RawClient> alice, bob;
  explicit ProfilesStarted(const std::string& extra = {}) : server(profile_options(extra)) {
    server.add_user("alice@localhost", "a");
    server.add_user("bob@localhost", "b");
    alice.emplace(server.starttls_port());
    bob.emplace(server.starttls_port());
    alice->login("alice", "a", "desk");
    bob->login("bob", "b", "phone");
  }
};

TEST_CASE("vcard: the owner stores and reads a vCard; none stored reads as empty (XEP-0054 §3.1)") {
  ProfilesStarted u;
  RawClient& alice = *u.alice;

  xml::Element empty = ask(alice, "", "<vCard xmlns='vcard-temp'/>");
  CHECK(empty.attr("type") == "result");
  REQUIRE(empty.first_child());
  CHECK(*empty.first_child() == parse("<vCard xmlns='vcard-temp'/>"));

  xml::Element stored = ask(alice, "", kVcardWithPhoto, "set");
  CHECK(stored.attr("type") == "result");
  CHECK(stored.element_count() == 0);

  for (const char* to : {"", "alice@localhost"}) {
    CAPTURE(to);
    xml::Element got = ask(alice, to, "<vCard xmlns='vcard-temp'/>");
    CHECK(got.attr("type") == "result");
    REQUIRE(got.first_child());
    CHECK(*got.first_child() == parse(kVcardWithPhoto));
  }

  xml::Element info = ask(alice, "localhost", "<query xmlns='http://jabber.org/protocol/disco#info'/>");
  bool announced = false;
  for (const xml::Element& f : info.first_child("query")->children()) {
    if (f.attr("var") == "vcard-temp") announced = true;
  }
  CHECK(announced);
}

TEST_CASE("vcard: with visibility 'anyone' another user reads it; nobody else may set it") {
  ProfilesStarted u;
  RawClient& alice = *u.alice;
  RawClient& bob = *u.bob;
  REQUIRE(ask(alice, "", kVcardWithPhoto, "set").attr("type") == "result");

  xml::Element got = ask(bob, "alice@localhost", "<vCard xmlns='vcard-temp'/>");
  CHECK(got.attr("type") == "result");
  CHECK(got.attr("from") == "alice@localhost");
  REQUIRE(got.first_child());
  CHECK(*got.first_child() == parse(kVcardWithPhoto));

  xml::Element refused = ask(bob, "alice@localhost", "<vCard xmlns='vcard-temp'><FN>Mallory</FN></vCard>", "set");
  check_error(refused, "auth", "forbidden");
  CHECK(ask(alice, "", "<vCard xmlns='vcard-temp'/>").first_child()->first_child("FN")->text() == "Alice");
}

TEST_CASE("vcard: with visibility 'contacts' only subscribers (from/both) read it") {
  ProfilesStarted u("[hosts.\"localhost\".modules.vcard]\nvisibility = \"contacts\"\n");
  RawClient& alice = *u.alice;
  RawClient& bob = *u.bob;
  REQUIRE(ask(alice, "", kVcardWithPhoto, "set").attr("type") == "result");

  // Without a roster row.
  roster_row(u.server, "alice", "carol@localhost", "both");
  check_error(ask(bob, "alice@localhost", "<vCard xmlns='vcard-temp'/>"), "auth", "forbidden");
  // The owner still reads her own.
  CHECK(ask(alice, "", "<vCard xmlns='vcard-temp'/>").attr("type") == "result");

  // alice's roster has bob with subscription 'to' only: bob does not see her presence.
  roster_row(u.server, "alice", "bob@localhost", "to");
  check_error(ask(bob, "alice@localhost", "<vCard xmlns='vcard-temp'/>"), "auth", "forbidden");

  store::PgSync db(u.server.conninfo());
  REQUIRE(db.exec("UPDATE roster_items SET subscription = 'from' WHERE username = 'alice' AND contact = 'bob@localhost'")
              .ok);
  xml::Element got = ask(bob, "alice@localhost", "<vCard xmlns='vcard-temp'/>");
  CHECK(got.attr("type") == "result");
  REQUIRE(got.first_child());
  CHECK(*got.first_child() == parse(kVcardWithPhoto));
}

TEST_CASE("vcard: a vCard over max_bytes is not-acceptable and nothing is stored") {
  ProfilesStarted u("[hosts.\"localhost\".modules.vcard]\nmax_bytes = \"2KiB\"\n");
  RawClient& alice = *u.alice;
  REQUIRE(ask(alice, "", "<vCard xmlns='vcard-temp'><FN>Small</FN></vCard>", "set").attr("type") == "result");

  std::string big = "<vCard xmlns='vcard-temp'><DESC>" + std::string(3000, 'x') + "</DESC></vCard>";
  xml::Element refused = ask(alice, "", big, "set");
  check_error(refused, "modify", "not-acceptable");
  const xml::Element* text = refused.first_child("error")->first_child("text", kStanzaErrors);
  REQUIRE(text);
  CHECK(text->text() == "the vCard is larger than 2048 bytes");

  xml::Element got = ask(alice, "", "<vCard xmlns='vcard-temp'/>");
  CHECK(*got.first_child() == parse("<vCard xmlns='vcard-temp'><FN>Small</FN></vCard>"));

  // A photo that is not base64 cannot have a hash: refused as well.
  xml::Element bad = ask(alice, "", "<vCard xmlns='vcard-temp'><PHOTO><BINVAL>*not*</BINVAL></PHOTO></vCard>", "set");
  check_error(bad, "modify", "bad-request");
  got = ask(alice, "", "<vCard xmlns='vcard-temp'/>");
  CHECK(*got.first_child() == parse("<vCard xmlns='vcard-temp'><FN>Small</FN></vCard>"));
}

TEST_CASE("vcard: the avatar hash goes into the owner's presence (XEP-0153)") {
  ProfilesStarted u;
  RawClient& alice = *u.alice;
  RawClient& bob = *u.bob;
  // Presence is held until the account's hash is loaded; a vCard get queues
  // behind that load, so once it is answered bob is available.
  bob.send("<presence/>");
  ask(bob, "", "<vCard xmlns='vcard-temp'/>");

  // No vCard stored: nothing to announce.
  alice.send("<presence to='bob@localhost' id='p0'/>");
  std::optional<xml::Element> plain = bob.next_named("presence");
  REQUIRE(plain);
  CHECK(plain->attr("id") == "p0");
  CHECK_FALSE(plain->first_child("x", "vcard-temp:x:update"));

  REQUIRE(ask(alice, "", kVcardWithPhoto, "set").attr("type") == "result");
  alice.send("<presence to='bob@localhost' id='p1'><show>away</show></presence>");
  std::optional<xml::Element> stamped = bob.next_named("presence");
  REQUIRE(stamped);
  CHECK(stamped->attr("id") == "p1");
  CHECK(*stamped == parse("<presence xmlns='jabber:client' to='bob@localhost' id='p1' from='alice@localhost/desk'>"
                          "<show>away</show><x xmlns='vcard-temp:x:update'><photo>" +
                          std::string(kHelloSha1) + "</photo></x></presence>"));

  // A client that announces its own hash is left alone.
  alice.send("<presence to='bob@localhost' id='p2'><x xmlns='vcard-temp:x:update'><photo>abc</photo></x></presence>");
  std::optional<xml::Element> own = bob.next_named("presence");
  REQUIRE(own);
  CHECK(own->first_child("x", "vcard-temp:x:update")->first_child("photo")->text() == "abc");

  // A fresh session sending presence at once (the hash is still loading) gets it too.
  RawClient second(u.server.starttls_port());
  second.login("alice", "a", "laptop");
  second.send("<presence to='bob@localhost' id='p3'/>");
  std::optional<xml::Element> later = bob.next_named("presence");
  REQUIRE(later);
  CHECK(later->attr("from") == "alice@localhost/laptop");
  CHECK(later->first_child("x", "vcard-temp:x:update")->first_child("photo")->text() == kHelloSha1);
  // Presence sent behind a held one keeps its place.
  RawClient third(u.server.starttls_port());
  third.login("alice", "a", "tablet");
  third.send("<presence to='bob@localhost' id='q1'/><presence to='bob@localhost' type='unavailable' id='q2'/>");
  std::optional<xml::Element> available = bob.next_named("presence");
  std::optional<xml::Element> unavailable = bob.next_named("presence");
  REQUIRE(available);
  REQUIRE(unavailable);
  CHECK(available->attr("id") == "q1");
  CHECK(available->first_child("x", "vcard-temp:x:update"));
  CHECK(unavailable->attr("id") == "q2");
  CHECK_FALSE(unavailable->first_child("x", "vcard-temp:x:update"));

  // Without a photo the hash is empty: "no avatar".
  REQUIRE(ask(alice, "", "<vCard xmlns='vcard-temp'><FN>Alice</FN></vCard>", "set").attr("type") == "result");
  alice.send("<presence to='bob@localhost' id='p4'/>");
  std::optional<xml::Element> none = bob.next_named("presence");
  REQUIRE(none);
  const xml::Element* x = none->first_child("x", "vcard-temp:x:update");
  REQUIRE(x);
  REQUIRE(x->first_child("photo"));
  CHECK(x->first_child("photo")->text().empty());
}

TEST_CASE("private: the owner stores and reads elements by name and namespace (XEP-0049)") {
  ProfilesStarted u;
  RawClient& alice = *u.alice;

  xml::Element nothing = ask(alice, "", "<query xmlns='jabber:iq:private'><prefs xmlns='urn:example'/></query>");
  CHECK(nothing.attr("type") == "result");
  REQUIRE(nothing.first_child());
  CHECK(*nothing.first_child() == parse("<query xmlns='jabber:iq:private'><prefs xmlns='urn:example'/></query>"));

  const std::string prefs = "<prefs xmlns='urn:example'><colour>blue &amp; green</colour></prefs>";
  xml::Element stored = ask(alice, "", "<query xmlns='jabber:iq:private'>" + prefs + "</query>", "set");
  CHECK(stored.attr("type") == "result");
  CHECK(stored.element_count() == 0);
  // Same name, other namespace: a different slot.
  REQUIRE(ask(alice, "alice@localhost", "<query xmlns='jabber:iq:private'><prefs xmlns='urn:other'>x</prefs></query>",
              "set")
              .attr("type") == "result");

  xml::Element got = ask(alice, "alice@localhost", "<query xmlns='jabber:iq:private'><prefs xmlns='urn:example'/></query>");
  CHECK(got.attr("type") == "result");
  REQUIRE(got.first_child());
  CHECK(*got.first_child() == parse("<query xmlns='jabber:iq:private'>" + prefs + "</query>"));
}

TEST_CASE("private: an element with attributes in many namespaces reads back whole") {
  ProfilesStarted u;
  RawClient& alice = *u.alice;
  // 32 prefixes declared on the query and used on the child: stored, each
  // attribute's declaration is written on the child itself.
  std::string declarations, attributes;
  for (int i = 0; i < 32; ++i) {
    declarations += " xmlns:p" + std::to_string(i) + "='urn:p" + std::to_string(i) + "'";
    attributes += " p" + std::to_string(i) + ":a='v" + std::to_string(i) + "'";
  }
  const std::string query = "<query xmlns='jabber:iq:private'" + declarations + "><k xmlns='urn:k'" + attributes +
                            ">kept</k></query>";
  REQUIRE(ask(alice, "", query, "set").attr("type") == "result");
  xml::Element got = ask(alice, "", "<query xmlns='jabber:iq:private'><k xmlns='urn:k'/></query>");
  REQUIRE(got.first_child());
  CHECK(*got.first_child() == parse(query));
}

TEST_CASE("private: other users are forbidden, reserved namespaces not-acceptable (XEP-0049 §3)") {
  ProfilesStarted u("[hosts.\"localhost\".modules.private]\nmax_bytes = \"1KiB\"\n");
  RawClient& alice = *u.alice;
  RawClient& bob = *u.bob;
  REQUIRE(ask(alice, "", "<query xmlns='jabber:iq:private'><p xmlns='urn:example'>mine</p></query>", "set")
              .attr("type") == "result");

  check_error(ask(bob, "alice@localhost", "<query xmlns='jabber:iq:private'><p xmlns='urn:example'/></query>"),
              "auth", "forbidden");
  check_error(ask(bob, "alice@localhost", "<query xmlns='jabber:iq:private'><p xmlns='urn:example'>bob</p></query>",
                  "set"),
              "auth", "forbidden");

  for (const char* child : {"<p xmlns='jabber:client'/>", "<p xmlns='jabber:server'/>",
                            "<p xmlns='jabber:iq:private'/>", "<p/>"}) {
    CAPTURE(child);
    for (const char* type : {"get", "set"}) {
      CAPTURE(type);
      check_error(ask(alice, "", std::string("<query xmlns='jabber:iq:private'>") + child + "</query>", type),
                  "modify", "not-acceptable");
    }
  }
  check_error(ask(alice, "", "<query xmlns='jabber:iq:private'/>"), "modify", "bad-request");

  std::string big = "<query xmlns='jabber:iq:private'><p xmlns='urn:example'>" + std::string(2000, 'x') + "</p></query>";
  check_error(ask(alice, "", big, "set"), "modify", "not-acceptable");

  xml::Element got = ask(alice, "", "<query xmlns='jabber:iq:private'><p xmlns='urn:example'/></query>");
  CHECK(*got.first_child() == parse("<query xmlns='jabber:iq:private'><p xmlns='urn:example'>mine</p></query>"));
}

TEST_CASE("vcard, private: not enabled, their namespaces get service-unavailable") {
  TestServer server;
  server.add_user("alice@localhost", "a");
  RawClient alice(server.starttls_port());
  alice.login("alice", "a", "desk");
  check_error(ask(alice, "", "<vCard xmlns='vcard-temp'/>"), "cancel", "service-unavailable");
  check_error(ask(alice, "", "<query xmlns='jabber:iq:private'><p xmlns='urn:example'/></query>"), "cancel",
              "service-unavailable");
}
