#pragma once
// SASL failure conditions (RFC 6120 §6.5).

#include <string_view>

namespace parley::xmpp::sasl {

enum class SaslCondition {
    Aborted,
    AccountDisabled,
    CredentialsExpired,
    EncryptionRequired,
    IncorrectEncoding,
    InvalidAuthzid,
    InvalidMechanism,
    MalformedRequest,
    MechanismTooWeak,
    NotAuthorized,
    TemporaryAuthFailure,
};

// The child element name of <failure xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>,
// e.g. "not-authorized".
std::string_view sasl_condition_name(SaslCondition condition);

}  // namespace parley::xmpp::sasl
