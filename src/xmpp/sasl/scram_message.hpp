#pragma once
// Lexical pieces of SCRAM messages (RFC 5802 §7), shared by ScramServer
// and ScramClient. Internal to parley_proto.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace parley::xmpp::sasl {

// One "x=value" field of a SCRAM attribute list.
struct ScramAttribute {
    char name;
    std::string_view value;  // points into the parsed message
};

// Splits a comma-separated list of attr-val fields. Every field must be
// one ASCII letter, '=', and a non-empty value without ','. The input must
// already be checked to be valid UTF-8 without NUL. nullopt otherwise.
std::optional<std::vector<ScramAttribute>> parse_scram_attributes(std::string_view list);

// saslname (RFC 5802 §5.1): ',' and '=' travel as "=2C" and "=3D"; any
// other '=' is an error. Decoding also rejects an empty result.
std::optional<std::string> decode_saslname(std::string_view encoded);
std::string encode_saslname(std::string_view name);

// nonce = 1*printable, printable = %x21-2B / %x2D-7E (no ',').
bool is_valid_scram_nonce(std::string_view nonce);

// cb-name = 1*(ALPHA / DIGIT / "." / "-") (RFC 5802 §7).
bool is_valid_cb_name(std::string_view name);

// Well-formed UTF-8 (RFC 3629): no overlong forms, surrogates or code
// points above U+10FFFF. NUL is rejected too: no SASL field may hold one.
bool is_valid_utf8_without_nul(std::string_view text);

}  // namespace parley::xmpp::sasl
