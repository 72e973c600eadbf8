#include "xml/writer.hpp"

#include <array>
#include <cstdint>
#include <list>
#include <vector>

namespace parley::xml {

namespace {

constexpr std::string_view replacement_character = "\xEF\xBF\xBD";  // U+FFFD

// Length of the valid UTF-8 sequence at the start of `s` encoding an XML 1.0
// Char (XML 1.0 §2.2), or 0 if there is none. Only called for bytes >= 0x80.
std::size_t valid_multibyte_length(std::string_view s) {
    const auto byte = [&](std::size_t i) { return static_cast<std::uint8_t>(s[i]); };
    const std::uint8_t b0 = byte(0);
    std::size_t length;
    std::uint32_t cp;
    if (b0 >= 0xC2 && b0 <= 0xDF) {
        length = 2;
        cp = b0 & 0x1F;
    } else if (b0 >= 0xE0 && b0 <= 0xEF) {
        length = 3;
        cp = b0 & 0x0F;
    } else if (b0 >= 0xF0 && b0 <= 0xF4) {
        length = 4;
        cp = b0 & 0x07;
    } else {
        return 0;
    }
    if (s.size() < length) return 0;
    for (std::size_t i = 1; i < length; ++i) {
        if ((byte(i) & 0xC0) != 0x80) return 0;
        cp = (cp << 6) | (byte(i) & 0x3F);
    }
    const bool overlong = (length == 3 && cp < 0x800) || (length == 4 && cp < 0x10000);
    const bool surrogate = cp >= 0xD800 && cp <= 0xDFFF;
    const bool non_char = cp == 0xFFFE || cp == 0xFFFF;
    if (overlong || surrogate || non_char || cp > 0x10FFFF) return 0;
    return length;
}

// Per-byte action for ASCII; 0 = copy as is.
enum : std::uint8_t { copy = 0, replace = 1, entity = 2 };

struct EscapeTable {
    std::array<std::uint8_t, 128> action{};
    std::array<std::string_view, 128> entity_text{};
};

constexpr EscapeTable make_table(bool attribute) {
    EscapeTable t;
    for (int c = 0; c < 0x20; ++c) t.action[c] = replace;
    t.action['\t'] = copy;
    t.action['\n'] = copy;
    const auto set = [&](char c, std::string_view text) {
        t.action[static_cast<unsigned char>(c)] = entity;
        t.entity_text[static_cast<unsigned char>(c)] = text;
    };
    set('&', "&amp;");
    set('<', "&lt;");
    set('>', "&gt;");  // also keeps "]]>" out of character data (XML 1.0 §2.4)
    set('\r', "&#xD;");
    if (attribute) {
        // Attribute-value normalisation (XML 1.0 §3.3.3) would turn literal
        // whitespace characters into spaces; references survive it.
        set('"', "&quot;");
        set('\'', "&apos;");
        set('\t', "&#x9;");
        set('\n', "&#xA;");
    }
    return t;
}

constexpr EscapeTable text_table = make_table(false);
constexpr EscapeTable attr_table = make_table(true);

void escape(std::string_view in, std::string& out, const EscapeTable& table) {
    std::size_t run_start = 0;  // start of bytes to copy unchanged
    std::size_t i = 0;
    const auto flush = [&] { out.append(in.data() + run_start, i - run_start); };
    while (i < in.size()) {
        const auto c = static_cast<std::uint8_t>(in[i]);
        if (c < 0x80) {
            if (table.action[c] == copy) {
                ++i;
                continue;
            }
            flush();
            out.append(table.action[c] == entity ? table.entity_text[c] : replacement_character);
            run_start = ++i;
            continue;
        }
        if (const std::size_t length = valid_multibyte_length(in.substr(i))) {
            i += length;
            continue;
        }
        flush();
        out.append(replacement_character);
        run_start = ++i;
    }
    flush();
}

constexpr std::string_view quote = "'";

void write_attribute(std::string& out, std::string_view prefix, std::string_view name, std::string_view value) {
    out += ' ';
    if (!prefix.empty()) {
        out += prefix;
        out += ':';
    }
    out += name;
    out += '=';
    out += quote;
    escape_attr(value, out);
    out += quote;
}

// Prefix bound to `uri` among the declarations, innermost (last) first,
// ignoring bindings shadowed by a later declaration of the same prefix.
std::string_view find_prefix(std::span<const NamespaceDecl> decls, std::string_view uri) {
    for (std::size_t i = decls.size(); i-- > 0;) {
        const NamespaceDecl& d = decls[i];
        if (d.prefix.empty() || d.uri != uri) continue;
        bool shadowed = false;
        for (std::size_t j = i + 1; j < decls.size(); ++j) shadowed |= decls[j].prefix == d.prefix;
        if (!shadowed) return d.prefix;
    }
    return {};
}

bool prefix_in_use(std::span<const NamespaceDecl> a, std::span<const NamespaceDecl> b, std::string_view prefix) {
    for (const NamespaceDecl& d : a)
        if (d.prefix == prefix) return true;
    for (const NamespaceDecl& d : b)
        if (d.prefix == prefix) return true;
    return false;
}

// How an element's name is written and what its children inherit.
struct StartTag {
    std::string_view prefix;      // empty: unprefixed
    std::string_view default_ns;  // default namespace in effect for the children
};

// Prefixes generated for one element ("ns1", …). Lives as long as the
// element is being written; std::list keeps the strings in place and costs
// nothing while empty, which is the usual case.
struct GeneratedPrefixes {
    std::list<std::string> names;
    std::vector<NamespaceDecl> decls;
};

// Decides the element's qualified name from the namespaces in scope, then
// writes "<name" with every declaration it needs and all attributes (no ">").
StartTag write_start(const Element& e, std::string& out, std::string_view inherited_default,
                     std::span<const NamespaceDecl> in_scope, std::span<const NamespaceDecl> declarations,
                     GeneratedPrefixes& generated) {
    std::string_view default_ns = inherited_default;
    bool default_declared = false;
    for (const NamespaceDecl& d : declarations) {
        if (d.prefix.empty()) {
            default_ns = d.uri;
            default_declared = true;
        }
    }

    const auto generate_prefix = [&](std::string_view uri) -> std::string_view {
        for (std::size_t n = 1;; ++n) {
            std::string candidate = "ns" + std::to_string(n);
            if (prefix_in_use(in_scope, declarations, candidate) || prefix_in_use(generated.decls, {}, candidate))
                continue;
            const std::string& stored = generated.names.emplace_back(std::move(candidate));
            generated.decls.push_back({stored, uri});
            return stored;
        }
    };

    StartTag tag{{}, default_ns};
    bool declare_default = false;
    if (e.ns() != default_ns) {
        std::string_view prefix = find_prefix(declarations, e.ns());
        if (prefix.empty()) prefix = find_prefix(in_scope, e.ns());
        if (!prefix.empty()) {
            tag.prefix = prefix;
        } else if (default_declared && !e.ns().empty()) {
            // The caller fixed the default namespace on this very tag; give
            // the element its own prefix instead of contradicting it.
            tag.prefix = generate_prefix(e.ns());
        } else {
            declare_default = true;
            tag.default_ns = e.ns();
        }
    }

    out += '<';
    if (!tag.prefix.empty()) {
        out += tag.prefix;
        out += ':';
    }
    out += e.name();
    if (declare_default) write_attribute(out, {}, "xmlns", e.ns());
    for (const NamespaceDecl& d : declarations) {
        if (d.prefix.empty()) {
            write_attribute(out, {}, "xmlns", d.uri);
        } else {
            write_attribute(out, "xmlns", d.prefix, d.uri);
        }
    }
    std::size_t declared = 0;
    const auto declare_generated = [&] {
        for (; declared < generated.decls.size(); ++declared)
            write_attribute(out, "xmlns", generated.decls[declared].prefix, generated.decls[declared].uri);
    };
    declare_generated();

    for (const Attribute& a : e.attributes()) {
        if (a.ns.empty()) {
            write_attribute(out, {}, a.name, a.value);
            continue;
        }
        if (a.ns == xml_namespace) {
            write_attribute(out, "xml", a.name, a.value);
            continue;
        }
        // Unprefixed attributes are in no namespace (Namespaces in XML 1.0
        // §6.2), so a namespaced attribute always needs a prefix.
        std::string_view prefix = find_prefix(generated.decls, a.ns);
        if (prefix.empty()) prefix = find_prefix(declarations, a.ns);
        if (prefix.empty()) prefix = find_prefix(in_scope, a.ns);
        if (prefix.empty()) {
            prefix = generate_prefix(a.ns);
            declare_generated();
        }
        write_attribute(out, prefix, a.name, a.value);
    }
    return tag;
}

void write_end(const Element& e, std::string_view prefix, std::string& out) {
    out += "</";
    if (!prefix.empty()) {
        out += prefix;
        out += ':';
    }
    out += e.name();
    out += '>';
}

void write_element(const Element& e, std::string& out, std::string_view inherited_default,
                   std::span<const NamespaceDecl> in_scope) {
    GeneratedPrefixes generated;
    const StartTag tag = write_start(e, out, inherited_default, in_scope, {}, generated);
    if (e.element_count() == 0 && e.text_nodes().empty()) {
        out += "/>";
        return;
    }
    out += '>';
    e.for_each_node([&](const Element& child) { write_element(child, out, tag.default_ns, in_scope); },
                    [&](std::string_view text) { escape_text(text, out); });
    write_end(e, tag.prefix, out);
}

}  // namespace

void escape_text(std::string_view text, std::string& out) { escape(text, out, text_table); }

void escape_attr(std::string_view value, std::string& out) { escape(value, out, attr_table); }

void serialize(const Element& element, std::string& out, std::string_view inherited_default_ns,
               std::span<const NamespaceDecl> in_scope) {
    write_element(element, out, inherited_default_ns, in_scope);
}

std::string to_string(const Element& element, std::string_view inherited_default_ns,
                      std::span<const NamespaceDecl> in_scope) {
    std::string out;
    serialize(element, out, inherited_default_ns, in_scope);
    return out;
}

void write_open_tag(const Element& element, std::string& out, std::string_view inherited_default_ns,
                    std::span<const NamespaceDecl> declarations) {
    GeneratedPrefixes generated;
    write_start(element, out, inherited_default_ns, {}, declarations, generated);
    out += '>';
}

void write_close_tag(const Element& element, std::string& out, std::string_view inherited_default_ns,
                     std::span<const NamespaceDecl> declarations) {
    // Resolve the name exactly as write_open_tag did, into a scratch buffer.
    std::string scratch;
    GeneratedPrefixes generated;
    const StartTag tag = write_start(element, scratch, inherited_default_ns, {}, declarations, generated);
    write_end(element, tag.prefix, out);
}

}  // namespace parley::xml
