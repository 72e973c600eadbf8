#pragma once
// The PLAIN mechanism (RFC 4616). Only ever offered inside TLS (RFC 6120 §6.4.1
// hardening; our security defaults).

#include <optional>
#include <string>
#include <string_view>

namespace parley::xmpp::sasl {

struct PlainCredentials {
    std::string authzid;  // empty when absent
    std::string authcid;
    std::string password;  // as sent: SASLprep it before deriving keys
    bool operator==(const PlainCredentials&) const = default;
};

// message = [authzid] NUL authcid NUL passwd (RFC 4616 §2). Exactly two NUL
// separators; authcid and passwd non-empty; every field valid UTF-8.
// Returns nullopt otherwise.
std::optional<PlainCredentials> parse_plain(std::string_view message);

}  // namespace parley::xmpp::sasl
