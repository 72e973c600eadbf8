// The one XML writer of the project (STYLE.md principle 5): every byte of XML
// that leaves the server is produced here, escaped, from an Element tree.
//
// Namespaces: an element gets xmlns='…' only where its namespace differs from
// the default namespace in effect (children inherit it). An element whose
// namespace is bound to a prefix in scope is written with that prefix, so
// stream-level elements come out as <stream:features/> after the stream header.
// Attributes in the XML namespace are written as xml:lang; any other attribute
// namespace gets a generated prefix declared on that element (xmlns:ns1='…').
#pragma once

#include <span>
#include <string>
#include <string_view>

#include "xml/element.hpp"

namespace parley::xml {

// A namespace binding; an empty prefix declares the default namespace.
struct NamespaceDecl {
    std::string_view prefix;
    std::string_view uri;
};

// Appends the whole element to `out`. `inherited_default_ns` is the default
// namespace already in effect where the element is written (e.g. "jabber:client"
// inside a c2s stream); `in_scope` lists prefixes already declared by ancestors
// (e.g. {"stream", "http://etherx.jabber.org/streams"} from the stream header).
void serialize(const Element& element, std::string& out, std::string_view inherited_default_ns = {},
               std::span<const NamespaceDecl> in_scope = {});
std::string to_string(const Element& element, std::string_view inherited_default_ns = {},
                      std::span<const NamespaceDecl> in_scope = {});

// Writes only the opening tag (attributes, no children, not self-closed) and
// declares `declarations` on it; used for the stream header:
//   Element root("stream", "http://etherx.jabber.org/streams");
//   root.set_attr("to", host); root.set_attr("version", "1.0");
//   NamespaceDecl decls[] = {{"", "jabber:client"}, {"stream", "http://etherx.jabber.org/streams"}};
//   write_open_tag(root, out, {}, decls);
//   -> <stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='…' version='1.0'>
void write_open_tag(const Element& element, std::string& out, std::string_view inherited_default_ns = {},
                    std::span<const NamespaceDecl> declarations = {});
// Writes the matching closing tag; pass the same arguments as to write_open_tag.
void write_close_tag(const Element& element, std::string& out, std::string_view inherited_default_ns = {},
                     std::span<const NamespaceDecl> declarations = {});

// Escaping for character data (& < >, and CR as &#xD; so it survives
// line-end normalisation) and for attribute values (also " ' TAB LF CR).
// Bytes that are not valid UTF-8, and characters XML 1.0 forbids (most C0
// controls, U+FFFE, U+FFFF), are written as U+FFFD so the output is always
// well-formed whatever a module put in the tree.
void escape_text(std::string_view text, std::string& out);
void escape_attr(std::string_view value, std::string& out);

}  // namespace parley::xml
