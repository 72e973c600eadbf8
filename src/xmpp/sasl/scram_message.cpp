#include "xmpp/sasl/scram_message.hpp"

#include <cstdint>

namespace parley::xmpp::sasl {
namespace {

bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool is_digit(char c) { return c >= '0' && c <= '9'; }

}  // namespace

std::optional<std::vector<ScramAttribute>> parse_scram_attributes(std::string_view list) {
    std::vector<ScramAttribute> attributes;
    std::size_t start = 0;
    while (true) {
        std::size_t end = list.find(',', start);
        if (end == std::string_view::npos) end = list.size();
        const std::string_view field = list.substr(start, end - start);
        if (field.size() < 3 || !is_alpha(field[0]) || field[1] != '=') return std::nullopt;
        attributes.push_back({field[0], field.substr(2)});
        if (end == list.size()) break;
        start = end + 1;
    }
    return attributes;
}

std::optional<std::string> decode_saslname(std::string_view encoded) {
    std::string name;
    name.reserve(encoded.size());
    for (std::size_t i = 0; i < encoded.size(); ++i) {
        const char c = encoded[i];
        if (c == ',') return std::nullopt;
        if (c != '=') {
            name += c;
            continue;
        }
        const std::string_view escape = encoded.substr(i, 3);
        if (escape == "=2C") {
            name += ',';
        } else if (escape == "=3D") {
            name += '=';
        } else {
            return std::nullopt;
        }
        i += 2;
    }
    if (name.empty()) return std::nullopt;
    return name;
}

std::string encode_saslname(std::string_view name) {
    std::string encoded;
    encoded.reserve(name.size());
    for (char c : name) {
        if (c == ',') {
            encoded += "=2C";
        } else if (c == '=') {
            encoded += "=3D";
        } else {
            encoded += c;
        }
    }
    return encoded;
}

bool is_valid_scram_nonce(std::string_view nonce) {
    if (nonce.empty()) return false;
    for (char c : nonce) {
        const auto u = static_cast<unsigned char>(c);
        if (u < 0x21 || u > 0x7E || c == ',') return false;
    }
    return true;
}

bool is_valid_cb_name(std::string_view name) {
    if (name.empty()) return false;
    for (char c : name) {
        if (!is_alpha(c) && !is_digit(c) && c != '.' && c != '-') return false;
    }
    return true;
}

bool is_valid_utf8_without_nul(std::string_view text) {
    std::size_t i = 0;
    while (i < text.size()) {
        const auto lead = static_cast<unsigned char>(text[i]);
        if (lead == 0) return false;
        if (lead < 0x80) {
            ++i;
            continue;
        }
        std::size_t length;
        uint32_t code_point;
        if (lead >= 0xC2 && lead <= 0xDF) {
            length = 2;
            code_point = lead & 0x1F;
        } else if (lead >= 0xE0 && lead <= 0xEF) {
            length = 3;
            code_point = lead & 0x0F;
        } else if (lead >= 0xF0 && lead <= 0xF4) {
            length = 4;
            code_point = lead & 0x07;
        } else {
            return false;  // continuation byte, overlong C0/C1, or F5..FF
        }
        if (i + length > text.size()) return false;
        for (std::size_t k = 1; k < length; ++k) {
            const auto next = static_cast<unsigned char>(text[i + k]);
            if ((next & 0xC0) != 0x80) return false;
            code_point = (code_point << 6) | (next & 0x3F);
        }
        if (length == 3 && (code_point < 0x800 || (code_point >= 0xD800 && code_point <= 0xDFFF))) {
            return false;
        }
        if (length == 4 && (code_point < 0x10000 || code_point > 0x10FFFF)) return false;
        i += length;
    }
    return true;
}

}  // namespace parley::xmpp::sasl
