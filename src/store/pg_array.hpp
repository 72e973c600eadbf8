#pragma once
// PostgreSQL text[] values in their text form ({"a","b c"}), for passing
// arrays as statement parameters and reading them back from rows.
#include <string>
#include <string_view>
#include <vector>

namespace parley::store {

// Every element double-quoted, with '"' and '\\' escaped.
std::string format_text_array(const std::vector<std::string>& values);
// The inverse; quoted and unquoted elements; an invalid value gives {}.
std::vector<std::string> parse_text_array(std::string_view text);

}  // namespace parley::store
