#include "xml/element.hpp"

#include <utility>

namespace parley::xml {

namespace {

bool matches(const Element& e, std::string_view name, std::string_view ns) {
    return (name.empty() || e.name() == name) && (ns.empty() || e.ns() == ns);
}

}  // namespace

Element::Element(std::string name, std::string ns) : name_(std::move(name)), ns_(std::move(ns)) {}

Element::Element(std::string name, std::string ns, std::vector<Attribute> attributes)
    : name_(std::move(name)), ns_(std::move(ns)), attributes_(std::move(attributes)) {}

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

void Element::remove_attr(std::string_view name, std::string_view ns) {
    std::erase_if(attributes_, [&](const Attribute& a) { return a.name == name && a.ns == ns; });
}

Element& Element::append(Element child) {
    return children_.emplace_back(std::move(child));
}

void Element::append_text(std::string_view text) {
    if (text.empty()) return;
    // Parsers deliver character data in pieces; keep one segment per position.
    if (!texts_.empty() && texts_.back().position == children_.size()) {
        texts_.back().text.append(text);
    } else {
        texts_.push_back(TextNode{children_.size(), std::string(text)});
    }
}

const Element* Element::first_child(std::string_view name, std::string_view ns) const {
    for (const Element& c : children_) {
        if (matches(c, name, ns)) return &c;
    }
    return nullptr;
}

Element* Element::first_child(std::string_view name, std::string_view ns) {
    return const_cast<Element*>(std::as_const(*this).first_child(name, ns));
}

std::string Element::text() const {
    if (texts_.size() == 1) return texts_.front().text;
    std::string out;
    for (const TextNode& t : texts_) out += t.text;
    return out;
}

void Element::remove_children(std::string_view name, std::string_view ns) {
    remove_children_if([name, ns](const Element& child) { return matches(child, name, ns); });
}

void Element::remove_children_if(const std::function<bool(const Element&)>& doomed) {
    // One pass over the children; text positions shift left by the number of
    // removed elements before them, and runs that become adjacent are merged.
    std::vector<std::size_t> removed_before(children_.size() + 1, 0);
    std::size_t kept = 0;
    for (std::size_t i = 0; i < children_.size(); ++i) {
        removed_before[i] = i - kept;
        if (!doomed(children_[i])) {
            if (kept != i) children_[kept] = std::move(children_[i]);
            ++kept;
        }
    }
    removed_before[children_.size()] = children_.size() - kept;
    if (kept == children_.size()) return;
    children_.erase(children_.begin() + static_cast<std::ptrdiff_t>(kept), children_.end());

    std::vector<TextNode> merged;
    merged.reserve(texts_.size());
    for (TextNode& t : texts_) {
        t.position -= removed_before[t.position];
        if (!merged.empty() && merged.back().position == t.position) {
            merged.back().text += t.text;
        } else {
            merged.push_back(std::move(t));
        }
    }
    texts_ = std::move(merged);
}

void Element::clear_children() {
    children_.clear();
    texts_.clear();
}

bool Element::operator==(const Element& other) const {
    return name_ == other.name_ && ns_ == other.ns_ && attributes_ == other.attributes_ &&
           texts_ == other.texts_ && children_ == other.children_;
}

}  // namespace parley::xml
