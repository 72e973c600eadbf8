// net::Resolver (c-ares on the loop) against a stub DNS server, and the
// RFC 2782 ordering of SRV records.
#include <doctest/doctest.h>

#include <optional>

#include "../common/dns_stub.hpp"
#include "net/resolver.hpp"

using parley::net::order_srv;
using parley::net::Resolver;
using parley::net::SrvRecord;

namespace {

std::vector<std::string> targets(const std::vector<SrvRecord>& records) {
  std::vector<std::string> out;
  for (const SrvRecord& r : records) out.push_back(r.target);
  return out;
}

}  // namespace

TEST_CASE("SRV records are ordered by priority first (RFC 2782)") {
  std::vector<SrvRecord> records = {{"c", 5269, 20, 0}, {"a", 5269, 5, 0}, {"b", 5269, 10, 0}};
  CHECK(targets(order_srv(records, [](uint32_t) { return 0u; })) == std::vector<std::string>{"a", "b", "c"});
}

TEST_CASE("within a priority, SRV weights pick by running sum (RFC 2782)") {
  std::vector<SrvRecord> records = {{"light", 1, 10, 10}, {"heavy", 1, 10, 90}, {"zero", 1, 10, 0}};
  // Zero-weight records come first in the running sum: a pick of 0 chooses it.
  CHECK(targets(order_srv(records, [](uint32_t) { return 0u; })) ==
        std::vector<std::string>{"zero", "light", "heavy"});
  // The largest pick lands on the last record of the running sum each time.
  CHECK(targets(order_srv(records, [](uint32_t sum) { return sum; })) ==
        std::vector<std::string>{"heavy", "light", "zero"});
  // 11 of 100 is past 'zero' (0) and 'light' (10): 'heavy'; then 10 of 10: 'light'.
  int call = 0;
  auto picks = [&call](uint32_t sum) { return ++call == 1 ? 11u : sum; };
  CHECK(targets(order_srv(records, picks)) == std::vector<std::string>{"heavy", "light", "zero"});
}

TEST_CASE("a weighted choice happens within a priority group, never across groups") {
  std::vector<SrvRecord> records = {{"backup", 1, 20, 100}, {"main", 1, 10, 1}};
  CHECK(targets(order_srv(records, [](uint32_t sum) { return sum; })) ==
        std::vector<std::string>{"main", "backup"});
}

TEST_CASE("the resolver answers SRV and address queries from the loop") {
  parley::test::DnsStub dns;
  dns.add_srv("_xmpp-server._tcp.example.test", {5, 0, 5269, "xmpp.example.test"});
  dns.add_srv("_xmpp-server._tcp.example.test", {10, 0, 5270, "backup.example.test"});
  dns.add_a("xmpp.example.test", "192.0.2.7");
  uv_loop_t loop;
  uv_loop_init(&loop);
  {
    std::string error;
    auto resolver = Resolver::create(&loop, {{dns.server()}, 1000, 2}, error);
    REQUIRE(resolver);
    std::optional<std::vector<SrvRecord>> srv;
    std::optional<std::vector<std::string>> addresses;
    std::optional<std::string> missing_error;
    std::optional<std::vector<SrvRecord>> none;
    resolver->srv("_xmpp-server._tcp.example.test", [&](std::vector<SrvRecord> r, std::string e) {
      CHECK(e.empty());
      srv = std::move(r);
    });
    resolver->addresses("xmpp.example.test", [&](std::vector<std::string> a, std::string e) {
      CHECK(e.empty());
      addresses = std::move(a);
    });
    resolver->srv("_xmpps-server._tcp.example.test", [&](std::vector<SrvRecord> r, std::string e) {
      CHECK(e.empty());  // NXDOMAIN is "no records", not a failure
      none = std::move(r);
    });
    resolver->addresses("nowhere.example.test", [&](std::vector<std::string>, std::string e) { missing_error = e; });
    while ((!srv || !addresses || !none || !missing_error) && uv_run(&loop, UV_RUN_ONCE)) {
    }
    REQUIRE(srv);
    REQUIRE(srv->size() == 2);
    std::vector<SrvRecord> ordered = order_srv(*srv, [](uint32_t) { return 0u; });
    CHECK(ordered[0] == SrvRecord{"xmpp.example.test", 5269, 5, 0});
    CHECK(ordered[1] == SrvRecord{"backup.example.test", 5270, 10, 0});
    REQUIRE(addresses);
    CHECK(*addresses == std::vector<std::string>{"192.0.2.7"});
    REQUIRE(none);
    CHECK(none->empty());
    REQUIRE(missing_error);
    CHECK(*missing_error == "no address");
  }
  // The resolver's handles close on this last run.
  uv_run(&loop, UV_RUN_DEFAULT);
  CHECK(uv_loop_close(&loop) == 0);
}
