#include "xmpp/sasl/scram_client.hpp"

#include <charconv>

#include "core/base64.hpp"
#include "xmpp/sasl/scram_crypto.hpp"
#include "xmpp/sasl/scram_message.hpp"

namespace parley::xmpp::sasl {
namespace {

constexpr std::size_t client_nonce_random_bytes = 24;

std::optional<uint32_t> parse_iterations(std::string_view text) {
    uint32_t value = 0;
    const char* end = text.data() + text.size();
    auto [ptr, ec] = std::from_chars(text.data(), end, value);
    if (ec != std::errc{} || ptr != end || text.empty() || text[0] == '0') return std::nullopt;
    return value;
}

}  // namespace

ScramClient::ScramClient(ScramHash hash, std::string username, std::string password,
                         ScramClientOptions options)
    : hash_(hash),
      max_iterations_(options.max_iterations),
      password_(std::move(password)),
      cb_data_(std::move(options.cb_data)) {
    nonce_ = options.nonce.empty() ? core::base64_encode(random_bytes(client_nonce_random_bytes))
                                   : std::move(options.nonce);
    if (!options.cb_type.empty()) {
        gs2_header_ = "p=" + options.cb_type;
    } else {
        gs2_header_ = options.client_supports_binding ? "y" : "n";
    }
    gs2_header_ += ',';
    if (!options.authzid.empty()) gs2_header_ += "a=" + encode_saslname(options.authzid);
    gs2_header_ += ',';
    first_message_bare_ = "n=" + encode_saslname(username) + ",r=" + nonce_;
    first_message_ = gs2_header_ + first_message_bare_;
}

std::optional<std::string> ScramClient::final_message(std::string_view server_first) {
    if (!is_valid_utf8_without_nul(server_first)) return std::nullopt;
    // server-first-message = [reserved-mext ","] nonce "," salt "," iteration-count ["," extensions]
    auto attributes = parse_scram_attributes(server_first);
    if (!attributes || attributes->size() < 3) return std::nullopt;
    const auto& nonce = (*attributes)[0];
    const auto& salt = (*attributes)[1];
    const auto& iterations = (*attributes)[2];
    if (nonce.name != 'r' || salt.name != 's' || iterations.name != 'i') return std::nullopt;
    // RFC 5802 §5.1: the server's nonce must start with ours and add to it.
    if (nonce.value.size() <= nonce_.size() || nonce.value.substr(0, nonce_.size()) != nonce_ ||
        !is_valid_scram_nonce(nonce.value)) {
        return std::nullopt;
    }
    auto salt_bytes = core::base64_decode(salt.value);
    auto rounds = parse_iterations(iterations.value);
    if (!salt_bytes || salt_bytes->empty() || !rounds || *rounds > max_iterations_) {
        return std::nullopt;
    }

    const std::string salted = scram_salted_password(hash_, password_, *salt_bytes, *rounds);
    const std::string client_key = scram_hmac(hash_, salted, "Client Key");
    const std::string stored_key = scram_digest(hash_, client_key);
    const std::string server_key = scram_hmac(hash_, salted, "Server Key");

    const std::string without_proof =
        "c=" + core::base64_encode(gs2_header_ + cb_data_) + ",r=" + std::string(nonce.value);
    const std::string auth_message =
        first_message_bare_ + "," + std::string(server_first) + "," + without_proof;
    std::string proof = scram_hmac(hash_, stored_key, auth_message);
    for (std::size_t i = 0; i < proof.size(); ++i) proof[i] ^= client_key[i];
    expected_server_signature_ = scram_hmac(hash_, server_key, auth_message);
    return without_proof + ",p=" + core::base64_encode(proof);
}

bool ScramClient::verify_server_final(std::string_view server_final) const {
    if (expected_server_signature_.empty() || server_final.substr(0, 2) != "v=") return false;
    auto signature = core::base64_decode(server_final.substr(2));
    return signature && constant_time_equal(*signature, expected_server_signature_);
}

}  // namespace parley::xmpp::sasl
