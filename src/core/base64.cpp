#include "core/base64.hpp"

#include <array>
#include <cstdint>

namespace parley::core {
namespace {

constexpr std::string_view alphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

// Maps a byte to its 6-bit value, or -1 when it is not in the alphabet.
constexpr std::array<int8_t, 256> make_reverse_table() {
    std::array<int8_t, 256> table{};
    for (auto& entry : table) entry = -1;
    for (std::size_t i = 0; i < alphabet.size(); ++i) {
        table[static_cast<unsigned char>(alphabet[i])] = static_cast<int8_t>(i);
    }
    return table;
}

constexpr auto reverse_table = make_reverse_table();

}  // namespace

std::string base64_encode(std::string_view bytes) {
    std::string out;
    out.reserve((bytes.size() + 2) / 3 * 4);
    std::size_t i = 0;
    for (; i + 3 <= bytes.size(); i += 3) {
        uint32_t group = (uint32_t(uint8_t(bytes[i])) << 16) |
                         (uint32_t(uint8_t(bytes[i + 1])) << 8) | uint8_t(bytes[i + 2]);
        out += alphabet[(group >> 18) & 63];
        out += alphabet[(group >> 12) & 63];
        out += alphabet[(group >> 6) & 63];
        out += alphabet[group & 63];
    }
    std::size_t rest = bytes.size() - i;
    if (rest == 1) {
        uint32_t group = uint32_t(uint8_t(bytes[i])) << 16;
        out += alphabet[(group >> 18) & 63];
        out += alphabet[(group >> 12) & 63];
        out += "==";
    } else if (rest == 2) {
        uint32_t group = (uint32_t(uint8_t(bytes[i])) << 16) | (uint32_t(uint8_t(bytes[i + 1])) << 8);
        out += alphabet[(group >> 18) & 63];
        out += alphabet[(group >> 12) & 63];
        out += alphabet[(group >> 6) & 63];
        out += '=';
    }
    return out;
}

std::optional<std::string> base64_decode(std::string_view text) {
    if (text.size() % 4 != 0) return std::nullopt;
    std::string out;
    out.reserve(text.size() / 4 * 3);
    for (std::size_t i = 0; i < text.size(); i += 4) {
        const bool last = i + 4 == text.size();
        std::size_t padding = 0;
        if (last) {
            if (text[i + 3] == '=') padding = (text[i + 2] == '=') ? 2 : 1;
        }
        uint32_t group = 0;
        for (std::size_t k = 0; k < 4; ++k) {
            if (k >= 4 - padding) {
                group <<= 6;
                continue;
            }
            int8_t value = reverse_table[static_cast<unsigned char>(text[i + k])];
            if (value < 0) return std::nullopt;  // includes a misplaced '='
            group = (group << 6) | uint32_t(value);
        }
        // RFC 4648 §3.5: pad bits must be zero, so each byte string has
        // exactly one encoding.
        if (padding == 1 && (group & 0xFF) != 0) return std::nullopt;
        if (padding == 2 && (group & 0xFFFF) != 0) return std::nullopt;
        out += char((group >> 16) & 0xFF);
        if (padding < 2) out += char((group >> 8) & 0xFF);
        if (padding < 1) out += char(group & 0xFF);
    }
    return out;
}

}  // namespace parley::core
