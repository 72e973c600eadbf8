#pragma once
// SASLprep (RFC 4013), the stringprep profile for user names and passwords.

#include <optional>
#include <string>
#include <string_view>

namespace parley::xmpp::sasl {

// Prepares a UTF-8 string: maps non-ASCII spaces to SPACE, removes
// "commonly mapped to nothing" characters, applies NFKC, then rejects
// prohibited characters (controls, ...) and bad bidi (RFC 4013 §2).
// Unassigned code points are allowed (RFC 4013 §2.5 "queries"), so the
// same function gives the same answer when a password is set and when it
// is checked. Returns nullopt for prohibited input, invalid UTF-8 or an
// embedded NUL. The empty string maps to the empty string.
std::optional<std::string> saslprep(std::string_view text);

}  // namespace parley::xmpp::sasl
