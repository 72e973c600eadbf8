// Stream negotiation with real TLS and SASL (RFC 6120 §4-§7, XEP-0368).
#include <doctest/doctest.h>

#include "harness/raw_client.hpp"
#include "harness/strophe_client.hpp"
#include "harness/test_server.hpp"
#include "test_util.hpp"

using namespace parley;
using namespace parley::test;

TEST_CASE("before TLS the server offers only STARTTLS, and refuses authentication") {
  TestServer server;
  server.add_user("alice@localhost", "secret");
  RawClient client(server.starttls_port());
  xml::Element features = client.open_stream();
  const xml::Element* starttls = features.first_child("starttls", "urn:ietf:params:xml:ns:xmpp-tls");
  REQUIRE(starttls);
  CHECK(starttls->first_child("required"));
  CHECK_FALSE(features.first_child("mechanisms", kSasl));
  REQUIRE(client.stream_header());
  CHECK(client.stream_header()->attr("from") == "localhost");
  CHECK(client.stream_header()->attr("version") == "1.0");
  CHECK_FALSE(client.stream_header()->attr("id").empty());

  xml::Element outcome = client.authenticate("PLAIN", "alice", "secret");
  CHECK(outcome.name() == "failure");
  CHECK(condition_of(outcome, kSasl) == "encryption-required");
}

TEST_CASE("after STARTTLS every SCRAM variant and PLAIN authenticate") {
  TestServer server;
  server.add_user("alice@localhost", "secret");
  struct Case {
    const char* mechanism;
    const char* cb_type;
  };
  for (Case c : {Case{"SCRAM-SHA-1", ""}, Case{"SCRAM-SHA-256", ""}, Case{"SCRAM-SHA-512", ""},
                 Case{"SCRAM-SHA-1-PLUS", "tls-exporter"}, Case{"SCRAM-SHA-256-PLUS", "tls-exporter"},
                 Case{"SCRAM-SHA-512-PLUS", "tls-exporter"}, Case{"SCRAM-SHA-256-PLUS", "tls-server-end-point"},
                 Case{"PLAIN", ""}}) {
    std::string mechanism = c.mechanism, cb_type = c.cb_type;
    CAPTURE(mechanism);
    CAPTURE(cb_type);
    RawClient client(server.starttls_port());
    client.open_stream();
    xml::Element features = client.starttls();
    CHECK(client.tls_version() == "TLSv1.3");
    CHECK(has_mechanism(features, c.mechanism));
    xml::Element outcome = client.authenticate(c.mechanism, "alice", "secret", c.cb_type);
    CHECK(outcome.name() == "success");
    std::string jid = client.bind("desk");
    CHECK(jid == "alice@localhost/desk");
  }
}

TEST_CASE("a wrong password or unknown user fails with not-authorized") {
  TestServer server;
  server.add_user("alice@localhost", "secret");
  for (const char* mechanism : {"SCRAM-SHA-256", "SCRAM-SHA-1-PLUS", "PLAIN"}) {
    CAPTURE(mechanism);
    RawClient client(server.starttls_port());
    client.open_stream();
    client.starttls();
    xml::Element wrong = client.authenticate(mechanism, "alice", "wrong");
    CHECK(wrong.name() == "failure");
    CHECK(condition_of(wrong, kSasl) == "not-authorized");
    xml::Element unknown = client.authenticate(mechanism, "nobody", "secret");
    CHECK(unknown.name() == "failure");
    CHECK(condition_of(unknown, kSasl) == "not-authorized");
  }
}

TEST_CASE("a TLS session ticket comes only after a login, and resumes the next connection (RFC 8446 §2.2)") {
  TestServer server;
  server.add_user("alice@localhost", "secret");
  RawClient refused(server.starttls_port());
  refused.open_stream();
  refused.starttls();
  CHECK(refused.authenticate("SCRAM-SHA-256", "alice", "wrong").name() == "failure");
  refused.send("</stream:stream>");
  CHECK(refused.wait_closed());  // everything the server sent has been read
  CHECK(refused.tls_tickets_received() == 0);

  RawClient first(server.starttls_port());
  first.open_stream();
  first.starttls();
  CHECK(first.tls_tickets_received() == 0);  // none with the handshake
  CHECK(first.authenticate("SCRAM-SHA-256", "alice", "secret").name() == "success");
  CHECK(first.bind("desk") == "alice@localhost/desk");
  REQUIRE(first.tls_tickets_received() == 1);

  RawClient again(server.starttls_port());
  again.resume_with(first.tls_ticket());
  again.open_stream();
  again.starttls();
  CHECK(again.tls_resumed());
  CHECK(again.authenticate("SCRAM-SHA-256-PLUS", "alice", "secret").name() == "success");
  CHECK(again.bind("phone") == "alice@localhost/phone");
}

TEST_CASE("direct TLS (XEP-0368) skips STARTTLS") {
  TestServer server;
  server.add_user("alice@localhost", "secret");
  RawClient client(server.direct_tls_port(), true);
  xml::Element features = client.open_stream();
  CHECK_FALSE(features.first_child("starttls"));
  CHECK(has_mechanism(features, "SCRAM-SHA-256-PLUS"));
  CHECK(has_mechanism(features, "PLAIN"));
  CHECK(client.authenticate("SCRAM-SHA-512-PLUS", "alice", "secret").name() == "success");
  CHECK(client.bind("phone") == "alice@localhost/phone");
}

TEST_CASE("a bind without an id gets bad-request, and the stream can still bind (RFC 6120 §8.1.3)") {
  TestServer server;
  server.add_user("alice@localhost", "secret");
  RawClient client(server.starttls_port());
  client.open_stream();
  client.starttls();
  REQUIRE(client.authenticate("SCRAM-SHA-256", "alice", "secret").name() == "success");
  client.open_stream();
  client.send("<iq type='set'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>r</resource></bind></iq>");
  std::optional<xml::Element> refused = client.next_named("iq");
  REQUIRE(refused);
  CHECK(refused->attr("type") == "error");
  CHECK(condition_of(*refused, kStanzaErrors) == "bad-request");
  client.send("<iq type='set' id='b2'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>r</resource></bind></iq>");
  std::optional<xml::Element> bound = client.next_named("iq");
  REQUIRE(bound);
  CHECK(bound->attr("id") == "b2");
  CHECK(bound->attr("type") == "result");
}

TEST_CASE("the server generates a resource when the client asks for none") {
  TestServer server;
  server.add_user("alice@localhost", "secret");
  RawClient client(server.starttls_port());
  std::string jid = client.login("alice", "secret");
  CHECK(jid.rfind("alice@localhost/", 0) == 0);
  CHECK(jid.size() > std::string("alice@localhost/").size());
}

TEST_CASE("binding a full JID again replaces the old session, which gets <conflict/>") {
  TestServer server;
  server.add_user("alice@localhost", "secret");
  RawClient first(server.starttls_port());
  first.login("alice", "secret", "same");
  RawClient second(server.starttls_port());
  CHECK(second.login("alice", "secret", "same") == "alice@localhost/same");
  std::optional<xml::Element> error = first.next_named("error");
  REQUIRE(error);
  CHECK(RawClient::stream_error_condition(*error) == "conflict");
  CHECK(first.wait_closed());
  // The new session works.
  CHECK(ping(second).attr("type") == "result");
}

TEST_CASE("legacy session establishment and whitespace keepalives") {
  TestServer server;
  server.add_user("alice@localhost", "secret");
  RawClient client(server.starttls_port());
  client.login("alice", "secret", "r");
  xml::Element session = ask(client, "", "<session xmlns='urn:ietf:params:xml:ns:xmpp-session'/>", "set");
  CHECK(session.attr("type") == "result");
  client.send(" \n \t ");
  CHECK(ping(client).attr("type") == "result");
}

TEST_CASE("a client closing its stream gets the server's close and a closed connection") {
  TestServer server;
  server.add_user("alice@localhost", "secret");
  RawClient client(server.starttls_port());
  client.login("alice", "secret", "r");
  client.send("</stream:stream>");
  CHECK(client.wait_closed());
  CHECK(client.stream_closed());
}

TEST_CASE("a stream to a domain that is not served gets <host-unknown/>") {
  TestServer server;
  // RFC 6120 §4.7.2: 'to' is a domain; a JID with a local part or a resource
  // names no domain, even when its domain part is served here.
  for (const char* to : {"elsewhere.example", "alice@localhost", "localhost/r", "alice@localhost/r", ""}) {
    INFO("to='" << std::string(to) << "'");
    RawClient client(server.starttls_port());
    client.send(std::string("<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' "
                            "to='") + to + "' version='1.0'>");
    std::optional<xml::Element> error = client.next_named("error");
    REQUIRE(error);
    CHECK(RawClient::stream_error_condition(*error) == "host-unknown");
    CHECK(client.wait_closed());
  }
  // The domain is compared after RFC 7622 preparation.
  RawClient client(server.starttls_port());
  client.send("<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' "
              "to='LocalHost.' version='1.0'>");
  std::optional<xml::Element> features = client.next_named("features");
  REQUIRE(features);
}

TEST_CASE("stanzas before authentication end the stream with <not-authorized/>") {
  TestServer server;
  RawClient client(server.starttls_port());
  client.open_stream();
  client.starttls();
  client.send("<message to='bob@localhost'><body>hi</body></message>");
  std::optional<xml::Element> error = client.next_named("error");
  REQUIRE(error);
  CHECK(RawClient::stream_error_condition(*error) == "not-authorized");
}

TEST_CASE("libstrophe connects with STARTTLS and with direct TLS") {
  TestServer server;
  server.add_user("alice@localhost", "secret");
  StropheClient starttls("alice@localhost/strophe1", "secret", server.starttls_port());
  REQUIRE(starttls.connect());
  CHECK(starttls.bound_jid() == "alice@localhost/strophe1");
  StropheClient direct("alice@localhost/strophe2", "secret", server.direct_tls_port(), StropheClient::Tls::Direct);
  REQUIRE(direct.connect());
  CHECK(direct.bound_jid() == "alice@localhost/strophe2");
  StropheClient wrong("alice@localhost/strophe3", "nope", server.starttls_port());
  CHECK_FALSE(wrong.connect());
}

TEST_CASE("each virtual host presents its own certificate (SNI)") {
  ServerOptions options;
  options.hosts = {"a.test", "b.test"};
  TestServer server(options);
  server.add_user("carol@b.test", "pw");
  for (const char* host : {"a.test", "b.test"}) {
    CAPTURE(host);
    RawClient client(server.direct_tls_port(), true, host);
    CHECK(client.peer_certificate_matches(host));
    client.open_stream(host);
  }
  RawClient client(server.direct_tls_port(), true, "b.test");
  client.open_stream("b.test");
  CHECK(client.authenticate("SCRAM-SHA-256-PLUS", "carol", "pw").name() == "success");
  CHECK(client.bind("x", "b.test") == "carol@b.test/x");
}

TEST_CASE("the SCRAM 'y' flag is accepted by default and refused in strict mode (RFC 5802 §6)") {
  {
    TestServer server;
    server.add_user("alice@localhost", "secret");
    RawClient client(server.starttls_port());
    client.open_stream();
    client.starttls();
    CHECK(client.authenticate("SCRAM-SHA-256", "alice", "secret", "y").name() == "success");
  }
  ServerOptions options;
  options.extra_config = "[auth]\nstrict_channel_binding = true\nscram_iterations = 4096\n";
  TestServer strict(options);
  strict.add_user("alice@localhost", "secret");
  RawClient client(strict.starttls_port());
  client.open_stream();
  client.starttls();
  xml::Element refused = client.authenticate("SCRAM-SHA-256", "alice", "secret", "y");
  CHECK(condition_of(refused, kSasl) == "not-authorized");
  CHECK(client.authenticate("SCRAM-SHA-256-PLUS", "alice", "secret", "tls-exporter").name() == "success");
}
