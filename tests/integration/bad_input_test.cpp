// Hostile and broken input: each gets the exact stream or SASL error, and the
// server goes on serving other clients (RFC 6120 §4.9, §11).
#include <doctest/doctest.h>

#include <sys/socket.h>

#include <string>

#include "harness/raw_client.hpp"
#include "harness/test_server.hpp"
#include "test_util.hpp"

using namespace parley;
using namespace parley::test;

namespace {

const char* const kStreamHeader =
    "<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='localhost' "
    "version='1.0'>";

// Sends `bytes` on an authenticated stream (or a fresh one) and returns the
// stream error condition the server answered with.
std::string error_after(TestServer& server, const std::string& bytes, bool authenticated) {
  RawClient client(server.starttls_port());
  if (authenticated) {
    client.login("alice", "secret", "bad");
  } else {
    client.send(kStreamHeader);
  }
  client.send(bytes);
  std::optional<xml::Element> error = client.next_named("error", 10000);
  std::string condition = error ? RawClient::stream_error_condition(*error) : "(no stream error)";
  CHECK(client.wait_closed());
  return condition;
}

}  // namespace

TEST_CASE("malformed and restricted XML get the RFC's stream errors") {
  TestServer server;
  server.add_user("alice@localhost", "secret");
  CHECK(error_after(server, "<message><body>unclosed</message>", true) == "not-well-formed");
  CHECK(error_after(server, std::string("\x00\xff\xfe garbage <<<>>>", 17), false) == "not-well-formed");
  // Inside the stream a DOCTYPE is not even well-formed XML; before it, it is restricted XML.
  CHECK(error_after(server, "<!DOCTYPE foo [<!ENTITY x 'y'>]>", false) == "not-well-formed");
  CHECK(error_after(server, "<!-- a comment -->", true) == "restricted-xml");
  CHECK(error_after(server, "<?pi instruction?>", true) == "restricted-xml");
  CHECK(error_after(server, "<message><body>&custom;</body></message>", true) == "restricted-xml");
  check_still_serving(server);
}

TEST_CASE("a DOCTYPE before the stream header gets restricted-xml") {
  TestServer server;
  server.add_user("alice@localhost", "secret");
  RawClient client(server.starttls_port());
  client.send(std::string("<?xml version='1.0'?><!DOCTYPE stream:stream>") + kStreamHeader);
  std::optional<xml::Element> error = client.next_named("error");
  REQUIRE(error);
  CHECK(RawClient::stream_error_condition(*error) == "restricted-xml");
  CHECK(client.wait_closed());
  check_still_serving(server);
}

TEST_CASE("garbage before any stream gets not-well-formed") {
  TestServer server;
  server.add_user("alice@localhost", "secret");
  RawClient client(server.starttls_port());
  client.send("GET / HTTP/1.1\r\nHost: localhost\r\n\r\n");
  std::optional<xml::Element> error = client.next_named("error");
  REQUIRE(error);
  CHECK(RawClient::stream_error_condition(*error) == "not-well-formed");
  CHECK(client.wait_closed());
  check_still_serving(server);
}

TEST_CASE("a client's stream error closes the stream without one of ours (RFC 6120 §4.9.1)") {
  TestServer server;
  server.add_user("alice@localhost", "secret");
  const std::string stream_error =
      "<stream:error><conflict xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error>";
  RawClient early(server.starttls_port());
  early.open_stream();
  early.send(stream_error);
  CHECK_FALSE(early.next_named("error", 1000));
  CHECK(early.wait_closed());
  CHECK(early.stream_closed());

  RawClient bound(server.starttls_port());
  bound.login("alice", "secret", "r");
  bound.send(stream_error);
  CHECK_FALSE(bound.next_named("error", 1000));
  CHECK(bound.wait_closed());
  CHECK(bound.stream_closed());
  check_still_serving(server);
}

TEST_CASE("billion laughs is stopped at the DOCTYPE") {
  TestServer server;
  server.add_user("alice@localhost", "secret");
  std::string laughs = "<?xml version='1.0'?><!DOCTYPE lolz [<!ENTITY lol 'lol'>";
  for (int i = 1; i < 10; ++i) {
    laughs += "<!ENTITY lol" + std::to_string(i) + " '";
    for (int j = 0; j < 10; ++j) laughs += "&lol" + (i == 1 ? std::string() : std::to_string(i - 1)) + ";";
    laughs += "'>";
  }
  laughs += "]><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>&lol9;";
  RawClient client(server.starttls_port());
  client.send(laughs);
  std::optional<xml::Element> error = client.next_named("error");
  REQUIRE(error);
  CHECK(RawClient::stream_error_condition(*error) == "restricted-xml");
  check_still_serving(server);
}

TEST_CASE("a 10 MiB stanza and 100,000-deep nesting get policy-violation") {
  TestServer server;
  server.add_user("alice@localhost", "secret");
  std::string huge = "<message to='alice@localhost'><body>" + std::string(10 * 1024 * 1024, 'x') + "</body></message>";
  CHECK(error_after(server, huge, true) == "policy-violation");
  std::string deep;
  for (int i = 0; i < 100000; ++i) deep += "<a>";
  CHECK(error_after(server, "<message to='alice@localhost'>" + deep, true) == "policy-violation");
  check_still_serving(server);
}

TEST_CASE("a stream in the wrong namespace gets invalid-namespace") {
  TestServer server;
  server.add_user("alice@localhost", "secret");
  RawClient client(server.starttls_port());
  client.send("<stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams' "
              "to='localhost' version='1.0'>");
  std::optional<xml::Element> error = client.next_named("error");
  REQUIRE(error);
  CHECK(RawClient::stream_error_condition(*error) == "invalid-namespace");
}

TEST_CASE("100 wrong passwords are throttled, per account and per IP") {
  TestServer server;
  server.add_user("alice@localhost", "secret");
  server.add_user("bob@localhost", "bobpw");
  int not_authorized = 0;
  int throttled = 0;
  for (int attempt = 0; attempt < 100;) {
    RawClient client(server.starttls_port());
    client.open_stream();
    client.starttls();
    // A connection is closed after 5 failures; reconnect and go on.
    for (int i = 0; i < 5 && attempt < 100; ++i, ++attempt) {
      xml::Element outcome = client.authenticate("SCRAM-SHA-256", "alice", "guess" + std::to_string(attempt));
      REQUIRE(outcome.name() == "failure");
      std::string condition = condition_of(outcome, kSasl);
      if (condition == "not-authorized") ++not_authorized;
      if (condition == "temporary-auth-failure") {
        ++throttled;
        const xml::Element* text = outcome.first_child("text");
        REQUIRE(text);
        CHECK(text->text().find("try again in") != std::string::npos);
      }
    }
  }
  CHECK(not_authorized == 5);  // limits.auth_failures_per_account
  CHECK(throttled == 95);
  // While throttled even the right password is refused for that account...
  RawClient again(server.starttls_port());
  again.open_stream();
  again.starttls();
  xml::Element refused = again.authenticate("SCRAM-SHA-256", "alice", "secret");
  CHECK(condition_of(refused, kSasl) == "temporary-auth-failure");
  // ...but other accounts are not locked out by it (5 < per-IP limit of 20).
  RawClient bob(server.starttls_port());
  CHECK(bob.login("bob", "bobpw", "ok") == "bob@localhost/ok");
}

TEST_CASE("a client that stops reading is dropped; its senders keep being served") {
  ServerOptions options;
  options.extra_config = "[limits]\nmax_output_buffer = \"256KiB\"\n";
  TestServer server(options);
  server.add_user("alice@localhost", "secret");
  server.add_user("bob@localhost", "bobpw");
  RawClient sleeper(server.starttls_port());
  sleeper.login("alice", "secret", "sleepy");
  sleeper.send("<presence/>");
  int small = 4096;
  setsockopt(sleeper.fd(), SOL_SOCKET, SO_RCVBUF, &small, sizeof small);

  RawClient sender(server.starttls_port());
  sender.login("bob", "bobpw", "sender");
  std::string body(64 * 1024, 'z');
  bool bounced = false;
  // 64 MiB at most; the server must give up on alice long before that.
  for (int i = 0; i < 1024 && !bounced; ++i) {
    sender.send("<message to='alice@localhost/sleepy' type='chat'><body>" + body + "</body></message>");
    if (i % 16 == 15) {
      sender.send("<iq type='get' id='sync" + std::to_string(i) + "' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>");
      while (std::optional<xml::Element> e = sender.next(5000)) {
        if (e->name() == "message" && e->attr("type") == "error") bounced = true;
        if (e->name() == "iq") break;
      }
    }
  }
  CHECK(bounced);  // once alice is gone, messages to her resource bounce
  CHECK(server.log().find("client is not reading") != std::string::npos);
  check_still_serving(server);
}
