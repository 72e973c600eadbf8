// XML element tree used for every stanza that crosses the server.
//
// Layout is chosen for the hot path: element children live contiguously in
// one vector (no per-node allocation), and text is kept beside them as
// segments tagged with their position among the element children, so mixed
// content keeps document order while leaf elements such as <body/> cost one
// string. Names and namespaces are plain strings; the usual XMPP ones
// ("message", "jabber:client") fit the small-string buffer.
#pragma once

#include <cstddef>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace parley::xml {

// Namespace bound to the reserved "xml" prefix (Namespaces in XML 1.0 §3).
inline constexpr std::string_view xml_namespace = "http://www.w3.org/XML/1998/namespace";

struct Attribute {
    std::string name;   // local name
    std::string value;
    std::string ns;     // empty for unprefixed attributes; xml:lang -> {xml_namespace, "lang"}
    bool operator==(const Attribute&) const = default;
};

// A run of character data. `position` is the number of element children that
// precede it, so text and elements interleave in document order.
struct TextNode {
    std::size_t position;
    std::string text;
    bool operator==(const TextNode&) const = default;
};

class Element {
public:
    explicit Element(std::string name, std::string ns = {});
    Element(std::string name, std::string ns, std::vector<Attribute> attributes);

    Element(const Element&) = default;             // deep copy
    Element& operator=(const Element&) = default;
    Element(Element&&) noexcept = default;
    Element& operator=(Element&&) noexcept = default;
    ~Element() = default;

    const std::string& name() const { return name_; }
    const std::string& ns() const { return ns_; }
    void set_ns(std::string ns) { ns_ = std::move(ns); }

    // Attributes. `ns` empty means an unprefixed attribute.
    const std::string* find_attr(std::string_view name, std::string_view ns = {}) const;
    // Value of the unprefixed attribute `name`, empty if absent.
    std::string_view attr(std::string_view name) const;
    // Replaces the value if {ns}name exists, else appends.
    void set_attr(std::string name, std::string value, std::string ns = {});
    void remove_attr(std::string_view name, std::string_view ns = {});
    const std::vector<Attribute>& attributes() const { return attributes_; }

    // Children. append() returns the stored child, valid until the next
    // change to this element's children.
    Element& append(Element child);
    void append_text(std::string_view text);

    // First element child matching the filter; an empty name or ns matches any.
    const Element* first_child(std::string_view name = {}, std::string_view ns = {}) const;
    Element* first_child(std::string_view name = {}, std::string_view ns = {});

    // Element children only, in document order: `for (const Element& c : e.children())`.
    std::span<const Element> children() const { return children_; }
    std::span<Element> children() { return children_; }
    std::size_t element_count() const { return children_.size(); }

    // Text children, sorted by position, never empty, at most one per position.
    const std::vector<TextNode>& text_nodes() const { return texts_; }
    // Concatenation of the direct text children.
    std::string text() const;

    // Visits all children in document order: on_element(const Element&) and
    // on_text(std::string_view).
    template <typename OnElement, typename OnText>
    void for_each_node(OnElement&& on_element, OnText&& on_text) const;

    // Removes the element children matching the filter (empty = any); text is kept.
    void remove_children(std::string_view name, std::string_view ns);
    void remove_children_if(const std::function<bool(const Element&)>& doomed);
    // Removes all children, elements and text.
    void clear_children();

    // Deep structural equality (names, namespaces, attributes in order, children, text).
    bool operator==(const Element& other) const;

private:
    std::string name_;
    std::string ns_;
    std::vector<Attribute> attributes_;
    std::vector<Element> children_;
    std::vector<TextNode> texts_;
};

template <typename OnElement, typename OnText>
void Element::for_each_node(OnElement&& on_element, OnText&& on_text) const {
    auto text = texts_.begin();
    for (std::size_t i = 0; i < children_.size(); ++i) {
        if (text != texts_.end() && text->position == i) {
            on_text(std::string_view(text->text));
            ++text;
        }
        on_element(children_[i]);
    }
    if (text != texts_.end()) on_text(std::string_view(text->text));
}

}  // namespace parley::xml
