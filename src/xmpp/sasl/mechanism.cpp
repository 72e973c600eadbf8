#include "xmpp/sasl/mechanism.hpp"

#include <array>

namespace parley::xmpp::sasl {
namespace {

struct MechanismEntry {
    std::string_view name;
    ScramMechanism mechanism;
};

constexpr std::array<MechanismEntry, 6> mechanisms{{
    {"SCRAM-SHA-1", {ScramHash::Sha1, false}},
    {"SCRAM-SHA-1-PLUS", {ScramHash::Sha1, true}},
    {"SCRAM-SHA-256", {ScramHash::Sha256, false}},
    {"SCRAM-SHA-256-PLUS", {ScramHash::Sha256, true}},
    {"SCRAM-SHA-512", {ScramHash::Sha512, false}},
    {"SCRAM-SHA-512-PLUS", {ScramHash::Sha512, true}},
}};

}  // namespace

std::optional<ScramMechanism> parse_scram_mechanism(std::string_view name) {
    for (const auto& entry : mechanisms) {
        if (entry.name == name) return entry.mechanism;
    }
    return std::nullopt;
}

std::string_view scram_mechanism_name(ScramHash hash, bool plus) {
    for (const auto& entry : mechanisms) {
        if (entry.mechanism == ScramMechanism{hash, plus}) return entry.name;
    }
    return {};
}

}  // namespace parley::xmpp::sasl
