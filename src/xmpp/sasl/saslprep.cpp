#include "xmpp/sasl/saslprep.hpp"

#include "xmpp/stringprep.hpp"

namespace parley::xmpp::sasl {

std::optional<std::string> saslprep(std::string_view text) {
    if (text.empty()) return std::string{};
    return apply_stringprep(text, StringprepProfile::Saslprep);
}

}  // namespace parley::xmpp::sasl
