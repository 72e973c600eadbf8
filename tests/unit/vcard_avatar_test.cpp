// modules/vcard/avatar: the XEP-0153 hash of a vCard's photo.
#include <doctest/doctest.h>

#include "modules/vcard/avatar.hpp"
#include "xml/fragment.hpp"

using namespace parley;

namespace {
std::optional<std::string> hash_of(const std::string& vcard) {
  std::optional<xml::Element> e = xml::parse_element(vcard);
  REQUIRE(e);
  return modules::avatar_hash(*e);
}
}  // namespace

TEST_CASE("the hash is the hex SHA-1 of the decoded image, line breaks skipped (XEP-0153 §3.1)") {
  CHECK(hash_of("<vCard xmlns='vcard-temp'><PHOTO><BINVAL>aGVs\r\n bG8=</BINVAL></PHOTO></vCard>") ==
        "aaf4c61ddcc5e8a2dabede0f3b482cd9aea9434d");
}

TEST_CASE("no photo hashes as empty; a BINVAL that is not base64 has no hash") {
  CHECK(hash_of("<vCard xmlns='vcard-temp'><FN>x</FN></vCard>") == "");
  CHECK(hash_of("<vCard xmlns='vcard-temp'><PHOTO><EXTVAL>http://x</EXTVAL></PHOTO></vCard>") == "");
  CHECK(hash_of("<vCard xmlns='vcard-temp'><PHOTO><BINVAL/></PHOTO></vCard>") == "");
  CHECK_FALSE(hash_of("<vCard xmlns='vcard-temp'><PHOTO><BINVAL>a*b=</BINVAL></PHOTO></vCard>"));
  // BINVAL outside vcard-temp is not the photo.
  CHECK(hash_of("<vCard xmlns='vcard-temp'><PHOTO><BINVAL xmlns='urn:x'>aGVsbG8=</BINVAL></PHOTO></vCard>") == "");
}
