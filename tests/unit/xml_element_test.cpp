// The element tree.
#include <doctest/doctest.h>

#include "xml/element.hpp"

using namespace parley::xml;

TEST_CASE("attributes: set, replace, find, remove") {
  Element e("iq", "jabber:client");
  CHECK(e.attr("id").empty());
  CHECK_FALSE(e.find_attr("id"));
  e.set_attr("id", "1");
  e.set_attr("id", "2");
  e.set_attr("lang", "en", std::string(xml_namespace));
  CHECK(e.attributes().size() == 2);
  CHECK(e.attr("id") == "2");
  CHECK(e.attr("lang").empty());  // attr() reads unprefixed attributes only
  CHECK(*e.find_attr("lang", xml_namespace) == "en");
  e.remove_attr("id");
  CHECK_FALSE(e.find_attr("id"));
}

TEST_CASE("children: order, filters, text merging, removal, deep copy") {
  Element m("message", "jabber:client");
  m.append_text("a");
  m.append_text("b");
  Element& body = m.append(Element("body", "jabber:client"));
  body.append_text("hello");
  m.append_text("c");
  m.append(Element("x", "urn:x"));
  CHECK(m.nodes().size() == 4);
  CHECK(m.text() == "abc");
  CHECK(m.element_count() == 2);
  CHECK(m.first_child("body")->text() == "hello");
  CHECK(m.first_child("x", "urn:x"));
  CHECK_FALSE(m.first_child("x", "urn:y"));
  CHECK(m.first_child()->name() == "body");
  int count = 0;
  for (const Element& c : m.children()) {
    CHECK_FALSE(c.name().empty());
    ++count;
  }
  CHECK(count == 2);

  Element copy = m;
  copy.first_child("body")->append_text("!");
  CHECK(m.first_child("body")->text() == "hello");
  CHECK_FALSE(copy == m);

  m.remove_children("body");
  CHECK(m.element_count() == 1);
  m.clear_children();
  CHECK(m.nodes().empty());
}
