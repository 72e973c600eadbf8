#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "xml/element.hpp"

using parley::xml::Attribute;
using parley::xml::Element;
using parley::xml::TextNode;
using parley::xml::xml_namespace;

namespace {

// Document-order rendering of the direct children: "<name>" for elements, text as is.
std::string node_sequence(const Element& e) {
    std::string out;
    e.for_each_node([&](const Element& c) { out += "<" + c.name() + ">"; },
                    [&](std::string_view t) { out += t; });
    return out;
}

}  // namespace

TEST_CASE("element: name and namespace") {
    Element e("message", "jabber:client");
    CHECK(e.name() == "message");
    CHECK(e.ns() == "jabber:client");
    e.set_ns("jabber:server");
    CHECK(e.ns() == "jabber:server");
    CHECK(Element("x").ns().empty());
}

TEST_CASE("element: attributes are keyed by name and namespace") {
    Element e("message");
    CHECK(e.find_attr("to") == nullptr);
    CHECK(e.attr("to").empty());

    e.set_attr("to", "a@example.com");
    e.set_attr("lang", "en", std::string(xml_namespace));
    REQUIRE(e.find_attr("to") != nullptr);
    CHECK(*e.find_attr("to") == "a@example.com");
    CHECK(e.attr("to") == "a@example.com");
    CHECK(e.attr("lang").empty());  // unprefixed lookup does not see xml:lang
    REQUIRE(e.find_attr("lang", xml_namespace) != nullptr);
    CHECK(*e.find_attr("lang", xml_namespace) == "en");

    e.set_attr("to", "b@example.com");  // replaces in place
    CHECK(e.attributes() == std::vector<Attribute>{{"to", "b@example.com", ""}, {"lang", "en", std::string(xml_namespace)}});

    e.remove_attr("lang");  // unprefixed only: xml:lang stays
    CHECK(e.attributes().size() == 2);
    e.remove_attr("to");
    CHECK(e.attributes() == std::vector<Attribute>{{"lang", "en", std::string(xml_namespace)}});
    e.remove_attr("lang", xml_namespace);
    CHECK(e.attributes().empty());
}

TEST_CASE("element: append returns the stored child and keeps document order") {
    Element msg("message", "jabber:client");
    Element& body = msg.append(Element("body", "jabber:client"));
    body.append_text("hello");
    msg.append(Element("thread", "jabber:client"));
    msg.append(Element("x", "urn:other"));

    CHECK(msg.element_count() == 3);
    std::vector<std::string> names;
    for (const Element& c : msg.children()) names.push_back(c.name());
    CHECK(names == std::vector<std::string>{"body", "thread", "x"});
    REQUIRE(msg.first_child("body") != nullptr);
    CHECK(msg.first_child("body")->text() == "hello");
}

TEST_CASE("element: first_child filters by name and namespace, empty matches any") {
    Element e("iq");
    e.append(Element("query", "urn:a"));
    e.append(Element("query", "urn:b"));
    e.append(Element("other", "urn:b"));

    CHECK(e.first_child() == &e.children()[0]);
    CHECK(e.first_child("query") == &e.children()[0]);
    CHECK(e.first_child("query", "urn:b") == &e.children()[1]);
    CHECK(e.first_child({}, "urn:b") == &e.children()[1]);
    CHECK(e.first_child("other") == &e.children()[2]);
    CHECK(e.first_child("query", "urn:c") == nullptr);
    CHECK(e.first_child("missing") == nullptr);

    Element* mutable_child = e.first_child("other");
    REQUIRE(mutable_child != nullptr);
    mutable_child->set_attr("k", "v");
    CHECK(e.children()[2].attr("k") == "v");
    CHECK(Element("leaf").first_child() == nullptr);
}

TEST_CASE("element: mixed content and text()") {
    Element p("p");
    p.append_text("a");
    p.append_text("b");  // merged with the previous run
    p.append(Element("b")).append_text("inner");
    p.append_text("c");
    p.append(Element("i"));
    p.append_text("");  // ignored

    CHECK(node_sequence(p) == "ab<b>c<i>");
    CHECK(p.text() == "abc");  // direct text only
    CHECK(p.text_nodes() == std::vector<TextNode>{{0, "ab"}, {1, "c"}});
    CHECK(Element("empty").text().empty());
}

TEST_CASE("element: remove_children shifts text and merges adjacent runs") {
    Element p("p");
    p.append_text("a");
    p.append(Element("x", "urn:x"));
    p.append_text("b");
    p.append(Element("y"));
    p.append_text("c");
    p.append(Element("x", "urn:other"));
    p.append_text("d");
    p.append(Element("x", "urn:x"));

    p.remove_children("x", "urn:x");
    CHECK(node_sequence(p) == "ab<y>c<x>d");
    CHECK(p.text_nodes() == std::vector<TextNode>{{0, "ab"}, {1, "c"}, {2, "d"}});

    p.remove_children("x", {});
    CHECK(node_sequence(p) == "ab<y>cd");
    CHECK(p.text_nodes() == std::vector<TextNode>{{0, "ab"}, {1, "cd"}});

    p.remove_children("absent", {});
    CHECK(node_sequence(p) == "ab<y>cd");

    p.clear_children();
    CHECK(p.element_count() == 0);
    CHECK(p.text_nodes().empty());
    CHECK(node_sequence(p).empty());
}

TEST_CASE("element: copies are deep, moves transfer the tree") {
    Element original("message", "jabber:client");
    original.set_attr("id", "1");
    original.append(Element("body", "jabber:client")).append_text("hi");

    Element copy = original;
    CHECK(copy == original);
    copy.first_child("body")->append_text(" there");
    copy.set_attr("id", "2");
    CHECK(original.first_child("body")->text() == "hi");
    CHECK(original.attr("id") == "1");
    CHECK_FALSE(copy == original);

    Element moved = std::move(copy);
    CHECK(moved.first_child("body")->text() == "hi there");
    CHECK(moved.attr("id") == "2");

    Element assigned("x");
    assigned = original;
    CHECK(assigned == original);
}

TEST_CASE("element: equality compares every part") {
    const auto make = [] {
        Element e("a", "urn:a");
        e.set_attr("k", "v");
        e.append_text("t");
        e.append(Element("b"));
        return e;
    };
    CHECK(make() == make());
    Element other_ns = make();
    other_ns.set_ns("urn:b");
    CHECK_FALSE(other_ns == make());
    Element other_attr = make();
    other_attr.set_attr("k", "w");
    CHECK_FALSE(other_attr == make());
    Element other_text = make();
    other_text.append_text("u");
    CHECK_FALSE(other_text == make());
    Element other_child = make();
    other_child.first_child("b")->set_attr("z", "1");
    CHECK_FALSE(other_child == make());
}
