#pragma once
// Phone numbers through libphonenumber (E.164 parsing and validation, not
// regexes), and the one-time codes sent to them.
#include <optional>
#include <string>
#include <string_view>

namespace parley::modules::phone {

// The E.164 form ("+12015550123") of a number as a user typed it, read with
// `default_region` (ISO 3166 code) when it has no country code; empty if
// libphonenumber does not consider it a valid number.
std::optional<std::string> normalise(std::string_view text, const std::string& default_region);

// For logs: enough to tell numbers apart, not enough to identify a person.
std::string masked(std::string_view e164);

// A code of `digits` decimal digits from OpenSSL's CSPRNG, uniform (rejection
// sampling, no modulo bias).
std::string make_code(int digits);

// Codes are stored hashed: "salt$hex(SHA-256(salt | number | code))"; the
// salt is random per code.
std::string hash_code(std::string_view number, std::string_view code);
bool code_matches(std::string_view stored, std::string_view number, std::string_view code);

}  // namespace parley::modules::phone
