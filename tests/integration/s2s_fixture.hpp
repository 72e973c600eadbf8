#pragma once
// Shared by the federation tests (s2s_test.cpp, s2s_auth_test.cpp): two real
// parleyd processes, a.localhost and b.localhost, with certificates from a
// test CA and static routes to each other's s2s ports, and helpers for
// byte-level peers that play a server.
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <memory>
#include <thread>

#include "core/base64.hpp"
#include "harness/raw_client.hpp"
#include "harness/test_server.hpp"
#include "test_util.hpp"

namespace parley::test::s2s {

struct Peer {
  std::string domain;
  uint16_t s2s_port;
};

inline ServerOptions s2s_options(const TestCa& ca, const Peer& self, const Peer& other, const std::string& extra,
                                 bool issued = true) {
  ServerOptions options;
  options.hosts = {self.domain};
  options.modules = {"disco", "ping", "roster", "s2s", "version"};
  if (issued) options.issuer = ca.files;
  options.extra_config = "[modules.s2s]\nport = " + std::to_string(self.s2s_port) +
                         "\nbind_addresses = [\"127.0.0.1\"]\nroutes = [\"" + other.domain +
                         "=127.0.0.1:" + std::to_string(other.s2s_port) + "\"]\nca_file = \"" +
                         ca.cert_file().string() + "\"\n" +
                         // No back-off between attempts unless the test is about it.
                         (extra.find("reconnect_backoff") == std::string::npos ? "reconnect_backoff = \"0s\"\n" : "") +
                         extra;
  return options;
}

// Replaces the static route s2s_options generated ("" for none: DNS only).
inline void set_routes(ServerOptions& options, const std::string& routes) {
  size_t at = options.extra_config.find("routes = [");
  options.extra_config.replace(at, options.extra_config.find('\n', at) - at, "routes = [" + routes + "]");
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
  // S2S_DEBUG=1 prints both servers' logs after each test, for debugging.
  ~TwoDomains() {
    if (getenv("S2S_DEBUG")) fprintf(stderr, "---- a\n%s\n---- b\n%s\n", a->log().c_str(), b->log().c_str());
  }
  std::unique_ptr<RawClient> alice(const std::string& resource = "home") {
    auto client = std::make_unique<RawClient>(a->starttls_port());
    client->login("alice", "a", resource, "a.localhost");
    ask(*client, "", "<query xmlns='jabber:iq:roster'/>");  // interested in roster pushes
    client->send("<presence/>");
    ping(*client, "a.localhost", Others::Kept);
    return client;
  }
  std::unique_ptr<RawClient> bob(const std::string& resource = "work") {
    auto client = std::make_unique<RawClient>(b->starttls_port());
    client->login("bob", "b", resource, "b.localhost");
    ask(*client, "", "<query xmlns='jabber:iq:roster'/>");
    client->send("<presence/>");
    // Kept: the answers to the probes this presence sent may come back from
    // the other domain before the ping's own answer (the test reads them).
    ping(*client, "b.localhost", Others::Kept);
    return client;
  }
};

inline std::optional<xml::Element> next_message(RawClient& client, int timeout_ms = 10000) {
  return client.next_named("message", timeout_ms);
}

// alice@a.localhost sends one message to bob@b.localhost (online with
// presence); returns what bob got.
inline std::optional<xml::Element> message_across(TestServer& a, TestServer& b, const std::string& id) {
  a.add_user("alice@a.localhost", "a");
  b.add_user("bob@b.localhost", "b");
  RawClient bob(b.starttls_port());
  bob.login("bob", "b", "work", "b.localhost");
  bob.send("<presence/>");
  ping(bob, "b.localhost");
  RawClient alice(a.starttls_port());
  alice.login("alice", "a", "home", "a.localhost");
  alice.send("<message to='bob@b.localhost' type='chat' id='" + id + "'><body>across</body></message>");
  return next_message(bob);
}

// A listening socket on 127.0.0.1 standing for another domain's server:
// routes point parleyd at port(), and RawClient::accept_from takes its links.
struct FakeServerPort {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  FakeServerPort() {
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 || ::listen(fd, 4) != 0) {
      throw std::runtime_error("cannot listen for a fake server");
    }
  }
  ~FakeServerPort() { ::close(fd); }
  FakeServerPort(const FakeServerPort&) = delete;
  FakeServerPort& operator=(const FakeServerPort&) = delete;
  uint16_t port() const {
    sockaddr_in address{};
    socklen_t length = sizeof address;
    getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
    return ntohs(address.sin_port);
  }
};

// Our own peer on b's s2s port, claiming `claimed`, presenting the CA-issued
// certificate in `cert` (a file stem in the CA's directory).
inline std::unique_ptr<RawClient> fake_server(TwoDomains& d, const std::string& claimed, const std::string& cert) {
  auto peer = std::make_unique<RawClient>(d.pb.s2s_port, false, "b.localhost");
  peer->act_as_server(claimed, (d.ca.dir() / (cert + ".crt")).string(), (d.ca.dir() / (cert + ".key")).string());
  return peer;
}

// Up to an authenticated stream; returns the features after SASL.
inline xml::Element authenticate_peer(RawClient& peer, const std::string& authzid) {
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
inline std::optional<xml::Element> next_where(RawClient& client,
                                              const std::function<bool(const xml::Element&)>& match,
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
inline std::string pushed_subscription(RawClient& client, const std::string& contact) {
  std::optional<xml::Element> push = next_where(client, [&](const xml::Element& e) {
    const xml::Element* query = e.first_child("query", "jabber:iq:roster");
    const xml::Element* item = query ? query->first_child("item") : nullptr;
    return e.name() == "iq" && item && item->attr("jid") == contact;
  });
  if (!push) return "(no push)";
  return std::string(push->first_child("query")->first_child("item")->attr("subscription"));
}

inline std::optional<xml::Element> next_presence(RawClient& client, const std::string& from, const std::string& type) {
  return next_where(client, [&](const xml::Element& e) {
    std::string_view t = e.attr("type");
    return e.name() == "presence" && e.attr("from") == from && (type == "available" ? t.empty() : t == type);
  });
}

inline std::string stream_error_of(RawClient& peer) {
  std::optional<xml::Element> error = peer.next_named("error", 10000);
  return error ? RawClient::stream_error_condition(*error) : std::string();
}

}  // namespace parley::test::s2s
