#include <doctest/doctest.h>

#include <string>

#include "xmpp/sasl/plain.hpp"

using parley::xmpp::sasl::parse_plain;
using parley::xmpp::sasl::PlainCredentials;

namespace {
std::string_view bytes(const char* data, std::size_t size) { return {data, size}; }
}  // namespace

TEST_CASE("PLAIN without authzid (RFC 4616 §4 example)") {
    auto creds = parse_plain(bytes("\0tim\0tanstaaftanstaaf", 21));
    REQUIRE(creds);
    CHECK(*creds == PlainCredentials{"", "tim", "tanstaaftanstaaf"});
}

TEST_CASE("PLAIN with authzid (RFC 4616 §4 example)") {
    auto creds = parse_plain(bytes("Ursel\0Kurt\0xipj3plmq", 20));
    REQUIRE(creds);
    CHECK(creds->authzid == "Ursel");
    CHECK(creds->authcid == "Kurt");
    CHECK(creds->password == "xipj3plmq");
}

TEST_CASE("PLAIN keeps UTF-8 and spaces as sent") {
    const std::string message = std::string("\0", 1) + "j\u00FCrgen" + std::string("\0", 1) + "p\u00E4ss w\u00F6rd";
    auto creds = parse_plain(message);
    REQUIRE(creds);
    CHECK(creds->authcid == "j\u00FCrgen");
    CHECK(creds->password == "p\u00E4ss w\u00F6rd");
}

TEST_CASE("PLAIN rejects malformed messages") {
    CHECK_FALSE(parse_plain(""));
    CHECK_FALSE(parse_plain("user"));
    CHECK_FALSE(parse_plain(bytes("user\0pw", 7)));            // one separator
    CHECK_FALSE(parse_plain(bytes("\0\0pw", 4)));              // empty authcid
    CHECK_FALSE(parse_plain(bytes("\0user\0", 6)));            // empty password
    CHECK_FALSE(parse_plain(bytes("\0\0", 2)));
    CHECK_FALSE(parse_plain(bytes("a\0b\0c\0d", 7)));          // a third NUL
    CHECK_FALSE(parse_plain(bytes("\0user\0pw\0", 9)));        // trailing NUL
    CHECK_FALSE(parse_plain(bytes("\0us\xffr\0pw", 8)));       // invalid UTF-8 authcid
    CHECK_FALSE(parse_plain(bytes("\0user\0p\xc3", 8)));       // truncated UTF-8 password
    CHECK_FALSE(parse_plain(bytes("\xc0\xaf\0user\0pw", 10)));  // overlong authzid
}
