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

TEST_CASE("what the stream let in reads back: 64 attributes in 64 namespaces, and 4 MiB") {
  // The stream allows 64 attributes plus declarations on one element;
  // to_string then writes a declaration for each namespace.
  Element wide("k", "urn:k");
  for (int i = 0; i < 64; ++i) wide.set_attr("a", "v" + std::to_string(i), "urn:p" + std::to_string(i));
  std::optional<Element> back = parse_element(to_string(wide));
  REQUIRE(back);
  CHECK(*back == wide);

  Element big("vCard", "vcard-temp");
  big.append(Element("DESC", "vcard-temp")).append_text(std::string(4 << 20, 'x'));
  back = parse_element(to_string(big));
  REQUIRE(back);
  CHECK(*back == big);
}

TEST_CASE("parse_element rejects anything but one well-formed element") {
  CHECK_FALSE(parse_element(""));
  CHECK_FALSE(parse_element("<a xmlns='x'>"));
  CHECK_FALSE(parse_element("<a xmlns='x'/><b xmlns='x'/>"));
  CHECK_FALSE(parse_element("<a xmlns='x'/></stream:stream><b/>"));
  CHECK_FALSE(parse_element("<a xmlns='x'><!-- no --></a>"));
  CHECK_FALSE(parse_element("<a xmlns='x'>" + std::string(100, 'y') + "</a>", 50));
}
