// text[] values in PostgreSQL's text form, as statement parameters and results.
#include <doctest/doctest.h>

#include "store/pg_array.hpp"

using namespace parley::store;

TEST_CASE("text[] literals quote every element and escape quotes and backslashes") {
  CHECK(format_text_array({}) == "{}");
  CHECK(format_text_array({"a@b", "c@d/x\"y\\z,w"}) == "{\"a@b\",\"c@d/x\\\"y\\\\z,w\"}");
}

TEST_CASE("text[] values round-trip, and PostgreSQL's unquoted form parses") {
  std::vector<std::string> groups = {"Friends", "Work, \"co\"", "back\\slash", "{}"};
  CHECK(parse_text_array(format_text_array(groups)) == groups);
  CHECK(parse_text_array("{}").empty());
  CHECK(parse_text_array("{a,\"b c\"}") == std::vector<std::string>{"a", "b c"});
  CHECK(parse_text_array("not an array").empty());
}
