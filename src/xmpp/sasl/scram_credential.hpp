#pragma once
// What the server stores for SCRAM (RFC 5802 §3): never the password.

#include <cstdint>
#include <string>
#include <string_view>

#include "xmpp/sasl/mechanism.hpp"

namespace parley::xmpp::sasl {

struct ScramCredential {
    ScramHash hash = ScramHash::Sha256;
    std::string salt;        // raw bytes
    uint32_t iterations = 0;
    std::string stored_key;  // H(ClientKey), raw bytes
    std::string server_key;  // HMAC(SaltedPassword, "Server Key"), raw bytes
    bool operator==(const ScramCredential&) const = default;
};

// Salt length for new credentials (RFC 5802 does not fix one; 16 random
// bytes make collisions between accounts negligible).
inline constexpr std::size_t scram_salt_bytes = 16;

// A fresh random salt of scram_salt_bytes.
std::string make_scram_salt();

// PBKDF2 then the key derivation of RFC 5802 §3. `password` must already
// be SASLprepped (see saslprep.hpp). CPU-heavy by design: run it off the
// event loop (uv_queue_work). Precondition: 1 <= iterations <= INT_MAX,
// otherwise std::invalid_argument.
ScramCredential derive_scram_credential(ScramHash hash, std::string_view password,
                                        std::string_view salt, uint32_t iterations);

// A stand-in credential for an unknown user, so that the exchange looks the
// same as for a real account and fails only at the proof (RFC 5802 §9:
// don't reveal which accounts exist). The salt is an HMAC of the user name
// and mechanism under `server_secret`, hence stable across attempts; the
// keys are random, so no proof can ever match. Cheap: no PBKDF2.
ScramCredential fake_scram_credential(ScramHash hash, std::string_view username,
                                      std::string_view server_secret, uint32_t iterations);

}  // namespace parley::xmpp::sasl
