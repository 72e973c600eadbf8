// xml::parse_element: stored payloads read back exactly as written.
#include <doctest/doctest.h>

#include "xml/fragment.hpp"
#include "xml/writer.hpp"

using namespace parley::xml;

TEST_CASE("an element survives to_string and parse_element") {
  Element vcard("vCard", "vcard-temp");
  vcard.append(Element("FN", "vcard-temp")).append_text("Alice & <Bob>");
  Element& photo = vcard.append(Element("PHOTO", "vcard-temp"));
  photo.append(Element("x", "urn:other")).set_attr("a", "1'\"");
  std::optional<Element> back = parse_element(to_string(vcard));
  REQUIRE(back);
  CHECK(*back == vcard);
}

TEST_CASE("parse_element rejects anything but one well-formed element") {
  CHECK_FALSE(parse_element(""));
  CHECK_FALSE(parse_element("<a xmlns='x'>"));
  CHECK_FALSE(parse_element("<a xmlns='x'/><b xmlns='x'/>"));
  CHECK_FALSE(parse_element("<a xmlns='x'/></stream:stream><b/>"));
  CHECK_FALSE(parse_element("<a xmlns='x'><!-- no --></a>"));
  CHECK_FALSE(parse_element("<a xmlns='x'>" + std::string(100, 'y') + "</a>", 50));
}
