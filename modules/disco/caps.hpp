#pragma once
// XEP-0115 entity capabilities for the server itself: the verification string
// over the host's disco identities and features, announced as a stream
// feature so clients can cache what the server supports.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "xmpp/module_api.hpp"

namespace parley::modules::disco {

inline constexpr std::string_view kCapsNs = "http://jabber.org/protocol/caps";
inline constexpr std::string_view kCapsNode = "urn:parley:server";

// XEP-0115 §5.1 with SHA-1 (no data forms are announced).
std::string caps_ver(const xmpp::HostContext& host);

// caps_ver() kept until the host's disco set changes: every stream's
// features carry it, and the set only changes when modules start or stop.
class CapsVerCache {
 public:
  explicit CapsVerCache(const xmpp::HostContext& host) : host_(host) {}
  const std::string& ver();

 private:
  const xmpp::HostContext& host_;
  std::optional<uint64_t> generation_;
  std::string ver_;
};

}  // namespace parley::modules::disco
