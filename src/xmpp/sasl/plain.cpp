#include "xmpp/sasl/plain.hpp"

#include "xmpp/sasl/scram_message.hpp"

namespace parley::xmpp::sasl {

std::optional<PlainCredentials> parse_plain(std::string_view message) {
    const std::size_t first = message.find('\0');
    if (first == std::string_view::npos) return std::nullopt;
    const std::size_t second = message.find('\0', first + 1);
    if (second == std::string_view::npos) return std::nullopt;
    const std::string_view authzid = message.substr(0, first);
    const std::string_view authcid = message.substr(first + 1, second - first - 1);
    const std::string_view password = message.substr(second + 1);
    // The validity check also rejects a third NUL inside the password.
    if (authcid.empty() || password.empty()) return std::nullopt;
    if (!is_valid_utf8_without_nul(authzid) || !is_valid_utf8_without_nul(authcid) ||
        !is_valid_utf8_without_nul(password)) {
        return std::nullopt;
    }
    return PlainCredentials{std::string(authzid), std::string(authcid), std::string(password)};
}

}  // namespace parley::xmpp::sasl
