#pragma once
// The SCRAM primitives of RFC 5802 §2.2 over OpenSSL 3, per hash family.
// All inputs and outputs are raw bytes in std::string. These functions
// throw std::runtime_error only if OpenSSL itself fails (it does not for
// valid inputs); callers on a C callback boundary must catch.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "xmpp/sasl/mechanism.hpp"

namespace parley::xmpp::sasl {

// Output size of H(): 20, 32 or 64 bytes.
std::size_t scram_digest_size(ScramHash hash);

// H(str)
std::string scram_digest(ScramHash hash, std::string_view data);

// HMAC(key, str)
std::string scram_hmac(ScramHash hash, std::string_view key, std::string_view data);

// Hi(str, salt, i) = PBKDF2 with HMAC-H and dkLen = H's output size.
// Precondition: 1 <= iterations <= INT_MAX (std::invalid_argument otherwise).
std::string scram_salted_password(ScramHash hash, std::string_view password,
                                  std::string_view salt, uint32_t iterations);

// Cryptographically secure random bytes (OpenSSL RAND_bytes).
std::string random_bytes(std::size_t count);

// Compares without an early exit, so the time taken does not reveal
// where two secrets first differ. Different sizes compare unequal.
bool constant_time_equal(std::string_view a, std::string_view b);

}  // namespace parley::xmpp::sasl
