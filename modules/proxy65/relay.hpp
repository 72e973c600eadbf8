#pragma once
// The SOCKS5 side of the XEP-0065 proxy: accepts connections, runs the
// SOCKS5 handshake (RFC 1928, "no authentication" only, CONNECT to a
// domain-name address that is the stream's SHA-1 hash, port 0, XEP-0065 §6.3),
// pairs the two connections that name the same hash, and relays between
// them once the initiator activates the stream, within an optional
// bandwidth limit. Everything on the worker's loop.
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

#include <uv.h>

#include "net/connection.hpp"
#include "net/listener.hpp"

namespace parley::modules::proxy65 {

class Socks5Connection;

enum class ActivateResult { Activated, NoSuchStream, NotBothConnected, AlreadyActive };

class Relay {
 public:
  // `bytes_per_second` 0: no limit. `activation_timeout_ms`: a connection
  // whose stream is not activated by then is closed.
  Relay(net::NetLoop& net, uint64_t bytes_per_second, uint64_t activation_timeout_ms);
  ~Relay();
  Relay(const Relay&) = delete;
  Relay& operator=(const Relay&) = delete;

  bool listen(const std::string& address, uint16_t port, std::string& error);
  // New limits from a reloaded config; streams already relaying follow them.
  void set_limits(uint64_t bytes_per_second, uint64_t activation_timeout_ms) {
    bytes_per_second_ = bytes_per_second;
    activation_timeout_ms_ = activation_timeout_ms;
  }
  uint16_t port() const { return listener_ ? listener_->port() : 0; }
  ActivateResult activate(const std::string& hash);

  // For Socks5Connection.
  net::NetLoop& net() { return net_; }
  uv_loop_t* loop();
  uint64_t bytes_per_second() const { return bytes_per_second_; }
  // Registers a connection under a hash; false when two already have it.
  bool attach(const std::string& hash, Socks5Connection& connection);
  void closed(uint64_t id);

 private:
  struct Stream {
    Socks5Connection* first = nullptr;   // the target connects first (XEP-0065 §6.3.1)
    Socks5Connection* second = nullptr;
    bool active = false;
  };
  void sweep();

  net::NetLoop& net_;
  uint64_t bytes_per_second_;
  uint64_t activation_timeout_ms_;
  std::unique_ptr<net::Listener> listener_;
  std::unordered_map<uint64_t, std::unique_ptr<Socks5Connection>> connections_;
  std::map<std::string, Stream> streams_;
  uint64_t next_id_ = 1;
  uv_timer_t* sweeper_;  // freed by its close callback
  friend class Socks5Connection;
};

// SHA1(SID + Requester JID + Target JID), hex (XEP-0065 §5.3.2).
std::string stream_hash(std::string_view sid, std::string_view requester, std::string_view target);

}  // namespace parley::modules::proxy65
