#include "modules/blocking/jid_match.hpp"

#include <algorithm>

namespace parley::modules::blocking {

std::vector<std::string> match_candidates(const xmpp::Jid& address) {
  std::vector<std::string> out;
  if (address.empty()) return out;
  auto add = [&out](std::string value) {
    if (std::find(out.begin(), out.end(), value) == out.end()) out.push_back(std::move(value));
  };
  // XEP-0016 §2.1, in its order: user@domain/resource, user@domain,
  // domain/resource, domain. A domain/resource item names that resource of
  // the domain itself, so user@domain/resource is not covered by it; the
  // full and bare forms of a node-less address are exactly those two.
  add(address.str());
  add(address.bare_str());
  add(address.domain());
  return out;
}

bool is_blocked(const std::set<std::string, std::less<>>& items, const xmpp::Jid& address) {
  if (items.empty()) return false;
  for (const std::string& candidate : match_candidates(address)) {
    if (items.count(candidate)) return true;
  }
  return false;
}

}  // namespace parley::modules::blocking
