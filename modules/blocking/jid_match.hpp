#pragma once
// Which block-list items cover an address: XEP-0191 "JID Matching" defers to
// XEP-0016 §2.1, where an item is a full JID, a bare JID, a domain/resource
// or a domain, and the domain covers every address at it.
#include <set>
#include <string>
#include <vector>

#include "xmpp/jid.hpp"

namespace parley::modules::blocking {

// The (up to three) item values that would match `address`, without duplicates
// and without empty strings; a domain JID yields only itself.
std::vector<std::string> match_candidates(const xmpp::Jid& address);

// True when one of `items` covers `address`.
bool is_blocked(const std::set<std::string, std::less<>>& items, const xmpp::Jid& address);


}  // namespace parley::modules::blocking
