#pragma once
// The element tree: what the stream parser produces for each stanza and what
// the writer serializes. Children keep document order, text included (mixed
// content such as XHTML-IM survives a round trip).
#include <cstddef>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace parley::xml {

inline constexpr std::string_view xml_namespace = "http://www.w3.org/XML/1998/namespace";

struct Attribute {
  std::string name;
  std::string value;
  std::string ns;  // empty for unprefixed attributes
};

struct Node;

class Element {
 public:
  Element();
  explicit Element(std::string name, std::string ns = {});
  Element(const Element&);
  Element(Element&&) noexcept;
  Element& operator=(const Element&);
  Element& operator=(Element&&) noexcept;
  ~Element();

  const std::string& name() const { return name_; }
  const std::string& ns() const { return ns_; }
  void set_ns(std::string ns) { ns_ = std::move(ns); }

  const std::string* find_attr(std::string_view name, std::string_view ns = {}) const;
  // The attribute's value, or empty if absent.
  std::string_view attr(std::string_view name) const;
  void set_attr(std::string name, std::string value, std::string ns = {});
  void remove_attr(std::string_view name);
  const std::vector<Attribute>& attributes() const { return attributes_; }

  // Appends a child element and returns the stored copy.
  Element& append(Element child);
  // Appends text, merged with a preceding text node.
  void append_text(std::string_view text);

  // The first child element matching name and namespace (empty = any).
  const Element* first_child(std::string_view name = {}, std::string_view ns = {}) const;
  Element* first_child(std::string_view name = {}, std::string_view ns = {});
  size_t element_count() const;
  // The concatenated direct text children.
  std::string text() const;
  void remove_children(std::string_view name, std::string_view ns = {});
  void clear_children();

  // All child nodes (elements and text) in document order.
  const std::vector<Node>& nodes() const { return nodes_; }

  // Iteration over child elements only: for (const Element& c : e.children()).
  template <class NodeT, class ElementT>
  class Iterator {
   public:
    Iterator(NodeT* at, NodeT* end) : at_(at), end_(end) { skip_text(); }
    ElementT& operator*() const;
    ElementT* operator->() const { return &**this; }
    Iterator& operator++() {
      ++at_;
      skip_text();
      return *this;
    }
    bool operator!=(const Iterator& other) const { return at_ != other.at_; }
    bool operator==(const Iterator& other) const { return at_ == other.at_; }

   private:
    void skip_text();
    NodeT* at_;
    NodeT* end_;
  };
  template <class NodeT, class ElementT>
  struct Range {
    NodeT* first;
    NodeT* last;
    Iterator<NodeT, ElementT> begin() const { return {first, last}; }
    Iterator<NodeT, ElementT> end() const { return {last, last}; }
  };
  Range<const Node, const Element> children() const;
  Range<Node, Element> children();

  bool operator==(const Element& other) const;

 private:
  std::string name_;
  std::string ns_;
  std::vector<Attribute> attributes_;
  std::vector<Node> nodes_;
};

// A child node: an element or a run of text.
struct Node {
  std::variant<Element, std::string> value;
  bool is_element() const { return value.index() == 0; }
  const Element& element() const { return std::get<0>(value); }
  Element& element() { return std::get<0>(value); }
  const std::string& text() const { return std::get<1>(value); }
  bool operator==(const Node& other) const { return value == other.value; }
};

template <class NodeT, class ElementT>
ElementT& Element::Iterator<NodeT, ElementT>::operator*() const {
  return at_->element();
}

template <class NodeT, class ElementT>
void Element::Iterator<NodeT, ElementT>::skip_text() {
  while (at_ != end_ && !at_->is_element()) ++at_;
}

inline Element::Range<const Node, const Element> Element::children() const {
  return {nodes_.data(), nodes_.data() + nodes_.size()};
}
inline Element::Range<Node, Element> Element::children() { return {nodes_.data(), nodes_.data() + nodes_.size()}; }

}  // namespace parley::xml
