// Server pings (XEP-0199 §4.2): a client that answers stays; a client that
// goes silent is noticed within ping_interval + ping_timeout (+1 s for the
// once-a-second housekeeping) and its session ends with <connection-timeout/>.
#include <doctest/doctest.h>

#include <chrono>

#include "harness/raw_client.hpp"
#include "harness/test_server.hpp"
#include "test_util.hpp"

using namespace parley;
using namespace parley::test;

TEST_CASE("the server pings idle clients and drops the ones that do not answer") {
  ServerOptions options;
  options.c2s_config = "ping_interval = \"1s\"\nping_timeout = \"1s\"\n";
  TestServer server(options);
  server.add_user("alice@localhost", "secret");

  RawClient awake(server.starttls_port());
  std::string awake_jid = awake.login("alice", "secret", "awake");
  RawClient silent(server.starttls_port());
  silent.login("alice", "secret", "silent");
  auto logged_in = std::chrono::steady_clock::now();

  std::optional<xml::Element> server_ping = awake.next_named("iq", 4000);
  REQUIRE(server_ping);
  CHECK(server_ping->attr("type") == "get");
  CHECK(server_ping->attr("from") == "localhost");
  CHECK(server_ping->attr("to") == awake_jid);
  CHECK(server_ping->first_child("ping", "urn:xmpp:ping"));
  awake.send("<iq type='result' id='" + std::string(server_ping->attr("id")) + "' to='localhost'/>");

  std::optional<xml::Element> error = silent.next_named("error", 6000);
  REQUIRE(error);
  CHECK(RawClient::stream_error_condition(*error) == "connection-timeout");
  CHECK(silent.wait_closed());
  auto noticed = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - logged_in);
  MESSAGE("a silent client was dropped after ", noticed.count(), " ms (ping_interval 1 s, ping_timeout 1 s)");
  CHECK(noticed.count() <= 4500);

  // The client that answered is still served.
  CHECK(ping(awake).attr("type") == "result");
}
