#pragma once
// Server side of one SCRAM exchange (RFC 5802, RFC 7677), with channel
// binding for the -PLUS variants (RFC 5802 §6; types tls-exporter,
// RFC 9266, and tls-server-end-point, RFC 5929 §4).
//
// Usage, one object per authentication attempt:
//   ScramServer scram(hash, plus, offers_plus, cb_lookup);
//   auto first = scram.client_first(msg);      // -> username, authzid
//   ...look up the credential (or fake_scram_credential) off the hot path...
//   send(scram.server_first(credential));
//   auto final = scram.client_final(msg);      // -> "v=..." or a condition
//
// Failure conditions: a message that breaks the RFC 5802 §7 grammar (or
// asks for a mandatory extension, "m=") gives MalformedRequest; any
// channel-binding violation, a wrong nonce or a wrong proof gives
// NotAuthorized; calling the steps out of order gives MalformedRequest.
// After a failure every later step fails. Nothing here throws for bad
// input; only an OpenSSL failure (scram_crypto.hpp) could.

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "xmpp/sasl/condition.hpp"
#include "xmpp/sasl/mechanism.hpp"
#include "xmpp/sasl/scram_credential.hpp"

namespace parley::xmpp::sasl {

struct ScramClientFirst {
    std::string username;  // saslname-decoded, not yet prepared: the caller
                           // applies prep_node()/saslprep() as its policy says
    std::string authzid;   // empty when absent
};

class ScramServer {
public:
    // Returns the channel-binding data of the current TLS connection for a
    // type (cb_tls_exporter or cb_tls_server_end_point), or nullopt when it
    // is not available (no TLS, no certificate hash, ...).
    using ChannelBindingLookup = std::function<std::optional<std::string>(std::string_view cb_type)>;

    // hash, plus_mechanism: the mechanism the client selected.
    // server_offers_plus: whether this server advertised any -PLUS mechanism
    //   on this stream (decides whether a 'y' flag means a downgrade).
    // server_nonce: printable without ',' (RFC 5802 §7); empty picks 24
    //   random bytes, base64-encoded. Fixed values are for tests only.
    ScramServer(ScramHash hash, bool plus_mechanism, bool server_offers_plus,
                ChannelBindingLookup channel_binding_data, std::string server_nonce = {});

    // Step 1: parses client-first-message and checks the GS2 header.
    std::variant<ScramClientFirst, SaslCondition> client_first(std::string_view message);

    // Step 2: the server-first-message for this credential. A credential of
    // another hash family makes client_final() fail with TemporaryAuthFailure.
    // Called out of order it returns an empty string and fails the exchange.
    std::string server_first(const ScramCredential& credential);

    // Step 3: verifies client-final-message; on success returns the
    // server-final-message ("v=<ServerSignature>") to send in <success/>.
    std::variant<std::string, SaslCondition> client_final(std::string_view message);

    // True once client_final() has succeeded.
    bool succeeded() const { return state_ == State::Succeeded; }
    // The channel-binding type used, empty for none.
    const std::string& channel_binding_type() const { return cb_type_; }

private:
    enum class State { AwaitClientFirst, AwaitServerFirst, AwaitClientFinal, Succeeded, Failed };

    SaslCondition fail(SaslCondition condition);

    ScramHash hash_;
    bool plus_mechanism_;
    bool server_offers_plus_;
    ChannelBindingLookup channel_binding_data_;
    std::string server_nonce_;
    State state_ = State::AwaitClientFirst;

    std::string gs2_header_;
    std::string cb_type_;
    std::string cb_data_;
    std::string client_first_bare_;
    std::string nonce_;  // client nonce + server nonce
    std::string server_first_;
    ScramCredential credential_;
    bool credential_usable_ = false;
};

}  // namespace parley::xmpp::sasl
