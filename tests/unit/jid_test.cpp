#include <doctest/doctest.h>

#include <stringprep.h>

#include <cstdlib>
#include <optional>
#include <string>
#include <unordered_set>

#include "xmpp/jid.hpp"
#include "xmpp/stringprep.hpp"

using parley::xmpp::Jid;

namespace {

// Parses and returns the normalised string, or "<invalid>".
std::string norm(std::string_view text) {
    auto jid = Jid::parse(text);
    return jid ? jid->str() : std::string("<invalid>");
}

}  // namespace

TEST_CASE("RFC 7622 §3.5 valid examples where stringprep agrees with PRECIS") {
    auto j = Jid::parse("juliet@example.com");
    REQUIRE(j);
    CHECK(j->node() == "juliet");
    CHECK(j->domain() == "example.com");
    CHECK(j->resource() == "");
    CHECK(j->str() == "juliet@example.com");

    CHECK(Jid::parse("juliet@example.com/foo")->resource() == "foo");
    CHECK(Jid::parse("juliet@example.com/foo bar")->resource() == "foo bar");
    CHECK(Jid::parse("juliet@example.com/foo@bar")->resource() == "foo@bar");
    CHECK(Jid::parse("foo\\20bar@example.com")->node() == "foo\\20bar");
    CHECK(norm("fussball@example.com") == "fussball@example.com");
    CHECK(norm("\u03C0@example.com") == "\u03C0@example.com");                  // π
    CHECK(norm("\u03A3@example.com/foo") == "\u03C3@example.com/foo");          // Σ -> σ
    CHECK(norm("\u03C3@example.com/foo") == "\u03C3@example.com/foo");          // σ
    CHECK(norm("king@example.com/\u265A") == "king@example.com/\u265A");        // ♚ resource

    auto domain = Jid::parse("example.com");
    REQUIRE(domain);
    CHECK(domain->is_domain());
    CHECK(domain->str() == "example.com");

    auto with_res = Jid::parse("example.com/foobar");
    REQUIRE(with_res);
    CHECK(with_res->node() == "");
    CHECK(with_res->resource() == "foobar");

    auto tricky = Jid::parse("a.example.com/b@example.net");
    REQUIRE(tricky);
    CHECK(tricky->node() == "");
    CHECK(tricky->domain() == "a.example.com");
    CHECK(tricky->resource() == "b@example.net");
}

TEST_CASE("RFC 7622 §3.5 valid examples where stringprep differs from PRECIS") {
    // Nodeprep case-folds with RFC 3454 table B.2, which maps ß to "ss";
    // PRECIS (UsernameCaseMapped) keeps ß. Under stringprep, as on other
    // stringprep servers, fußball and fussball are one account.
    CHECK(norm("fu\u00DFball@example.com") == "fussball@example.com");
    // Table B.2 also folds final sigma ς to σ; PRECIS keeps ς.
    CHECK(norm("\u03C2@example.com/foo") == "\u03C3@example.com/foo");
}

TEST_CASE("RFC 7622 §3.5 invalid examples where stringprep agrees with PRECIS") {
    CHECK_FALSE(Jid::parse("\"juliet\"@example.com"));  // '"' prohibited by Nodeprep
    CHECK_FALSE(Jid::parse("foo bar@example.com"));     // space prohibited in a node
    CHECK_FALSE(Jid::parse("juliet@example.com/"));     // empty resource
    CHECK_FALSE(Jid::parse("@example.com/"));           // empty node and resource
    CHECK_FALSE(Jid::parse("juliet@"));                 // empty domain
    CHECK_FALSE(Jid::parse("/foobar"));                 // empty domain
}

TEST_CASE("RFC 7622 §3.5 invalid examples that stringprep accepts") {
    // PRECIS IdentifierClass disallows compatibility characters such as
    // ROMAN NUMERAL FOUR; Nodeprep case-maps and NFKC-normalises it to "iv".
    CHECK(norm("henry\u2163@example.com") == "henryiv@example.com");
    // PRECIS disallows symbols in a localpart; Nodeprep allows BLACK CHESS KING.
    CHECK(norm("\u265A@example.com") == "\u265A@example.com");
}

TEST_CASE("splitting: first '/' starts the resource, '@' before it ends the node") {
    auto j = Jid::parse("a@b.example/c/d@e");
    REQUIRE(j);
    CHECK(j->node() == "a");
    CHECK(j->domain() == "b.example");
    CHECK(j->resource() == "c/d@e");
    CHECK_FALSE(Jid::parse("a@b@example.com"));   // '@' is prohibited in node and domain
    CHECK_FALSE(Jid::parse("a@"));
    CHECK_FALSE(Jid::parse("@example.com"));
    CHECK_FALSE(Jid::parse(""));
    CHECK_FALSE(Jid::parse("/"));
    CHECK_FALSE(Jid::parse("@/"));
}

TEST_CASE("normalisation: node and domain case-folded, resource case kept") {
    CHECK(norm("Juliet@EXAMPLE.COM/Balcony") == "juliet@example.com/Balcony");
    CHECK(norm("M\u00DCLLER.DE") == "m\u00FCller.de");  // stays a U-label, no xn--
    // FULLWIDTH COMMERCIAL AT becomes '@' under NFKC, then is prohibited.
    CHECK_FALSE(Jid::parse("a\uFF20b@example.com"));
    // Soft hyphen is mapped to nothing (RFC 3454 B.1).
    CHECK(norm("ju\u00ADliet@example.com") == "juliet@example.com");
}

TEST_CASE("domain: trailing dot stripped (RFC 7622 §3.2), labels checked") {
    CHECK(norm("example.com.") == "example.com");
    CHECK(norm("juliet@example.com./r") == "juliet@example.com/r");
    CHECK(*Jid::parse("a@example.com.") == *Jid::parse("a@example.com"));
    CHECK_FALSE(Jid::parse("."));
    CHECK_FALSE(Jid::parse("example.com.."));
    CHECK_FALSE(Jid::parse("a..example.com"));
    CHECK_FALSE(Jid::parse(".example.com"));
    CHECK_FALSE(Jid::parse("exa mple.com"));
    CHECK_FALSE(Jid::parse("example_com"));
    CHECK_FALSE(Jid::parse("-example.com"));
    CHECK_FALSE(Jid::parse("example-.com"));
    CHECK(norm("my-host.example") == "my-host.example");
    CHECK(norm("localhost") == "localhost");
}

TEST_CASE("domain: IP literals") {
    CHECK(norm("127.0.0.1") == "127.0.0.1");
    CHECK(norm("user@127.0.0.1/r") == "user@127.0.0.1/r");
    CHECK(norm("[::1]") == "[::1]");
    CHECK(norm("u@[0:0::1]/r") == "u@[::1]/r");  // canonical text form
    CHECK(norm("[2001:DB8::A]") == "[2001:db8::a]");
    CHECK_FALSE(Jid::parse("999.1.1.1"));
    CHECK_FALSE(Jid::parse("1.2.3"));
    CHECK_FALSE(Jid::parse("[::1"));
    CHECK_FALSE(Jid::parse("[]"));
    CHECK_FALSE(Jid::parse("[zz::1]"));
    CHECK_FALSE(Jid::parse("[127.0.0.1]"));
}

TEST_CASE("parts are limited to 1023 bytes after preparation") {
    const std::string n1023(1023, 'n');
    const std::string n1024(1024, 'n');
    CHECK(Jid::parse(n1023 + "@example.com"));
    CHECK_FALSE(Jid::parse(n1024 + "@example.com"));
    CHECK(Jid::parse("a@example.com/" + n1023));
    CHECK_FALSE(Jid::parse("a@example.com/" + n1024));
    CHECK(Jid::parse(n1023));
    CHECK_FALSE(Jid::parse(n1024));
    // 1023 bytes once the soft hyphens are mapped to nothing.
    std::string padded = n1023;
    for (int i = 0; i < 10; ++i) padded += "\u00AD";
    CHECK(Jid::parse(padded + "@example.com"));
}

TEST_CASE("bytes that are not UTF-8, or NUL, are rejected") {
    CHECK_FALSE(Jid::parse("\xff@example.com"));
    CHECK_FALSE(Jid::parse("a@example.com/\xc3"));
    CHECK_FALSE(Jid::parse("exa\xe9mple.com"));
    CHECK_FALSE(Jid::parse(std::string_view("a\0b@example.com", 15)));
    CHECK_FALSE(Jid::parse(std::string_view("a@example.com/x\0y", 17)));
}

TEST_CASE("make() prepares each part; empty node or resource means absent") {
    auto j = Jid::make("Romeo", "Example.NET", "Orchard");
    REQUIRE(j);
    CHECK(j->str() == "romeo@example.net/Orchard");
    CHECK(*j == *Jid::parse("romeo@example.net/Orchard"));
    CHECK(Jid::make("", "example.net", "")->is_domain());
    CHECK(Jid::make("", "example.net", "r")->str() == "example.net/r");
    CHECK_FALSE(Jid::make("a b", "example.net", ""));
    CHECK_FALSE(Jid::make("a", "", ""));
    CHECK_FALSE(Jid::make("a", "example.net", "\x01"));  // control characters prohibited
}

TEST_CASE("derived Jids and predicates") {
    const Jid full = *Jid::parse("romeo@example.net/orchard");
    CHECK_FALSE(full.is_bare());
    CHECK_FALSE(full.is_domain());
    CHECK_FALSE(full.empty());
    CHECK(full.bare().str() == "romeo@example.net");
    CHECK(full.bare().is_bare());
    CHECK(full.bare_str() == "romeo@example.net");
    // The view agrees with the copy, also without a node, without a
    // resource, and with a '/' inside the resource.
    CHECK(full.bare_view() == "romeo@example.net");
    CHECK(Jid::parse("example.net/a/b")->bare_view() == "example.net");
    CHECK(Jid::parse("romeo@example.net")->bare_view() == "romeo@example.net");
    CHECK(Jid().bare_view().empty());
    CHECK(full.domain_jid().str() == "example.net");
    CHECK(full.domain_jid().is_domain());

    auto moved = full.bare().with_resource("Balcony");
    REQUIRE(moved);
    CHECK(moved->str() == "romeo@example.net/Balcony");
    CHECK_FALSE(full.with_resource(""));
    CHECK_FALSE(full.with_resource("\x7f"));

    const Jid none;
    CHECK(none.empty());
    CHECK_FALSE(none.is_bare());
    CHECK_FALSE(none.is_domain());
    CHECK(none.str() == "");
    CHECK_FALSE(none.with_resource("r"));
    CHECK(none.domain_jid().empty());
}

TEST_CASE("comparison, ordering and hashing") {
    const Jid a = *Jid::parse("zed@a.example");
    const Jid b = *Jid::parse("alice@b.example");
    const Jid b_res = *Jid::parse("alice@b.example/r");
    CHECK(a < b);  // domain first, then node
    CHECK(b < b_res);
    CHECK(b != b_res);
    CHECK(*Jid::parse("ALICE@B.example") == b);

    std::unordered_set<Jid> set{a, b, b_res, *Jid::parse("Alice@B.Example")};
    CHECK(set.size() == 3);
    CHECK(set.count(*Jid::parse("alice@b.example.")) == 1);
}

TEST_CASE("the printable-ASCII fast path gives what libidn gives, for every character and profile") {
    using parley::xmpp::StringprepProfile;
    const std::pair<StringprepProfile, const char*> profiles[] = {
        {StringprepProfile::Nodeprep, "Nodeprep"},
        {StringprepProfile::Resourceprep, "Resourceprep"},
        {StringprepProfile::Nameprep, "Nameprep"},
        {StringprepProfile::Saslprep, "SASLprep"}};
    for (const auto& [profile, name] : profiles) {
        for (int c = 0x20; c <= 0x7e; ++c) {
            for (std::string input : {std::string(1, static_cast<char>(c)), "Ab" + std::string(1, static_cast<char>(c)) + "Z"}) {
                char* raw = nullptr;
                int rc = stringprep_profile(input.c_str(), &raw, name, static_cast<Stringprep_profile_flags>(0));
                std::optional<std::string> expected;
                if (rc == STRINGPREP_OK && raw) expected = std::string(raw);
                std::free(raw);
                CAPTURE(name);
                CAPTURE(input);
                CHECK(parley::xmpp::apply_stringprep(input, profile) == expected);
            }
        }
    }
}
