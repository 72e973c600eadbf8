#pragma once
// Base64 (RFC 4648 §4, standard alphabet, with padding).
//
// Used by SASL (RFC 6120 §6.4.2 carries SASL data base64-encoded; SCRAM
// messages embed base64 salts, proofs and signatures) and for storing
// binary SCRAM keys as text.

#include <optional>
#include <string>
#include <string_view>

namespace parley::core {

// Encodes arbitrary bytes; the output is always padded to a multiple of 4.
std::string base64_encode(std::string_view bytes);

// Strict decoder: the input length must be a multiple of 4, only the
// standard alphabet is accepted, '=' may appear only as final padding and
// unused trailing bits must be zero (RFC 4648 §3.5). No whitespace is
// skipped. Returns nullopt on any violation. The empty string decodes to
// the empty string.
std::optional<std::string> base64_decode(std::string_view text);

}  // namespace parley::core
