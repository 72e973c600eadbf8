#pragma once
// Which local client sessions are bound to which JIDs (RFC 6120 §7), per
// worker. Sessions register once bound and unregister when they close.
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/string_hash.hpp"
#include "xmpp/jid.hpp"
#include "xmpp/session.hpp"

namespace parley::xmpp {

class SessionRegistry {
 public:
  // Registers a bound session and returns the one that held the same full JID
  // before, if any: RFC 6120 §7.7.2.2, the new session wins and the caller
  // ends the old one with <conflict/>.
  Session* bind(Session& session);
  void unbind(Session& session);

  Session* find(const Jid& full) const;
  // All bound sessions of an account (available or not).
  std::span<Session* const> resources(const Jid& bare) const;
  std::span<Session* const> resources(std::string_view bare) const;
  size_t size() const { return count_; }

 private:
  std::unordered_map<std::string, std::vector<Session*>, core::StringHash, std::equal_to<>> by_bare_;
  size_t count_ = 0;
};

}  // namespace parley::xmpp
