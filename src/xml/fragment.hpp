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
// of at most `max_bytes`. What xml::to_string wrote must read back whatever
// the stream limits let in: it declares a prefix for each namespaced
// attribute (up to twice the stream's attribute count on one element), and
// modules store payloads of up to 16 MiB. So no attribute bound applies here,
// and the default size bound is above every module's.
std::optional<Element> parse_element(std::string_view text, std::size_t max_bytes = 64 << 20);

}  // namespace parley::xml
