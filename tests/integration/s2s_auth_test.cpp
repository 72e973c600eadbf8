// Federation (module "s2s"), authentication and policing: certificates
// (SASL EXTERNAL), dialback, plaintext legacy peers, the 'from' check on
// every incoming stanza, and the s2s stream limits.
#include "../common/dns_stub.hpp"
#include "s2s_fixture.hpp"

using namespace parley;
using namespace parley::test;
using namespace parley::test::s2s;

TEST_CASE("s2s: every stanza on an incoming link must come from the authenticated domain") {
  TwoDomains d;
  d.ca.issue({"a.localhost"}, "a-again");
  SUBCASE("a foreign 'from' ends the link with invalid-from") {
    auto peer = fake_server(d, "a.localhost", "a-again");
    authenticate_peer(*peer, "a.localhost");
    peer->send("<message from='mallory@c.localhost' to='bob@b.localhost'><body>spoof</body></message>");
    CHECK(stream_error_of(*peer) == "invalid-from");
    CHECK(peer->wait_closed());
    CHECK(d.b->log().find("sent a stanza from c.localhost") != std::string::npos);
  }
  SUBCASE("a stanza without 'from' ends the link with improper-addressing") {
    auto peer = fake_server(d, "a.localhost", "a-again");
    authenticate_peer(*peer, "a.localhost");
    peer->send("<message to='bob@b.localhost'><body>who?</body></message>");
    CHECK(stream_error_of(*peer) == "improper-addressing");
    CHECK(peer->wait_closed());
  }
  SUBCASE("a stanza for a domain that does not federate here ends the link with host-unknown") {
    // The peer's own domain, a name under ours that nothing serves, and
    // a remote domain: none could answer over a link of ours.
    for (const char* to : {"alice@a.localhost", "x@nothing.b.localhost", "elsewhere.example"}) {
      INFO("to='" << std::string(to) << "'");
      auto peer = fake_server(d, "a.localhost", "a-again");
      authenticate_peer(*peer, "a.localhost");
      peer->send(std::string("<iq type='get' id='t1' from='alice@a.localhost/x' to='") + to +
                 "'><ping xmlns='urn:xmpp:ping'/></iq>");
      CHECK(stream_error_of(*peer) == "host-unknown");
      CHECK(peer->wait_closed());
    }
  }
  SUBCASE("a stanza from the right domain is delivered") {
    auto bob = d.bob();
    auto peer = fake_server(d, "a.localhost", "a-again");
    authenticate_peer(*peer, "a.localhost");
    peer->send("<message from='alice@a.localhost/x' to='bob@b.localhost' type='chat'><body>real</body></message>");
    std::optional<xml::Element> got = next_message(*bob);
    REQUIRE(got);
    CHECK(got->attr("from") == "alice@a.localhost/x");
  }
  SUBCASE("stanzas before authentication end the link with not-authorized") {
    auto peer = fake_server(d, "a.localhost", "a-again");
    peer->open_stream("b.localhost");
    peer->starttls("b.localhost");
    peer->send("<message from='alice@a.localhost' to='bob@b.localhost'><body>early</body></message>");
    CHECK(stream_error_of(*peer) == "not-authorized");
  }
}

TEST_CASE("s2s: with policy 'certificate', a peer whose certificate does not prove its domain is refused") {
  TwoDomains d({}, "default_policy = \"certificate\"\n");
  SUBCASE("a certificate for another name") {
    d.ca.issue({"evil.localhost"}, "evil");
    auto peer = fake_server(d, "a.localhost", "evil");
    peer->open_stream("b.localhost");
    CHECK_THROWS_WITH(peer->starttls("b.localhost"), "stream error: not-authorized");
  }
  SUBCASE("a certificate from an untrusted issuer") {
    TestCa other;
    other.issue({"a.localhost"}, "a-untrusted");
    auto peer = std::make_unique<RawClient>(d.pb.s2s_port, false, "b.localhost");
    peer->act_as_server("a.localhost", (other.dir() / "a-untrusted.crt").string(),
                        (other.dir() / "a-untrusted.key").string());
    peer->open_stream("b.localhost");
    CHECK_THROWS_WITH(peer->starttls("b.localhost"), "stream error: not-authorized");
  }
  CHECK(d.b->log().find("refusing a.localhost: no valid certificate") != std::string::npos);
}

namespace {
// A fake peer's stream from `claimed` to b with certificate `cert`, up to
// SASL EXTERNAL for `authzid`; returns b's answer (and the peer, to watch).
xml::Element external_outcome(TwoDomains& d, const std::string& claimed, const std::string& cert,
                              const std::string& authzid, std::unique_ptr<RawClient>& peer) {
  peer = fake_server(d, claimed, cert);
  peer->open_stream("b.localhost");
  peer->starttls("b.localhost");
  peer->send("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='EXTERNAL'>" + core::base64_encode(authzid) +
             "</auth>");
  std::optional<xml::Element> outcome = peer->next();
  REQUIRE(outcome);
  return *outcome;
}
}  // namespace

TEST_CASE("s2s: SASL EXTERNAL for a domain the certificate does not name fails") {
  TwoDomains d;
  d.ca.issue({"a.localhost"}, "a-again");
  std::unique_ptr<RawClient> peer;
  xml::Element outcome = external_outcome(d, "c.localhost", "a-again", "c.localhost", peer);
  CHECK(outcome.name() == "failure");
  CHECK(condition_of(outcome, kSasl) == "not-authorized");
  CHECK(peer->wait_closed());
}

TEST_CASE("s2s: SASL EXTERNAL for another domain than the stream's 'from' fails, whatever the certificate names") {
  TwoDomains d;
  d.ca.issue({"a.localhost", "c.localhost"}, "a-and-c");
  std::unique_ptr<RawClient> peer;
  xml::Element outcome = external_outcome(d, "a.localhost", "a-and-c", "c.localhost", peer);
  CHECK(outcome.name() == "failure");
  CHECK(condition_of(outcome, kSasl) == "invalid-authzid");
  CHECK(peer->wait_closed());
  // The same certificate with the stream's own domain is accepted.
  CHECK(external_outcome(d, "c.localhost", "a-and-c", "c.localhost", peer).name() == "success");
}

TEST_CASE("s2s: with policy 'certificate', a parleyd whose certificate is not trusted cannot deliver") {
  TwoDomains d({}, "default_policy = \"certificate\"\n", /*a_issued=*/false);
  auto alice = d.alice();
  alice->send("<message to='bob@b.localhost' type='chat' id='m1'><body>self-signed</body></message>");
  std::optional<xml::Element> bounced = next_message(*alice);
  REQUIRE(bounced);
  CHECK(bounced->attr("id") == "m1");
  CHECK(condition_of(*bounced, kStanzaErrors) == "remote-server-not-found");
  CHECK(d.b->log().find("refusing a.localhost") != std::string::npos);
}

TEST_CASE("s2s: where policy allows dialback, an untrusted certificate is made up for by dialback (XEP-0220)") {
  TwoDomains d({}, "domain_policies = [\"a.localhost=dialback\"]\ndefault_policy = \"certificate\"\n",
               /*a_issued=*/false);
  auto alice = d.alice();
  auto bob = d.bob();
  alice->send("<message to='bob@b.localhost' type='chat' id='m1'><body>via dialback</body></message>");
  std::optional<xml::Element> got = next_message(*bob);
  REQUIRE(got);
  CHECK(got->attr("from") == "alice@a.localhost/home");
  CHECK(got->first_child("body")->text() == "via dialback");
  bob->send("<message to='alice@a.localhost/home' type='chat' id='m2'><body>back</body></message>");
  got = next_message(*alice);
  REQUIRE(got);
  CHECK(got->attr("id") == "m2");
  CHECK(d.b->log().find("incoming link a.localhost -> b.localhost authenticated by dialback") != std::string::npos);
  CHECK(d.a->log().find("link a.localhost -> b.localhost authenticated by dialback") != std::string::npos);
  CHECK(d.a->log().find("db:verify from b.localhost for a.localhost: valid") != std::string::npos);
}

TEST_CASE("s2s: a wrong dialback key is refused after asking the authoritative server") {
  TwoDomains d;  // default policy: dialback
  d.ca.issue({"evil.localhost"}, "evil");
  auto peer = fake_server(d, "a.localhost", "evil");
  peer->open_stream("b.localhost");
  xml::Element features = peer->starttls("b.localhost");
  CHECK_FALSE(has_mechanism(features, "EXTERNAL"));  // the certificate does not name a.localhost
  REQUIRE(features.first_child("dialback", "urn:xmpp:features:dialback"));
  peer->send("<result xmlns='jabber:server:dialback' from='a.localhost' to='b.localhost'>0badc0ffee</result>");
  std::optional<xml::Element> answer = peer->next_named("result", 10000);
  REQUIRE(answer);
  CHECK(answer->ns() == "jabber:server:dialback");
  CHECK(answer->attr("type") == "invalid");
  CHECK(answer->attr("from") == "b.localhost");
  CHECK(answer->attr("to") == "a.localhost");
  CHECK(peer->wait_closed());
  // b asked a (db:verify), and a, the authoritative server, said no.
  CHECK(d.b->log().find("checking the dialback key of a.localhost") != std::string::npos);
  CHECK(d.b->log().find("dialback for a.localhost failed") != std::string::npos);
  CHECK(d.a->log().find("db:verify from b.localhost for a.localhost: invalid") != std::string::npos);
}

TEST_CASE("s2s: a legacy peer in plaintext_domains may skip TLS and use dialback; others may not") {
  TwoDomains d({}, "plaintext_domains = [\"a.localhost\"]\n");
  SUBCASE("a listed domain gets optional STARTTLS and dialback, checked with its server") {
    RawClient peer(d.pb.s2s_port, false, "b.localhost");
    peer.act_as_server("a.localhost", (d.ca.dir() / "ca.crt").string(), (d.ca.dir() / "ca.key").string());
    xml::Element features = peer.open_stream("b.localhost");
    const xml::Element* starttls = features.first_child("starttls");
    REQUIRE(starttls);
    CHECK_FALSE(starttls->first_child("required"));
    REQUIRE(features.first_child("dialback", "urn:xmpp:features:dialback"));
    peer.send("<result xmlns='jabber:server:dialback' from='a.localhost' to='b.localhost'>0badc0ffee</result>");
    std::optional<xml::Element> answer = peer.next_named("result", 10000);
    REQUIRE(answer);
    CHECK(answer->attr("type") == "invalid");  // a.localhost's server never issued that key
    CHECK(d.a->log().find("db:verify from b.localhost for a.localhost: invalid") != std::string::npos);
  }
  SUBCASE("anyone else must start TLS first") {
    RawClient peer(d.pb.s2s_port, false, "b.localhost");
    peer.act_as_server("c.localhost", (d.ca.dir() / "ca.crt").string(), (d.ca.dir() / "ca.key").string());
    xml::Element features = peer.open_stream("b.localhost");
    REQUIRE(features.first_child("starttls"));
    CHECK(features.first_child("starttls")->first_child("required"));
    CHECK_FALSE(features.first_child("dialback", "urn:xmpp:features:dialback"));
    peer.send("<result xmlns='jabber:server:dialback' from='c.localhost' to='b.localhost'>0badc0ffee</result>");
    CHECK(stream_error_of(peer) == "not-authorized");
  }
}

TEST_CASE("s2s: the s2s port refuses client streams and domains not served here") {
  TwoDomains d;
  RawClient client(d.pb.s2s_port, false, "b.localhost");
  CHECK_THROWS_WITH(client.open_stream("b.localhost"), "stream error: invalid-namespace");  // jabber:client

  RawClient unknown(d.pb.s2s_port, false, "b.localhost");
  unknown.act_as_server("a.localhost", (d.ca.dir() / "ca.crt").string(), (d.ca.dir() / "ca.key").string());
  unknown.send("<?xml version='1.0'?><stream:stream xmlns='jabber:server' "
               "xmlns:stream='http://etherx.jabber.org/streams' to='z.localhost' from='a.localhost' version='1.0'>");
  std::optional<xml::Element> error = unknown.next_named("error");
  REQUIRE(error);
  CHECK(RawClient::stream_error_condition(*error) == "host-unknown");

  // Domains compare after RFC 7622 preparation: case and a final dot do not matter.
  d.ca.issue({"a.localhost"}, "a-again");
  auto peer = fake_server(d, "A.LocalHost.", "a-again");
  xml::Element features = peer->open_stream("B.LocalHost.");
  REQUIRE(peer->stream_header());
  CHECK(peer->stream_header()->attr("from") == "b.localhost");
  features = peer->starttls("B.LocalHost.");
  CHECK(has_mechanism(features, "EXTERNAL"));  // the certificate names a.localhost
  peer->send("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='EXTERNAL'>" +
             core::base64_encode("A.LOCALHOST") + "</auth>");
  std::optional<xml::Element> outcome = peer->next();
  REQUIRE(outcome);
  CHECK(outcome->name() == "success");
}

TEST_CASE("s2s: a stanza larger than modules.s2s.max_stanza_size closes the link") {
  TwoDomains d({}, "max_stanza_size = \"20KiB\"\n");
  d.ca.issue({"a.localhost"}, "a-again");
  auto peer = fake_server(d, "a.localhost", "a-again");
  authenticate_peer(*peer, "a.localhost");
  peer->send("<message from='alice@a.localhost' to='bob@b.localhost'><body>" + std::string(30000, 'x') +
             "</body></message>");
  CHECK(stream_error_of(*peer) == "policy-violation");
}

TEST_CASE("s2s: an incoming link that does not authenticate within connect_timeout is closed") {
  TwoDomains d({}, "connect_timeout = \"1s\"\n");
  RawClient peer(d.pb.s2s_port, false, "b.localhost");
  peer.act_as_server("a.localhost", (d.ca.dir() / "ca.crt").string(), (d.ca.dir() / "ca.key").string());
  peer.open_stream("b.localhost");  // and then nothing
  CHECK(stream_error_of(peer) == "connection-timeout");
  CHECK(peer.wait_closed());
}

TEST_CASE("s2s: incoming links per IP are limited by modules.s2s.max_links_per_ip") {
  TwoDomains d({}, "max_links_per_ip = 1\n");
  RawClient first(d.pb.s2s_port, false, "b.localhost");
  first.act_as_server("a.localhost", (d.ca.dir() / "ca.crt").string(), (d.ca.dir() / "ca.key").string());
  REQUIRE(first.open_stream("b.localhost").first_child("starttls"));
  RawClient second(d.pb.s2s_port, false, "b.localhost");
  CHECK(second.wait_closed());  // closed on arrival, before any stream
  CHECK(d.b->log().find("refusing a link from 127.0.0.1") != std::string::npos);
  first.send("</stream:stream>");
  CHECK(first.wait_closed());
  // The first one gone (its count drops as the server finishes closing it),
  // a new link is accepted again.
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  RawClient third(d.pb.s2s_port, false, "b.localhost");
  third.act_as_server("a.localhost", (d.ca.dir() / "ca.crt").string(), (d.ca.dir() / "ca.key").string());
  CHECK(third.open_stream("b.localhost").first_child("starttls"));
}

TEST_CASE("s2s: an incoming link acknowledges what it handled when asked (XEP-0198)") {
  TwoDomains d;
  d.ca.issue({"a.localhost"}, "a-again");
  auto bob = d.bob();
  auto peer = fake_server(d, "a.localhost", "a-again");
  xml::Element features = peer->open_stream("b.localhost");
  features = peer->starttls("b.localhost");
  CHECK(features.first_child("sm", "urn:xmpp:sm:3"));
  // Not before authentication.
  peer->send("<enable xmlns='urn:xmpp:sm:3'/>");
  std::optional<xml::Element> refused = peer->next();
  REQUIRE(refused);
  CHECK(refused->name() == "failed");
  peer->send("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='EXTERNAL'>" +
             core::base64_encode("a.localhost") + "</auth>");
  REQUIRE(peer->next()->name() == "success");
  peer->restart_stream();
  CHECK(peer->open_stream("b.localhost").first_child("sm", "urn:xmpp:sm:3"));

  peer->send("<enable xmlns='urn:xmpp:sm:3'/>");
  std::optional<xml::Element> enabled = peer->next();
  REQUIRE(enabled);
  CHECK(enabled->name() == "enabled");
  CHECK(enabled->attr("resume").empty());  // acknowledgements only
  peer->send("<message from='alice@a.localhost/x' to='bob@b.localhost' type='chat' id='k1'><body>1</body></message>"
             "<message from='alice@a.localhost/x' to='bob@b.localhost' type='chat' id='k2'><body>2</body></message>"
             "<r xmlns='urn:xmpp:sm:3'/>");
  std::optional<xml::Element> ack = peer->next();
  REQUIRE(ack);
  CHECK(ack->name() == "a");
  CHECK(ack->attr("h") == "2");
  CHECK(next_message(*bob)->attr("id") == "k1");
  CHECK(next_message(*bob)->attr("id") == "k2");
  peer->send("<r xmlns='urn:xmpp:sm:3'/>");
  CHECK(peer->next()->attr("h") == "2");
}

TEST_CASE("s2s: a db:verify waits while the link it goes on is in the middle of SASL EXTERNAL") {
  // b's link to x.localhost (a fake server) has sent <auth/> and waits for
  // the answer; meanwhile x.localhost asks b for a link by dialback, so b
  // must verify the key with x over that link. The peer discards what it
  // read before the stream restart, so the verify must wait for it.
  TestCa ca;
  ca.issue({"x.localhost"}, "x");
  const std::string x_cert = (ca.dir() / "x.crt").string();
  const std::string x_key = (ca.dir() / "x.key").string();
  FakeServerPort x_port;
  Peer pb{"b.localhost", free_port()};
  TestServer b(s2s_options(ca, pb, Peer{"x.localhost", x_port.port()}, {}));
  b.add_user("bob@b.localhost", "b");
  RawClient bob(b.starttls_port());
  bob.login("bob", "b", "work", "b.localhost");
  bob.send("<iq type='get' id='q1' to='x.localhost'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>");

  std::unique_ptr<RawClient> link = RawClient::accept_from(x_port.fd);
  REQUIRE(link->answer_stream("x.localhost",
                              "<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'><required/></starttls>"));
  REQUIRE(link->next_named("starttls"));
  link->send("<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>");
  link->accept_tls(x_cert, x_key);
  REQUIRE(link->answer_stream("x.localhost",
                              "<mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>EXTERNAL</mechanism>"
                              "</mechanisms><dialback xmlns='urn:xmpp:features:dialback'><errors/></dialback>"));
  std::optional<xml::Element> auth = link->next();
  REQUIRE(auth);
  REQUIRE(auth->name() == "auth");

  RawClient claimant(pb.s2s_port, false, "b.localhost");
  claimant.act_as_server("x.localhost", x_cert, x_key);
  claimant.open_stream("b.localhost");
  xml::Element features = claimant.starttls("b.localhost");
  REQUIRE(features.first_child("dialback", "urn:xmpp:features:dialback"));
  claimant.send("<db:result xmlns:db='jabber:server:dialback' from='x.localhost' to='b.localhost'>k3y</db:result>");

  // Nothing may follow <auth/> until the SASL outcome.
  std::optional<xml::Element> early = link->next(1000);
  CHECK_FALSE(early);

  link->send("<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>");
  link->restart_stream();
  REQUIRE(link->answer_stream("x.localhost", ""));
  std::optional<xml::Element> verify = link->next_named("verify");
  REQUIRE(verify);
  CHECK(verify->ns() == "jabber:server:dialback");
  CHECK(verify->attr("from") == "b.localhost");
  CHECK(verify->attr("to") == "x.localhost");
  CHECK(verify->text() == "k3y");
  link->send("<db:verify xmlns:db='jabber:server:dialback' from='x.localhost' to='b.localhost' id='" +
             std::string(verify->attr("id")) + "' type='invalid'/>");
  std::optional<xml::Element> result = claimant.next_named("result");
  REQUIRE(result);
  CHECK(result->attr("type") == "invalid");
}
