#include "xml/element.hpp"

#include <algorithm>

namespace parley::xml {

namespace {
bool matches(const Element& e, std::string_view name, std::string_view ns) {
  return (name.empty() || e.name() == name) && (ns.empty() || e.ns() == ns);
}
}  // namespace

Element::Element() = default;
Element::Element(std::string name, std::string ns) : name_(std::move(name)), ns_(std::move(ns)) {}
Element::Element(const Element&) = default;
Element::Element(Element&&) noexcept = default;
Element& Element::operator=(const Element&) = default;
Element& Element::operator=(Element&&) noexcept = default;
Element::~Element() = default;

const std::string* Element::find_attr(std::string_view name, std::string_view ns) const {
  for (const Attribute& a : attributes_) {
    if (a.name == name && a.ns == ns) return &a.value;
  }
  return nullptr;
}

std::string_view Element::attr(std::string_view name) const {
  const std::string* value = find_attr(name);
  return value ? std::string_view(*value) : std::string_view();
}

void Element::set_attr(std::string name, std::string value, std::string ns) {
  for (Attribute& a : attributes_) {
    if (a.name == name && a.ns == ns) {
      a.value = std::move(value);
      return;
    }
  }
  attributes_.push_back(Attribute{std::move(name), std::move(value), std::move(ns)});
}

void Element::remove_attr(std::string_view name) {
  std::erase_if(attributes_, [&](const Attribute& a) { return a.name == name && a.ns.empty(); });
}

Element& Element::append(Element child) {
  nodes_.push_back(Node{std::move(child)});
  return nodes_.back().element();
}

void Element::append_text(std::string_view text) {
  if (text.empty()) return;
  if (!nodes_.empty() && !nodes_.back().is_element()) {
    std::get<1>(nodes_.back().value).append(text);
  } else {
    nodes_.push_back(Node{std::string(text)});
  }
}

const Element* Element::first_child(std::string_view name, std::string_view ns) const {
  for (const Element& c : children()) {
    if (matches(c, name, ns)) return &c;
  }
  return nullptr;
}

Element* Element::first_child(std::string_view name, std::string_view ns) {
  for (Element& c : children()) {
    if (matches(c, name, ns)) return &c;
  }
  return nullptr;
}

size_t Element::element_count() const {
  return static_cast<size_t>(std::count_if(nodes_.begin(), nodes_.end(), [](const Node& n) { return n.is_element(); }));
}

std::string Element::text() const {
  std::string out;
  for (const Node& n : nodes_) {
    if (!n.is_element()) out += n.text();
  }
  return out;
}

void Element::remove_children(std::string_view name, std::string_view ns) {
  std::erase_if(nodes_, [&](const Node& n) { return n.is_element() && matches(n.element(), name, ns); });
}

void Element::clear_children() { nodes_.clear(); }

bool Element::operator==(const Element& other) const {
  if (name_ != other.name_ || ns_ != other.ns_ || nodes_ != other.nodes_) return false;
  if (attributes_.size() != other.attributes_.size()) return false;
  for (const Attribute& a : attributes_) {
    const std::string* value = other.find_attr(a.name, a.ns);
    if (!value || *value != a.value) return false;
  }
  return true;
}

}  // namespace parley::xml
