#pragma once
// XEP-0115 entity capabilities for the server itself: the verification string
// over the host's disco identities and features, announced as a stream
// feature so clients can cache what the server supports.
#include <string>
#include <string_view>

#include "xmpp/module_api.hpp"

namespace parley::modules::disco {

inline constexpr std::string_view kCapsNs = "http://jabber.org/protocol/caps";
inline constexpr std::string_view kCapsNode = "urn:parley:server";

// XEP-0115 §5.1 with SHA-1 (no data forms are announced).
std::string caps_ver(const xmpp::HostContext& host);

}  // namespace parley::modules::disco
