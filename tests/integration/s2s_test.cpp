// Federation (module "s2s"): two real parleyd processes, a.localhost and
// b.localhost, with certificates from a test CA and static routes to each
// other's s2s ports; and byte-level peers that misbehave on purpose.
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <functional>
#include <memory>
#include <thread>

#include "../common/dns_stub.hpp"
#include "core/base64.hpp"
#include "harness/raw_client.hpp"
#include "harness/test_server.hpp"
#include "test_util.hpp"

using namespace parley;
using namespace parley::test;

namespace {

struct Peer {
  std::string domain;
  uint16_t s2s_port;
};

ServerOptions s2s_options(const TestCa& ca, const Peer& self, const Peer& other, const std::string& extra,
                          bool issued = true) {
  ServerOptions options;
  options.hosts = {self.domain};
  options.modules = {"disco", "ping", "roster", "s2s", "version"};
  if (issued) options.issuer = ca.files;
  options.extra_config = "[modules.s2s]\nport = " + std::to_string(self.s2s_port) +
                         "\nbind_addresses = [\"127.0.0.1\"]\nroutes = [\"" + other.domain +
                         "=127.0.0.1:" + std::to_string(other.s2s_port) + "\"]\nca_file = \"" +
                         ca.cert_file().string() + "\"\nreconnect_backoff = \"0s\"\n" + extra;
  return options;
}

// a.localhost and b.localhost, federated; alice lives on a, bob on b.
struct TwoDomains {
  TestCa ca;
  Peer pa{"a.localhost", free_port()};
  Peer pb{"b.localhost", free_port()};
  std::unique_ptr<TestServer> a;
  std::unique_ptr<TestServer> b;
  explicit TwoDomains(const std::string& extra_a = {}, const std::string& extra_b = {}, bool a_issued = true) {
    a = std::make_unique<TestServer>(s2s_options(ca, pa, pb, extra_a, a_issued));
    b = std::make_unique<TestServer>(s2s_options(ca, pb, pa, extra_b));
    a->add_user("alice@a.localhost", "a");
    b->add_user("bob@b.localhost", "b");
  }
  ~TwoDomains() {
    if (getenv("S2S_DEBUG")) fprintf(stderr, "---- a\n%s\n---- b\n%s\n", a->log().c_str(), b->log().c_str());
  }
  std::unique_ptr<RawClient> alice(const std::string& resource = "home") {
    auto client = std::make_unique<RawClient>(a->starttls_port());
    client->login("alice", "a", resource, "a.localhost");
    ask(*client, "", "<query xmlns='jabber:iq:roster'/>");  // interested in roster pushes
    client->send("<presence/>");
    ping(*client, "a.localhost");
    return client;
  }
  std::unique_ptr<RawClient> bob(const std::string& resource = "work") {
    auto client = std::make_unique<RawClient>(b->starttls_port());
    client->login("bob", "b", resource, "b.localhost");
    ask(*client, "", "<query xmlns='jabber:iq:roster'/>");
    client->send("<presence/>");
    ping(*client, "b.localhost");
    return client;
  }
};

std::optional<xml::Element> next_message(RawClient& client, int timeout_ms = 10000) {
  return client.next_named("message", timeout_ms);
}

// Our own peer on b's s2s port, claiming `claimed`, presenting the CA-issued
// certificate in `cert` (a file stem in the CA's directory).
std::unique_ptr<RawClient> fake_server(TwoDomains& d, const std::string& claimed, const std::string& cert) {
  auto peer = std::make_unique<RawClient>(d.pb.s2s_port, false, "b.localhost");
  peer->act_as_server(claimed, (d.ca.dir() / (cert + ".crt")).string(), (d.ca.dir() / (cert + ".key")).string());
  return peer;
}

// Up to an authenticated stream; returns the features after SASL.
xml::Element authenticate_peer(RawClient& peer, const std::string& authzid) {
  xml::Element features = peer.open_stream("b.localhost");
  REQUIRE(features.first_child("starttls"));
  features = peer.starttls("b.localhost");
  REQUIRE(has_mechanism(features, "EXTERNAL"));
  peer.send("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='EXTERNAL'>" +
            core::base64_encode(authzid) + "</auth>");
  std::optional<xml::Element> outcome = peer.next();
  REQUIRE(outcome);
  REQUIRE(outcome->name() == "success");
  peer.restart_stream();
  return peer.open_stream("b.localhost");
}

// The next stanza for which `match` holds, skipping (and answering, for
// roster pushes, RFC 6121 §2.1.6) the others.
std::optional<xml::Element> next_where(RawClient& client, const std::function<bool(const xml::Element&)>& match,
                                       int timeout_ms = 10000) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (std::chrono::steady_clock::now() < deadline) {
    std::optional<xml::Element> e = client.next(200);
    if (!e) continue;
    bool push = e->name() == "iq" && e->attr("type") == "set" && e->first_child("query", "jabber:iq:roster");
    if (push) client.send("<iq type='result' id='" + std::string(e->attr("id")) + "'/>");
    if (match(*e)) return e;
  }
  return std::nullopt;
}

// The subscription state of `contact` in the next roster push about it.
std::string pushed_subscription(RawClient& client, const std::string& contact) {
  std::optional<xml::Element> push = next_where(client, [&](const xml::Element& e) {
    const xml::Element* query = e.first_child("query", "jabber:iq:roster");
    const xml::Element* item = query ? query->first_child("item") : nullptr;
    return e.name() == "iq" && item && item->attr("jid") == contact;
  });
  if (!push) return "(no push)";
  return std::string(push->first_child("query")->first_child("item")->attr("subscription"));
}

std::optional<xml::Element> next_presence(RawClient& client, const std::string& from, const std::string& type) {
  return next_where(client, [&](const xml::Element& e) {
    std::string_view t = e.attr("type");
    return e.name() == "presence" && e.attr("from") == from && (type == "available" ? t.empty() : t == type);
  });
}

std::string stream_error_of(RawClient& peer) {
  std::optional<xml::Element> error = peer.next_named("error", 10000);
  return error ? RawClient::stream_error_condition(*error) : std::string();
}

}  // namespace

TEST_CASE("s2s: a message crosses to another domain and the answer comes back") {
  TwoDomains d;
  auto alice = d.alice();
  auto bob = d.bob();
  alice->send("<message to='bob@b.localhost' type='chat' id='m1'><body>hello from a</body></message>");
  std::optional<xml::Element> got = next_message(*bob);
  REQUIRE(got);
  CHECK(got->ns() == "jabber:client");
  CHECK(got->attr("from") == "alice@a.localhost/home");
  CHECK(got->attr("to") == "bob@b.localhost");
  CHECK(got->attr("type") == "chat");
  CHECK(got->attr("id") == "m1");
  REQUIRE(got->first_child("body"));
  CHECK(got->first_child("body")->text() == "hello from a");

  bob->send("<message to='alice@a.localhost/home' type='chat' id='m2'><body>hi from b</body></message>");
  got = next_message(*alice);
  REQUIRE(got);
  CHECK(got->attr("from") == "bob@b.localhost/work");
  CHECK(got->attr("to") == "alice@a.localhost/home");
  CHECK(got->first_child("body")->text() == "hi from b");
  CHECK(d.b->log().find("authenticated by certificate") != std::string::npos);
  CHECK(d.a->log().find("authenticated by certificate") != std::string::npos);
}

TEST_CASE("s2s: IQ round trips between domains, errors included") {
  TwoDomains d;
  auto alice = d.alice();
  xml::Element answer = ask(*alice, "b.localhost", "<query xmlns='jabber:iq:version'/>");
  CHECK(answer.attr("type") == "result");
  CHECK(answer.attr("from") == "b.localhost");
  CHECK(answer.attr("to") == "alice@a.localhost/home");
  const xml::Element* query = answer.first_child("query", "jabber:iq:version");
  REQUIRE(query);
  CHECK(query->first_child("name")->text() == "Parley");

  // A namespace nobody on b handles: b's error comes back over the links.
  answer = ask(*alice, "b.localhost", "<query xmlns='urn:example:nothing'/>");
  CHECK(answer.attr("type") == "error");
  CHECK(answer.attr("from") == "b.localhost");
  CHECK(condition_of(answer, kStanzaErrors) == "service-unavailable");

  // A message to an unknown account on b: its error reaches alice.
  alice->send("<message to='nobody@b.localhost' type='chat' id='m3'><body>?</body></message>");
  std::optional<xml::Element> bounced = next_message(*alice);
  REQUIRE(bounced);
  CHECK(bounced->attr("type") == "error");
  CHECK(bounced->attr("from") == "nobody@b.localhost");
  CHECK(condition_of(*bounced, kStanzaErrors) == "service-unavailable");
}

TEST_CASE("s2s: subscriptions both ways, presence broadcast and probes across domains (RFC 6121 §3-4)") {
  TwoDomains d;
  auto alice = d.alice();
  auto bob = d.bob();
  // alice asks to see bob (RFC 6121 §3.1): the request crosses as a bare-JID presence.
  alice->send("<presence type='subscribe' to='bob@b.localhost'/>");
  CHECK(pushed_subscription(*alice, "bob@b.localhost") == "none");
  std::optional<xml::Element> request = next_presence(*bob, "alice@a.localhost", "subscribe");
  REQUIRE(request);
  CHECK(request->attr("to") == "bob@b.localhost");
  // bob approves: alice's roster says "to", and bob's available presence follows (§3.1.5).
  bob->send("<presence type='subscribed' to='alice@a.localhost'/>");
  CHECK(pushed_subscription(*bob, "alice@a.localhost") == "from");
  CHECK(pushed_subscription(*alice, "bob@b.localhost") == "to");
  CHECK(next_presence(*alice, "bob@b.localhost/work", "available"));

  // And back: bob subscribes to alice.
  bob->send("<presence type='subscribe' to='alice@a.localhost'/>");
  CHECK(pushed_subscription(*bob, "alice@a.localhost") == "from");  // with ask='subscribe'
  REQUIRE(next_presence(*alice, "bob@b.localhost", "subscribe"));
  alice->send("<presence type='subscribed' to='bob@b.localhost'/>");
  CHECK(pushed_subscription(*alice, "bob@b.localhost") == "both");
  CHECK(pushed_subscription(*bob, "alice@a.localhost") == "both");
  CHECK(next_presence(*bob, "alice@a.localhost/home", "available"));

  // Broadcast: a presence change reaches the remote contact (§4.4).
  alice->send("<presence><show>away</show></presence>");
  std::optional<xml::Element> away = next_presence(*bob, "alice@a.localhost/home", "available");
  REQUIRE(away);
  REQUIRE(away->first_child("show"));
  CHECK(away->first_child("show")->text() == "away");

  // bob goes offline: alice sees him leave (§4.6 via session/closed).
  bob->send("</stream:stream>");
  bob.reset();
  CHECK(next_presence(*alice, "bob@b.localhost/work", "unavailable"));

  // bob comes back: his initial presence reaches alice, and his server's
  // probe of alice (§4.3) brings alice's current presence back to him.
  bob = d.bob("tablet");
  CHECK(next_presence(*alice, "bob@b.localhost/tablet", "available"));
  CHECK(next_presence(*bob, "alice@a.localhost/home", "available"));
}

TEST_CASE("s2s: a domain with no route, or whose server is down, is reported to the sender") {
  TwoDomains d;
  auto alice = d.alice();
  alice->send("<message to='carol@c.localhost' type='chat' id='m1'><body>?</body></message>");
  std::optional<xml::Element> bounced = next_message(*alice);
  REQUIRE(bounced);
  CHECK(bounced->attr("type") == "error");
  CHECK(bounced->attr("from") == "carol@c.localhost");
  CHECK(condition_of(*bounced, kStanzaErrors) == "remote-server-not-found");

  d.b->stop();
  alice->send("<message to='bob@b.localhost' type='chat' id='m2'><body>anyone?</body></message>");
  bounced = next_message(*alice);
  REQUIRE(bounced);
  CHECK(bounced->attr("id") == "m2");
  CHECK(bounced->attr("from") == "bob@b.localhost");
  CHECK(condition_of(*bounced, kStanzaErrors) == "remote-server-not-found");

  // b is back: the next stanza opens a new link.
  d.b->start();
  auto bob = d.bob();
  alice->send("<message to='bob@b.localhost' type='chat' id='m3'><body>there you are</body></message>");
  std::optional<xml::Element> got = next_message(*bob);
  REQUIRE(got);
  CHECK(got->attr("id") == "m3");
}

TEST_CASE("s2s: without a static route, the peer is found by DNS SRV in RFC 2782 order (c-ares)") {
  DnsStub dns;
  TestCa ca;
  Peer pa{"a.localhost", free_port()};
  Peer pb{"b.localhost", free_port()};
  uint16_t dead = free_port();
  // Priority 5 points at a port where nobody listens; priority 10 at b.
  dns.add_srv("_xmpp-server._tcp.b.localhost", {10, 0, pb.s2s_port, "b-host.test"});
  dns.add_srv("_xmpp-server._tcp.b.localhost", {5, 0, dead, "dead-host.test"});
  dns.add_a("b-host.test", "127.0.0.1");
  dns.add_a("dead-host.test", "127.0.0.1");
  ServerOptions options_a = s2s_options(ca, pa, pb, "[dns]\nservers = [\"" + dns.server() + "\"]\ntimeout = \"500ms\"\n");
  size_t at = options_a.extra_config.find("routes = [");
  options_a.extra_config.replace(at, options_a.extra_config.find('\n', at) - at, "routes = []");
  TestServer a(options_a);
  TestServer b(s2s_options(ca, pb, pa, {}));
  a.add_user("alice@a.localhost", "a");
  b.add_user("bob@b.localhost", "b");
  RawClient bob(b.starttls_port());
  bob.login("bob", "b", "work", "b.localhost");
  bob.send("<presence/>");
  ping(bob, "b.localhost");
  RawClient alice(a.starttls_port());
  alice.login("alice", "a", "home", "a.localhost");
  alice.send("<message to='bob@b.localhost' type='chat' id='d1'><body>found you</body></message>");
  std::optional<xml::Element> got = next_message(bob);
  REQUIRE(got);
  CHECK(got->attr("id") == "d1");
  CHECK(dns.queries("_xmpps-server._tcp.b.localhost") >= 1);  // XEP-0368 asked first
  std::string log = a.log();
  size_t tried_dead = log.find("port " + std::to_string(dead));
  size_t tried_b = log.find("port " + std::to_string(pb.s2s_port));
  CHECK(tried_dead != std::string::npos);
  CHECK(tried_b != std::string::npos);
  CHECK(tried_dead < tried_b);

  // A domain with no SRV and no address records: the sender is told.
  alice.send("<message to='x@nowhere.localhost' type='chat' id='d2'><body>?</body></message>");
  std::optional<xml::Element> bounced = next_message(alice);
  REQUIRE(bounced);
  CHECK(bounced->attr("id") == "d2");
  CHECK(condition_of(*bounced, kStanzaErrors) == "remote-server-not-found");
  CHECK(dns.queries("nowhere.localhost") >= 1);
}

TEST_CASE("s2s: a link that does not come up in time bounces its queue with remote-server-timeout") {
  // A peer that accepts TCP and then says nothing.
  int silent = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(bind(silent, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  REQUIRE(listen(silent, 8) == 0);
  socklen_t len = sizeof addr;
  getsockname(silent, reinterpret_cast<sockaddr*>(&addr), &len);
  std::string route = "\"mute.localhost=127.0.0.1:" + std::to_string(ntohs(addr.sin_port)) + "\"";
  TestCa ca;
  ServerOptions options = s2s_options(ca, {"a.localhost", free_port()}, {"b.localhost", free_port()},
                                      "connect_timeout = \"1s\"\nqueue_limit = 2\n");
  // Replace the generated route with the silent peer.
  size_t at = options.extra_config.find("routes = [");
  options.extra_config.replace(at, options.extra_config.find('\n', at) - at, "routes = [" + route + "]");
  TestServer a(options);
  a.add_user("alice@a.localhost", "a");
  RawClient alice(a.starttls_port());
  alice.login("alice", "a", "home", "a.localhost");
  for (int i = 1; i <= 3; ++i) {
    alice.send("<message to='x@mute.localhost' type='chat' id='q" + std::to_string(i) + "'><body>.</body></message>");
  }
  // The third does not fit the queue (queue_limit = 2) and is answered at once.
  std::optional<xml::Element> first = next_message(alice, 3000);
  REQUIRE(first);
  CHECK(first->attr("id") == "q3");
  CHECK(condition_of(*first, kStanzaErrors) == "resource-constraint");
  for (std::string id : {"q1", "q2"}) {
    std::optional<xml::Element> bounced = next_message(alice, 5000);
    REQUIRE(bounced);
    CHECK(bounced->attr("id") == id);
    CHECK(condition_of(*bounced, kStanzaErrors) == "remote-server-timeout");
  }
  close(silent);
}

TEST_CASE("s2s: a link that drops while it comes up bounces what it held, never losing it silently") {
  // A peer that answers the stream header with features, then vanishes.
  int listener = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  REQUIRE(listen(listener, 8) == 0);
  socklen_t len = sizeof addr;
  getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len);
  std::thread peer([listener] {
    int fd = accept(listener, nullptr, nullptr);
    char buffer[4096];
    ssize_t ignored = read(fd, buffer, sizeof buffer);  // our stream header
    std::string reply = "<?xml version='1.0'?><stream:stream xmlns='jabber:server' "
                        "xmlns:stream='http://etherx.jabber.org/streams' from='drop.localhost' id='x' "
                        "version='1.0'><stream:features><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'>"
                        "<required/></starttls></stream:features>";
    ignored = write(fd, reply.data(), reply.size());
    ignored = read(fd, buffer, sizeof buffer);  // <starttls/>
    (void)ignored;
    close(fd);  // gone mid-negotiation
  });
  TestCa ca;
  ServerOptions options = s2s_options(ca, {"a.localhost", free_port()}, {"b.localhost", free_port()}, {});
  size_t at = options.extra_config.find("routes = [");
  options.extra_config.replace(at, options.extra_config.find('\n', at) - at,
                               "routes = [\"drop.localhost=127.0.0.1:" + std::to_string(ntohs(addr.sin_port)) + "\"]");
  TestServer a(options);
  a.add_user("alice@a.localhost", "a");
  RawClient alice(a.starttls_port());
  alice.login("alice", "a", "home", "a.localhost");
  alice.send("<message to='x@drop.localhost' type='chat' id='q1'><body>1</body></message>"
             "<message to='x@drop.localhost' type='chat' id='q2'><body>2</body></message>");
  for (std::string id : {"q1", "q2"}) {
    std::optional<xml::Element> bounced = next_message(alice);
    REQUIRE(bounced);
    CHECK(bounced->attr("id") == id);
    CHECK(bounced->attr("type") == "error");
    CHECK(condition_of(*bounced, kStanzaErrors) == "remote-server-not-found");
  }
  peer.join();
  close(listener);
}

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

TEST_CASE("s2s: SASL EXTERNAL for a domain the certificate does not name fails") {
  TwoDomains d;
  d.ca.issue({"a.localhost"}, "a-again");
  auto peer = fake_server(d, "a.localhost", "a-again");
  peer->open_stream("b.localhost");
  peer->starttls("b.localhost");
  peer->send("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='EXTERNAL'>" +
             core::base64_encode("c.localhost") + "</auth>");
  std::optional<xml::Element> outcome = peer->next();
  REQUIRE(outcome);
  CHECK(outcome->name() == "failure");
  CHECK(condition_of(*outcome, kSasl) == "not-authorized");
  CHECK(peer->wait_closed());
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

TEST_CASE("s2s: direct TLS links (XEP-0368) through a tls: route") {
  TestCa ca;
  Peer pa{"a.localhost", free_port()};
  Peer pb{"b.localhost", free_port()};
  uint16_t direct = free_port();
  ServerOptions options_a = s2s_options(ca, pa, pb, {});
  size_t at = options_a.extra_config.find("routes = [");
  options_a.extra_config.replace(at, options_a.extra_config.find('\n', at) - at,
                                 "routes = [\"b.localhost=tls:127.0.0.1:" + std::to_string(direct) + "\"]");
  TestServer a(options_a);
  TestServer b(s2s_options(ca, pb, pa, "direct_tls_port = " + std::to_string(direct) + "\n"));
  a.add_user("alice@a.localhost", "a");
  b.add_user("bob@b.localhost", "b");
  RawClient bob(b.starttls_port());
  bob.login("bob", "b", "work", "b.localhost");
  bob.send("<presence/>");
  ping(bob, "b.localhost");
  RawClient alice(a.starttls_port());
  alice.login("alice", "a", "home", "a.localhost");
  alice.send("<message to='bob@b.localhost' type='chat' id='t1'><body>direct</body></message>");
  std::optional<xml::Element> got = next_message(bob);
  REQUIRE(got);
  CHECK(got->attr("id") == "t1");
  CHECK(a.log().find("port " + std::to_string(direct) + " (direct TLS)") != std::string::npos);
  CHECK(b.log().find("(direct TLS)") != std::string::npos);
  CHECK(b.log().find("incoming link a.localhost -> b.localhost authenticated by certificate") != std::string::npos);
}

TEST_CASE("s2s: idle links close after modules.s2s.idle_timeout and reopen when needed") {
  TwoDomains d("idle_timeout = \"1s\"\n");
  auto alice = d.alice();
  auto bob = d.bob();
  for (std::string id : {"i1", "i2"}) {
    alice->send("<message to='bob@b.localhost' type='chat' id='" + id + "'><body>.</body></message>");
    std::optional<xml::Element> got = next_message(*bob);
    REQUIRE(got);
    CHECK(got->attr("id") == id);
    std::this_thread::sleep_for(std::chrono::milliseconds(2500));
  }
  std::string log = d.a->log();
  size_t first = log.find("closing idle link with b.localhost");
  REQUIRE(first != std::string::npos);
  CHECK(log.find("closing idle link with b.localhost", first + 1) != std::string::npos);  // the second link too
}

TEST_CASE("s2s: an incoming link past modules.s2s.rate_limit is read more slowly, losing nothing") {
  TwoDomains d({}, "rate_limit = 1\n");
  d.ca.issue({"a.localhost"}, "a-again");
  auto bob = d.bob();
  auto peer = fake_server(d, "a.localhost", "a-again");
  authenticate_peer(*peer, "a.localhost");
  auto start = std::chrono::steady_clock::now();
  for (int i = 1; i <= 4; ++i) {
    peer->send("<message from='alice@a.localhost/x' to='bob@b.localhost' type='chat' id='r" + std::to_string(i) +
               "'><body>.</body></message>");
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  for (int i = 1; i <= 4; ++i) {
    std::optional<xml::Element> got = next_message(*bob);
    REQUIRE(got);
    CHECK(got->attr("id") == "r" + std::to_string(i));
  }
  // One stanza a second: the fourth waits for at least two refills.
  CHECK(std::chrono::steady_clock::now() - start >= std::chrono::seconds(2));
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
