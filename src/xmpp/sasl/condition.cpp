#include "xmpp/sasl/condition.hpp"

namespace parley::xmpp::sasl {

std::string_view sasl_condition_name(SaslCondition condition) {
    switch (condition) {
        case SaslCondition::Aborted: return "aborted";
        case SaslCondition::AccountDisabled: return "account-disabled";
        case SaslCondition::CredentialsExpired: return "credentials-expired";
        case SaslCondition::EncryptionRequired: return "encryption-required";
        case SaslCondition::IncorrectEncoding: return "incorrect-encoding";
        case SaslCondition::InvalidAuthzid: return "invalid-authzid";
        case SaslCondition::InvalidMechanism: return "invalid-mechanism";
        case SaslCondition::MalformedRequest: return "malformed-request";
        case SaslCondition::MechanismTooWeak: return "mechanism-too-weak";
        case SaslCondition::NotAuthorized: return "not-authorized";
        case SaslCondition::TemporaryAuthFailure: return "temporary-auth-failure";
    }
    return "not-authorized";
}

}  // namespace parley::xmpp::sasl
