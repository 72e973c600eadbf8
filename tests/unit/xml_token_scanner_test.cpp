#include <doctest/doctest.h>

#include <string_view>

#include "xml/token_scanner.hpp"

using parley::xml::TokenScanner;

namespace {

// Scans `bytes` one byte at a time and reports in_token() after the last one.
bool ends_in_token(std::string_view bytes, std::uint64_t* start = nullptr) {
    TokenScanner scanner;
    for (std::size_t i = 0; i < bytes.size(); ++i) scanner.scan(bytes.substr(i, 1));
    if (start) *start = scanner.token_start();
    return scanner.in_token();
}

}  // namespace

TEST_CASE("token scanner: text and completed markup are not open tokens") {
    CHECK_FALSE(ends_in_token(""));
    CHECK_FALSE(ends_in_token("plain text"));
    CHECK_FALSE(ends_in_token("<a b='1'>text</a>"));
    CHECK_FALSE(ends_in_token("<a/>&amp;"));
    CHECK_FALSE(ends_in_token("<?xml version='1.0'?>"));
    CHECK_FALSE(ends_in_token("<!-- a -> b -->"));
    CHECK_FALSE(ends_in_token("<!DOCTYPE x>"));
}

TEST_CASE("token scanner: unfinished tags, quotes, comments, PIs and references are open") {
    std::uint64_t start = 0;
    CHECK(ends_in_token("text<message to='a", &start));
    CHECK(start == 4);
    CHECK(ends_in_token("<a b='>'", &start));  // '>' inside quotes does not end the tag
    CHECK(ends_in_token("<a b=\"'>\""));
    CHECK(ends_in_token("<a b=\"'>\" c='\">"));
    CHECK(ends_in_token("<!-- a -> b >"));
    CHECK(ends_in_token("<?pi a > b"));
    CHECK(ends_in_token("x &am", &start));
    CHECK(start == 2);
    CHECK(ends_in_token("</messa"));
}

TEST_CASE("token scanner: CDATA content is reported piecewise, so it is not an open token") {
    CHECK_FALSE(ends_in_token("<![CDATA[ long > content ]"));
    std::uint64_t start = 0;
    CHECK(ends_in_token("<![CDATA[ x ]]><b", &start));
    CHECK(start == 15);
}
