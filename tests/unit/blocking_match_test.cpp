// XEP-0191 JID matching (XEP-0016 §2.1).
#include <doctest/doctest.h>

#include "modules/blocking/jid_match.hpp"

using namespace parley;
using namespace parley::modules::blocking;

namespace {
xmpp::Jid jid(const char* text) { return *xmpp::Jid::parse(text); }
}  // namespace

TEST_CASE("a full JID is matched by itself, its bare JID, domain/resource and domain") {
  CHECK(match_candidates(jid("Bob@Example.org/Phone")) ==
        std::vector<std::string>{"bob@example.org/Phone", "bob@example.org", "example.org"});
  CHECK(match_candidates(jid("bob@example.org")) == std::vector<std::string>{"bob@example.org", "example.org"});
  CHECK(match_candidates(jid("example.org")) == std::vector<std::string>{"example.org"});
  CHECK(match_candidates(jid("example.org/bot")) == std::vector<std::string>{"example.org/bot", "example.org"});
  CHECK(match_candidates(xmpp::Jid()).empty());
}

TEST_CASE("block-list items cover addresses per XEP-0016 §2.1") {
  std::set<std::string, std::less<>> items = {"bob@example.org", "example.net", "example.com/bot",
                                              "carol@example.org/desk"};
  CHECK(is_blocked(items, jid("bob@example.org")));
  CHECK(is_blocked(items, jid("bob@example.org/any")));
  CHECK(is_blocked(items, jid("anyone@example.net/x")));
  CHECK(is_blocked(items, jid("example.net")));
  CHECK(is_blocked(items, jid("example.com/bot")));
  CHECK(is_blocked(items, jid("carol@example.org/desk")));
  CHECK_FALSE(is_blocked(items, jid("carol@example.org")));
  CHECK_FALSE(is_blocked(items, jid("carol@example.org/phone")));
  CHECK_FALSE(is_blocked(items, jid("user@example.com/bot")));  // domain/resource matches only the domain's resource
  CHECK_FALSE(is_blocked(items, jid("alice@example.org")));
}

