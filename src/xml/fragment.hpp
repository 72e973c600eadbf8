#pragma once
// Parses one standalone XML element, such as a payload a module stored as
// text in the database. The same Expat-based parser and
// restrictions as the stream (RFC 6120 §11.1) apply; the element must carry
// its own namespace declarations, as xml::to_string writes them.
#include <cstddef>
#include <optional>
#include <string_view>

#include "xml/element.hpp"

namespace parley::xml {

// The element, or nullopt if `text` is not exactly one well-formed element
// of at most `max_bytes`.
std::optional<Element> parse_element(std::string_view text, std::size_t max_bytes = 1 << 20);

}  // namespace parley::xml
