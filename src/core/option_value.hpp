#pragma once
// Typed option values and their conversion from TOML nodes. Shared by the
// registry (which checks defaults), the loader and the doc generators; not
// needed by code that only reads a Config.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include <toml++/toml.h>

#include "core/option.hpp"

namespace parley::core {

// String and Path hold std::string, Integer/Duration(ms)/Size(bytes) hold
// int64_t, Boolean holds bool, StringList holds a vector.
using OptionValue = std::variant<std::string, int64_t, bool, std::vector<std::string>>;

// "30s" -> 30000 ms. Accepts an unsigned integer followed by ms, s, m, h or d.
std::optional<int64_t> parse_duration_ms(std::string_view text);
// "256KiB" -> 262144. Accepts an unsigned integer followed by B, KiB, MiB or GiB.
std::optional<int64_t> parse_size_bytes(std::string_view text);
// Shortest exact spelling: 600000 -> "10m", 1500 -> "1500ms".
std::string format_duration_ms(int64_t ms);
// Shortest exact spelling: 262144 -> "256KiB", 1000 -> "1000B".
std::string format_size_bytes(int64_t bytes);

// Converts and validates one TOML value against its spec. On failure returns
// the message for the operator ("must be between 1 and 65535").
std::variant<OptionValue, std::string> convert_option_value(const OptionSpec& spec,
                                                            const toml::node& node);

// Parses spec.default_value (TOML source text) and converts it.
std::variant<OptionValue, std::string> parse_default_value(const OptionSpec& spec);

}  // namespace parley::core
