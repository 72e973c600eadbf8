#pragma once
// Client side of one SCRAM exchange (RFC 5802), for tests, s2s tooling and
// load generators. Runs PBKDF2 inside final_message(): don't call it on an
// event loop with a high iteration count.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "xmpp/sasl/mechanism.hpp"

namespace parley::xmpp::sasl {

struct ScramClientOptions {
    std::string authzid{};      // empty: none
    // Channel binding (a -PLUS mechanism): the type sent as "p=<type>" and
    // the data of the TLS connection. Empty cb_type: no binding.
    std::string cb_type{};
    std::string cb_data{};
    // Without binding: true sends "y" (the client supports binding but the
    // server offered no -PLUS), false sends "n".
    bool client_supports_binding = false;
    std::string nonce{};        // empty: 24 random bytes, base64
    // A server may ask for at most this many PBKDF2 rounds (guards against
    // a hostile server burning our CPU).
    uint32_t max_iterations = 1'000'000;
};

class ScramClient {
public:
    // `password` must already be SASLprepped.
    ScramClient(ScramHash hash, std::string username, std::string password,
                ScramClientOptions options = {});

    // client-first-message, e.g. "n,,n=user,r=<nonce>".
    const std::string& first_message() const { return first_message_; }

    // Given the server-first-message, computes the client-final-message.
    // nullopt when the server message is malformed, does not extend our
    // nonce, or asks for 0 or too many iterations.
    std::optional<std::string> final_message(std::string_view server_first);

    // Checks the server-final-message ("v=<ServerSignature>"), proving the
    // server knew our credential. False for "e=..." or a wrong signature.
    bool verify_server_final(std::string_view server_final) const;

private:
    ScramHash hash_;
    uint32_t max_iterations_;
    std::string password_;
    std::string gs2_header_;
    std::string cb_data_;
    std::string nonce_;
    std::string first_message_bare_;
    std::string first_message_;
    std::string expected_server_signature_;  // empty until final_message()
};

}  // namespace parley::xmpp::sasl
