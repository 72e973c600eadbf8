// XEP-0012 Last Activity: offline contacts, strangers, the server's uptime.
#include <doctest/doctest.h>

#include "harness/raw_client.hpp"
#include "harness/test_server.hpp"
#include "store/pg_sync.hpp"
#include "test_util.hpp"

using namespace parley;
using namespace parley::test;

namespace {

constexpr std::string_view kLastNs = "jabber:iq:last";

struct Users {
  TestServer server{[] {
    ServerOptions options;
    options.modules = {"disco", "ping", "last"};
    return options;
  }()};
  Users() {
    server.add_user("alice@localhost", "a");
    server.add_user("bob@localhost", "b");
    server.add_user("carol@localhost", "c");
    // bob may see alice's presence; carol is on alice's roster without it.
    roster_row(server, "alice", "bob@localhost", "from");
    roster_row(server, "alice", "carol@localhost", "to");
  }
};

void online(RawClient& client, const std::string& user, const std::string& password, const std::string& resource) {
  client.login(user, password, resource);
  client.send("<presence/>");
  ping(client);
}

xml::Element last(RawClient& client, const std::string& to) {
  return ask(client, to, "<query xmlns='jabber:iq:last'/>");
}

}  // namespace

TEST_CASE("last activity of an offline contact: seconds since logout and the unavailable status") {
  Users u;
  RawClient bob(u.server.starttls_port());
  online(bob, "bob", "b", "phone");

  RawClient alice(u.server.starttls_port());
  online(alice, "alice", "a", "desk");
  // Online: active now (XEP-0012 §3).
  xml::Element now = last(bob, "alice@localhost");
  CHECK(now.attr("type") == "result");
  CHECK(now.attr("from") == "alice@localhost");
  REQUIRE(now.first_child("query", kLastNs));
  CHECK(now.first_child("query", kLastNs)->attr("seconds") == "0");

  alice.send("<presence type='unavailable'><status>Gone fishing &amp; back soon</status></presence>");
  alice.send("</stream:stream>");
  CHECK(alice.wait_closed());

  xml::Element offline = last(bob, "alice@localhost");
  CHECK(offline.attr("type") == "result");
  const xml::Element* query = offline.first_child("query", kLastNs);
  REQUIRE(query);
  int seconds = std::stoi(std::string(query->attr("seconds")));
  CHECK(seconds >= 0);
  CHECK(seconds < 10);
  CHECK(query->text() == "Gone fishing & back soon");
}

TEST_CASE("last activity is forbidden to those who may not see the presence") {
  Users u;
  RawClient carol(u.server.starttls_port());
  online(carol, "carol", "c", "laptop");
  xml::Element denied = last(carol, "alice@localhost");
  CHECK(denied.attr("type") == "error");
  CHECK(condition_of(denied, kStanzaErrors) == "forbidden");

  // A stranger: not on alice's roster at all.
  RawClient bob(u.server.starttls_port());
  online(bob, "bob", "b", "phone");
  CHECK(condition_of(last(bob, "carol@localhost"), kStanzaErrors) == "forbidden");
  // An account that does not exist (RFC 6121 §8.5.1).
  CHECK(condition_of(last(bob, "nobody@localhost"), kStanzaErrors) == "service-unavailable");
}

TEST_CASE("last activity of the server is its uptime") {
  Users u;
  RawClient bob(u.server.starttls_port());
  online(bob, "bob", "b", "phone");
  xml::Element uptime = last(bob, "localhost");
  CHECK(uptime.attr("type") == "result");
  CHECK(uptime.attr("from") == "localhost");
  const xml::Element* query = uptime.first_child("query", kLastNs);
  REQUIRE(query);
  int seconds = std::stoi(std::string(query->attr("seconds")));
  CHECK(seconds >= 0);
  CHECK(seconds < 60);
  CHECK(query->text().empty());
}
