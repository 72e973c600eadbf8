#include "xmpp/sasl/scram_credential.hpp"

#include "xmpp/sasl/scram_crypto.hpp"

namespace parley::xmpp::sasl {

std::string make_scram_salt() { return random_bytes(scram_salt_bytes); }

ScramCredential derive_scram_credential(ScramHash hash, std::string_view password,
                                        std::string_view salt, uint32_t iterations) {
    const std::string salted = scram_salted_password(hash, password, salt, iterations);
    const std::string client_key = scram_hmac(hash, salted, "Client Key");
    ScramCredential credential;
    credential.hash = hash;
    credential.salt = std::string(salt);
    credential.iterations = iterations;
    credential.stored_key = scram_digest(hash, client_key);
    credential.server_key = scram_hmac(hash, salted, "Server Key");
    return credential;
}

ScramCredential fake_scram_credential(ScramHash hash, std::string_view username,
                                      std::string_view server_secret, uint32_t iterations) {
    // The mechanism name is part of the input so that one user's fake salts
    // differ per hash family, as independently generated real ones would.
    std::string input = "parley fake SCRAM salt";
    input += '\0';
    input += scram_mechanism_name(hash, false);
    input += '\0';
    input += username;
    ScramCredential credential;
    credential.hash = hash;
    credential.salt = scram_hmac(ScramHash::Sha256, server_secret, input).substr(0, scram_salt_bytes);
    credential.iterations = iterations;
    credential.stored_key = random_bytes(scram_digest_size(hash));
    credential.server_key = random_bytes(scram_digest_size(hash));
    return credential;
}

}  // namespace parley::xmpp::sasl
