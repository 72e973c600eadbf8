#pragma once
// SASL mechanism names Parley offers (RFC 5802, RFC 7677, and the SHA-512
// family registered with IANA), and the channel-binding types it supports.

#include <optional>
#include <string_view>

namespace parley::xmpp::sasl {

enum class ScramHash { Sha1, Sha256, Sha512 };

struct ScramMechanism {
    ScramHash hash;
    bool plus;  // the -PLUS variant, with channel binding (RFC 5802 §6)
    bool operator==(const ScramMechanism&) const = default;
};

// "SCRAM-SHA-1", "SCRAM-SHA-256-PLUS", ... -> {hash, plus}. Mechanism names
// are case-sensitive upper case (RFC 4422 §3.1); anything else is nullopt.
std::optional<ScramMechanism> parse_scram_mechanism(std::string_view name);

// The inverse of parse_scram_mechanism().
std::string_view scram_mechanism_name(ScramHash hash, bool plus);

// Channel-binding types accepted after "p=" (RFC 9266, RFC 5929 §4).
// tls-unique is not offered: it is undefined for TLS 1.3 (RFC 9266 §1).
inline constexpr std::string_view cb_tls_exporter = "tls-exporter";
inline constexpr std::string_view cb_tls_server_end_point = "tls-server-end-point";

}  // namespace parley::xmpp::sasl
