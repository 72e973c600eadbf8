#pragma once
// The one XML writer of the project (STYLE.md principle 5): every byte of XML
// Parley sends goes through these functions, so peer text can never escape
// its element.
#include <span>
#include <string>
#include <string_view>

#include "xml/element.hpp"

namespace parley::xml {

// A prefix already declared by an enclosing element, e.g. the stream header's
// xmlns:stream: elements in that namespace are written as stream:name.
struct PrefixBinding {
  std::string_view ns;
  std::string_view prefix;
};

// Appends `e` to `out`. xmlns is written only where the element's namespace
// differs from the one it inherits.
void serialize(const Element& e, std::string& out, std::string_view inherited_default_ns = {},
               std::span<const PrefixBinding> prefixes = {});
std::string to_string(const Element& e, std::string_view inherited_default_ns = {},
                      std::span<const PrefixBinding> prefixes = {});

void escape_text(std::string_view text, std::string& out);
void escape_attr(std::string_view value, std::string& out);

// The opening tag of a stream: <stream:stream xmlns='default_ns'
// xmlns:stream='http://etherx.jabber.org/streams' …attributes of root…>.
void write_stream_header(const Element& root, std::string_view default_ns, std::string& out);

}  // namespace parley::xml
