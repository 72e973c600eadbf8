// XEP-0313 archive queries: the form's filters and the result set page, checked.
#include <doctest/doctest.h>

#include "modules/mam/archive_query.hpp"
#include "xml/fragment.hpp"

using namespace parley;
using namespace parley::modules::mam;

namespace {

std::optional<ArchiveQuery> parse(std::string_view inner, QueryError& error, size_t max_page = 50) {
  std::optional<xml::Element> query =
      xml::parse_element("<query xmlns='urn:xmpp:mam:2' queryid='q1'>" + std::string(inner) + "</query>");
  REQUIRE(query);
  return parse_archive_query(*query, max_page, error);
}

std::string form(std::string_view fields) {
  return "<x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE' type='hidden'><value>urn:xmpp:mam:2</value>"
         "</field>" + std::string(fields) + "</x>";
}

std::string field(std::string_view var, std::string_view value) {
  return "<field var='" + std::string(var) + "'><value>" + std::string(value) + "</value></field>";
}

}  // namespace

TEST_CASE("XEP-0082 date-times") {
  CHECK(is_xep0082_datetime("2026-11-25T10:00:00Z"));
  CHECK(is_xep0082_datetime("2026-11-25T10:00:00.123456Z"));
  CHECK(is_xep0082_datetime("2026-11-25T10:00:00+01:00"));
  CHECK(is_xep0082_datetime("2026-11-25T10:00:00-08:30"));
  CHECK_FALSE(is_xep0082_datetime("2026-11-25"));
  CHECK_FALSE(is_xep0082_datetime("2026-11-25 10:00:00Z"));
  CHECK_FALSE(is_xep0082_datetime("2026-13-25T10:00:00Z"));
  CHECK_FALSE(is_xep0082_datetime("2026-11-25T24:00:00Z"));
  CHECK_FALSE(is_xep0082_datetime("2026-11-25T10:00:00"));
  CHECK_FALSE(is_xep0082_datetime("2026-11-25T10:00:00.Z"));
  CHECK_FALSE(is_xep0082_datetime("2026-11-25T10:00:00+0100"));
  CHECK_FALSE(is_xep0082_datetime("2026-11-25T10:00:00Z; DROP TABLE"));
}

TEST_CASE("an empty query asks for the first page of everything, at most max_page") {
  QueryError error{};
  std::optional<ArchiveQuery> q = parse("", error);
  REQUIRE(q);
  CHECK(q->query_id == "q1");
  CHECK(q->max == 50);
  CHECK_FALSE(q->with);
  CHECK_FALSE(q->after);
  CHECK_FALSE(q->last_page);
}

TEST_CASE("the form's filters and the page are read") {
  QueryError error{};
  std::optional<ArchiveQuery> q =
      parse(form(field("with", "Bob@Example.org") + field("start", "2026-01-01T00:00:00Z") +
                 field("end", "2026-12-31T23:59:59Z")) +
                "<set xmlns='http://jabber.org/protocol/rsm'><max>10</max><after>abc</after></set>",
            error);
  REQUIRE(q);
  CHECK(q->with == "bob@example.org");
  CHECK(q->with_is_bare);
  CHECK(q->start == "2026-01-01T00:00:00Z");
  CHECK(q->end == "2026-12-31T23:59:59Z");
  CHECK(q->max == 10);
  CHECK(q->after == "abc");

  q = parse(form(field("with", "bob@example.org/phone")) +
                "<set xmlns='http://jabber.org/protocol/rsm'><max>500</max><before/></set>",
            error);
  REQUIRE(q);
  CHECK_FALSE(q->with_is_bare);
  CHECK(q->max == 50);  // capped
  CHECK(q->last_page);
}

TEST_CASE("bad queries get the right error") {
  auto condition = [](std::string_view inner) {
    QueryError error{};
    CHECK_FALSE(parse(inner, error));
    return std::string(error.condition.name);
  };
  CHECK(condition(form(field("start", "yesterday"))) == "bad-request");
  CHECK(condition(form(field("with", "@bad"))) == "bad-request");
  CHECK(condition(form(field("text", "hello"))) == "feature-not-implemented");
  CHECK(condition("<x xmlns='jabber:x:data' type='submit'>" + field("FORM_TYPE", "urn:xmpp:mam:1") + "</x>") ==
        "bad-request");
  CHECK(condition("<set xmlns='http://jabber.org/protocol/rsm'><max>-1</max></set>") == "bad-request");
  CHECK(condition("<set xmlns='http://jabber.org/protocol/rsm'><index>3</index></set>") == "feature-not-implemented");
  CHECK(condition("<set xmlns='http://jabber.org/protocol/rsm'><after/></set>") == "bad-request");
}
