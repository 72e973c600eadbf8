// XEP-0352 client state indication: what an inactive client is sent later,
// what it is sent at once, and what brings the held stanzas out.
#include <doctest/doctest.h>

#include <csignal>

#include "harness/raw_client.hpp"
#include "harness/test_server.hpp"
#include "test_util.hpp"

using namespace parley;
using namespace parley::test;

namespace {

constexpr std::string_view kCsi = "urn:xmpp:csi:0";

TestServer make_server(std::vector<std::string> modules = {"disco", "ping", "csi"}, std::string extra_config = {}) {
  ServerOptions options;
  options.modules = std::move(modules);
  options.extra_config = std::move(extra_config);
  return TestServer(options);
}

// alice/phone, inactive, and bob/desk, both available.
struct InactiveAlice {
  TestServer server;
  RawClient alice;
  RawClient bob;
  explicit InactiveAlice(std::string extra_config = {})
      : server(make_server({"disco", "ping", "csi"}, std::move(extra_config))),
        alice(server.starttls_port()),
        bob(server.starttls_port()) {
    server.add_user("alice@localhost", "secret");
    server.add_user("bob@localhost", "b");
    alice.login("alice", "secret", "phone");
    bob.login("bob", "b", "desk");
    alice.send("<presence/>");
    bob.send("<presence/>");
    set_state("inactive");
  }
  // Once the ping is answered, the server has read the state before it.
  void set_state(std::string_view state) {
    alice.send("<" + std::string(state) + " xmlns='urn:xmpp:csi:0'/>");
    REQUIRE(ping(alice).attr("type") == "result");
  }
};

std::string presence_from_bob(std::string_view show) {
  return "<presence to='alice@localhost/phone'><show>" + std::string(show) + "</show></presence>";
}

std::string chat_state_from_bob(std::string_view state, std::string_view to = "alice@localhost/phone") {
  return "<message type='chat' to='" + std::string(to) + "'><" + std::string(state) +
         " xmlns='http://jabber.org/protocol/chatstates'/></message>";
}

// What a stanza is, for comparing sequences: "presence dnd", "message paused", "message hi".
std::string label(const xml::Element& e) {
  if (e.name() == "presence") {
    const xml::Element* show = e.first_child("show");
    return "presence " + (show ? show->text() : std::string("available"));
  }
  if (e.name() != "message") return e.name();
  if (const xml::Element* body = e.first_child("body")) return "message " + body->text();
  const xml::Element* first = e.first_child();
  return "message " + (first ? first->name() : std::string());
}

std::vector<std::string> labels_until_quiet(RawClient& client, int quiet_ms = 400) {
  std::vector<std::string> out;
  while (std::optional<xml::Element> e = client.next(quiet_ms)) out.push_back(label(*e));
  return out;
}

}  // namespace

TEST_CASE("csi: offered once the client has authenticated") {
  TestServer server = make_server();
  server.add_user("alice@localhost", "secret");
  RawClient client(server.starttls_port());
  client.open_stream();
  xml::Element before = client.starttls();
  CHECK_FALSE(before.first_child("csi", kCsi));
  REQUIRE(client.authenticate("SCRAM-SHA-256", "alice", "secret").name() == "success");
  xml::Element after = client.open_stream();
  CHECK(after.first_child("csi", kCsi));
}

TEST_CASE("csi: presence and chat states wait for the next message that matters; only the newest of each goes") {
  InactiveAlice s;
  s.bob.send(presence_from_bob("away"));
  s.bob.send(chat_state_from_bob("composing"));
  s.bob.send(presence_from_bob("dnd"));
  s.bob.send(chat_state_from_bob("paused"));
  REQUIRE(ping(s.bob).attr("type") == "result");  // all four have been routed
  CHECK_FALSE(s.alice.next(500));

  s.bob.send("<message type='chat' to='alice@localhost/phone'><body>hi</body></message>");
  CHECK(labels_until_quiet(s.alice) == std::vector<std::string>{"presence dnd", "message paused", "message hi"});

  // A request needs an answer: it goes at once, and takes what waits along.
  s.bob.send(presence_from_bob("xa"));
  s.bob.send("<iq type='get' id='v1' to='alice@localhost/phone'><query xmlns='jabber:iq:version'/></iq>");
  CHECK(labels_until_quiet(s.alice) == std::vector<std::string>{"presence xa", "iq"});
}

TEST_CASE("csi: <active/> sends what was held, and nothing waits afterwards") {
  InactiveAlice s;
  s.bob.send(presence_from_bob("away"));
  REQUIRE(ping(s.bob).attr("type") == "result");
  CHECK_FALSE(s.alice.next(500));
  s.alice.send("<active xmlns='urn:xmpp:csi:0'/>");
  CHECK(labels_until_quiet(s.alice) == std::vector<std::string>{"presence away"});
  s.bob.send(chat_state_from_bob("composing"));
  std::optional<xml::Element> at_once = s.alice.next(2000);
  REQUIRE(at_once);
  CHECK(label(*at_once) == "message composing");
}

TEST_CASE("csi: one stanza past modules.csi.max_held sends them all") {
  InactiveAlice s("[modules.csi]\nmax_held = 2\n");
  s.bob.send(presence_from_bob("away"));
  s.bob.send(chat_state_from_bob("composing"));
  s.bob.send(presence_from_bob("dnd"));  // replaces away: still two held
  REQUIRE(ping(s.bob).attr("type") == "result");
  CHECK_FALSE(s.alice.next(500));
  // Another conversation's chat state is a third key.
  s.bob.send(chat_state_from_bob("gone", "alice@localhost"));
  CHECK(labels_until_quiet(s.alice) ==
        std::vector<std::string>{"message composing", "presence dnd", "message gone"});
}

TEST_CASE("csi: other elements in its namespace, the states before binding, and a disabled module end the stream") {
  InactiveAlice s;
  s.alice.send("<unknown xmlns='urn:xmpp:csi:0'/>");
  std::optional<xml::Element> error = s.alice.next_named("error");
  REQUIRE(error);
  CHECK(condition_of(*error, kStreamErrors) == "unsupported-stanza-type");
  CHECK(s.alice.wait_closed());

  RawClient unbound(s.server.starttls_port());
  unbound.open_stream();
  unbound.starttls();
  REQUIRE(unbound.authenticate("SCRAM-SHA-256", "alice", "secret").name() == "success");
  unbound.open_stream();
  unbound.send("<inactive xmlns='urn:xmpp:csi:0'/>");
  error = unbound.next_named("error");
  REQUIRE(error);
  CHECK(condition_of(*error, kStreamErrors) == "unsupported-stanza-type");

  TestServer without = make_server({"disco", "ping"});
  without.add_user("alice@localhost", "secret");
  RawClient client(without.starttls_port());
  client.open_stream();
  client.starttls();
  REQUIRE(client.authenticate("SCRAM-SHA-256", "alice", "secret").name() == "success");
  xml::Element features = client.open_stream();
  CHECK_FALSE(features.first_child("csi", kCsi));
  client.send("<iq type='set' id='b1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></iq>");
  REQUIRE(client.next_named("iq"));
  client.send("<inactive xmlns='urn:xmpp:csi:0'/>");
  error = client.next_named("error");
  REQUIRE(error);
  CHECK(condition_of(*error, kStreamErrors) == "unsupported-stanza-type");
  check_still_serving(s.server);
}

TEST_CASE("csi: a reload keeps inactive clients inactive; one that disables the module sends what was held") {
  InactiveAlice s;
  s.bob.send(presence_from_bob("away"));
  REQUIRE(ping(s.bob).attr("type") == "result");
  CHECK_FALSE(s.alice.next(500));

  s.server.write_config({});
  s.server.signal(SIGHUP);
  REQUIRE(eventually([&] { return s.server.log().find("configuration and certificates reloaded") != std::string::npos; }));
  CHECK_FALSE(s.alice.next(500));  // still held: the module is still enabled
  s.bob.send(presence_from_bob("dnd"));  // and the carried gate still replaces
  REQUIRE(ping(s.bob).attr("type") == "result");
  CHECK_FALSE(s.alice.next(500));

  // Without the module nothing would ever send what waits: it goes at once.
  s.server.set_modules({"disco", "ping"});
  s.server.write_config({});
  s.server.signal(SIGHUP);
  CHECK(labels_until_quiet(s.alice, 2000) == std::vector<std::string>{"presence dnd"});
  s.bob.send(chat_state_from_bob("composing"));
  std::optional<xml::Element> at_once = s.alice.next(2000);
  REQUIRE(at_once);
  CHECK(label(*at_once) == "message composing");
  check_still_serving(s.server);
}
