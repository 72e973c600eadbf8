#pragma once
// Asynchronous DNS on the worker's libuv loop with c-ares (DESIGN.md stack):
// SRV lookups for federation (RFC 6120 §3.2.1, XEP-0368) and A/AAAA lookups,
// never blocking the loop. c-ares tells us which sockets to watch
// (ARES_OPT_SOCK_STATE_CB); each gets a uv_poll_t, and one uv_timer_t drives
// c-ares's retransmissions.
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include <uv.h>

namespace parley::net {

struct SrvRecord {
  std::string target;
  uint16_t port = 0;
  uint16_t priority = 0;
  uint16_t weight = 0;
  bool operator==(const SrvRecord&) const = default;
};

// RFC 2782 order: ascending priority; within one priority, a weighted random
// choice repeated until the group is used up (zero weights first, so they
// are chosen only when the running sum allows it, as the RFC asks).
// `random(n)` returns a uniform number in [0, n]; tests pass a fixed one.
std::vector<SrvRecord> order_srv(std::vector<SrvRecord> records, const std::function<uint32_t(uint32_t)>& random);

class Resolver {
 public:
  struct Options {
    // "192.0.2.1", "192.0.2.1:5353", "[2001:db8::1]:53"; empty: /etc/resolv.conf.
    std::vector<std::string> servers;
    int timeout_ms = 3000;
    int tries = 2;
  };
  // nullptr and `error` when c-ares cannot start.
  static std::unique_ptr<Resolver> create(uv_loop_t* loop, const Options& options, std::string& error);
  // Pending lookups are cancelled without calling their callbacks.
  ~Resolver();
  Resolver(const Resolver&) = delete;
  Resolver& operator=(const Resolver&) = delete;

  // `records` empty with an empty `error` means the name has no such records
  // (NXDOMAIN or no data); `error` is set for failures (timeout, refused).
  using SrvCallback = std::function<void(std::vector<SrvRecord> records, std::string error)>;
  void srv(const std::string& name, SrvCallback done);
  // IPv6 and IPv4 addresses as text, in the order the resolver returned them.
  using AddressCallback = std::function<void(std::vector<std::string> addresses, std::string error)>;
  void addresses(const std::string& host, AddressCallback done);

 private:
  struct Impl;
  explicit Resolver(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace parley::net
