#include "xmpp/sasl/scram_server.hpp"

#include "core/base64.hpp"
#include "xmpp/sasl/scram_crypto.hpp"
#include "xmpp/sasl/scram_message.hpp"

namespace parley::xmpp::sasl {
namespace {

constexpr std::size_t server_nonce_random_bytes = 24;

bool is_supported_cb_type(std::string_view type) {
    return type == cb_tls_exporter || type == cb_tls_server_end_point;
}

std::string xor_bytes(std::string_view a, std::string_view b) {
    std::string out(a);
    for (std::size_t i = 0; i < out.size() && i < b.size(); ++i) out[i] ^= b[i];
    return out;
}

}  // namespace

ScramServer::ScramServer(ScramHash hash, bool plus_mechanism, bool server_offers_plus,
                         ChannelBindingLookup channel_binding_data, std::string server_nonce)
    : hash_(hash),
      plus_mechanism_(plus_mechanism),
      server_offers_plus_(server_offers_plus),
      channel_binding_data_(std::move(channel_binding_data)),
      server_nonce_(std::move(server_nonce)) {
    if (server_nonce_.empty()) {
        server_nonce_ = core::base64_encode(random_bytes(server_nonce_random_bytes));
    }
}

SaslCondition ScramServer::fail(SaslCondition condition) {
    state_ = State::Failed;
    return condition;
}

std::variant<ScramClientFirst, SaslCondition> ScramServer::client_first(std::string_view message) {
    if (state_ != State::AwaitClientFirst) return fail(SaslCondition::MalformedRequest);
    if (!is_valid_utf8_without_nul(message)) return fail(SaslCondition::MalformedRequest);

    // gs2-header = gs2-cbind-flag "," [ authzid ] ","   (RFC 5802 §7)
    const std::size_t flag_end = message.find(',');
    if (flag_end == std::string_view::npos) return fail(SaslCondition::MalformedRequest);
    const std::size_t authzid_end = message.find(',', flag_end + 1);
    if (authzid_end == std::string_view::npos) return fail(SaslCondition::MalformedRequest);
    const std::string_view flag = message.substr(0, flag_end);
    const std::string_view authzid_field = message.substr(flag_end + 1, authzid_end - flag_end - 1);
    const std::string_view bare = message.substr(authzid_end + 1);

    std::string_view requested_cb_type;
    if (flag.substr(0, 2) == "p=") {
        requested_cb_type = flag.substr(2);
        if (!is_valid_cb_name(requested_cb_type)) return fail(SaslCondition::MalformedRequest);
    } else if (flag != "n" && flag != "y") {
        return fail(SaslCondition::MalformedRequest);
    }

    ScramClientFirst result;
    if (!authzid_field.empty()) {
        if (authzid_field.substr(0, 2) != "a=") return fail(SaslCondition::MalformedRequest);
        auto authzid = decode_saslname(authzid_field.substr(2));
        if (!authzid) return fail(SaslCondition::MalformedRequest);
        result.authzid = std::move(*authzid);
    }

    // client-first-message-bare = [reserved-mext ","] username "," nonce ["," extensions]
    auto attributes = parse_scram_attributes(bare);
    if (!attributes || attributes->size() < 2) return fail(SaslCondition::MalformedRequest);
    // RFC 5802 §5.1: "m" marks a mandatory extension; we support none.
    if ((*attributes)[0].name == 'm') return fail(SaslCondition::MalformedRequest);
    if ((*attributes)[0].name != 'n' || (*attributes)[1].name != 'r') {
        return fail(SaslCondition::MalformedRequest);
    }
    auto username = decode_saslname((*attributes)[0].value);
    if (!username) return fail(SaslCondition::MalformedRequest);
    const std::string_view client_nonce = (*attributes)[1].value;
    if (!is_valid_scram_nonce(client_nonce)) return fail(SaslCondition::MalformedRequest);
    result.username = std::move(*username);

    // Channel-binding policy, RFC 5802 §6.
    if (!requested_cb_type.empty()) {
        // "p" is only meaningful with a -PLUS mechanism.
        if (!plus_mechanism_) return fail(SaslCondition::NotAuthorized);
        if (!is_supported_cb_type(requested_cb_type)) return fail(SaslCondition::NotAuthorized);
        auto data = channel_binding_data_ ? channel_binding_data_(requested_cb_type) : std::nullopt;
        if (!data) return fail(SaslCondition::NotAuthorized);
        cb_type_ = std::string(requested_cb_type);
        cb_data_ = std::move(*data);
    } else {
        // A -PLUS mechanism requires binding.
        if (plus_mechanism_) return fail(SaslCondition::NotAuthorized);
        // "y": the client could bind but thinks we can't. If we did offer
        // -PLUS, someone stripped it from our features: a downgrade.
        if (flag == "y" && server_offers_plus_) return fail(SaslCondition::NotAuthorized);
    }

    gs2_header_ = std::string(message.substr(0, authzid_end + 1));
    client_first_bare_ = std::string(bare);
    nonce_ = std::string(client_nonce) + server_nonce_;
    state_ = State::AwaitServerFirst;
    return result;
}

std::string ScramServer::server_first(const ScramCredential& credential) {
    if (state_ != State::AwaitServerFirst) {
        fail(SaslCondition::MalformedRequest);
        return {};
    }
    credential_ = credential;
    credential_usable_ = credential.hash == hash_ && credential.iterations > 0 &&
                         credential.stored_key.size() == scram_digest_size(hash_) &&
                         credential.server_key.size() == scram_digest_size(hash_);
    server_first_ = "r=" + nonce_ + ",s=" + core::base64_encode(credential.salt) +
                    ",i=" + std::to_string(credential.iterations);
    state_ = State::AwaitClientFinal;
    return server_first_;
}

std::variant<std::string, SaslCondition> ScramServer::client_final(std::string_view message) {
    if (state_ != State::AwaitClientFinal) return fail(SaslCondition::MalformedRequest);
    if (!is_valid_utf8_without_nul(message)) return fail(SaslCondition::MalformedRequest);

    // client-final-message = channel-binding "," nonce ["," extensions] "," proof
    auto attributes = parse_scram_attributes(message);
    if (!attributes || attributes->size() < 3) return fail(SaslCondition::MalformedRequest);
    const ScramAttribute& binding = attributes->front();
    const ScramAttribute& nonce = (*attributes)[1];
    const ScramAttribute& proof = attributes->back();
    if (binding.name != 'c' || nonce.name != 'r' || proof.name != 'p') {
        return fail(SaslCondition::MalformedRequest);
    }
    auto binding_bytes = core::base64_decode(binding.value);
    auto proof_bytes = core::base64_decode(proof.value);
    if (!binding_bytes || !proof_bytes || proof_bytes->size() != scram_digest_size(hash_)) {
        return fail(SaslCondition::MalformedRequest);
    }

    // RFC 5802 §6: c= must repeat the GS2 header and carry the binding data
    // of this very TLS connection; otherwise a man in the middle relays us.
    if (!constant_time_equal(*binding_bytes, gs2_header_ + cb_data_)) {
        return fail(SaslCondition::NotAuthorized);
    }
    if (!constant_time_equal(nonce.value, nonce_)) return fail(SaslCondition::NotAuthorized);
    if (!credential_usable_) return fail(SaslCondition::TemporaryAuthFailure);

    // RFC 5802 §3: AuthMessage, then ClientKey = ClientProof XOR ClientSignature
    // and the check H(ClientKey) == StoredKey.
    const std::string_view without_proof = message.substr(0, message.size() - proof.value.size() - 3);
    const std::string auth_message =
        client_first_bare_ + "," + server_first_ + "," + std::string(without_proof);
    const std::string client_signature = scram_hmac(hash_, credential_.stored_key, auth_message);
    const std::string client_key = xor_bytes(*proof_bytes, client_signature);
    if (!constant_time_equal(scram_digest(hash_, client_key), credential_.stored_key)) {
        return fail(SaslCondition::NotAuthorized);
    }
    state_ = State::Succeeded;
    return "v=" + core::base64_encode(scram_hmac(hash_, credential_.server_key, auth_message));
}

}  // namespace parley::xmpp::sasl
