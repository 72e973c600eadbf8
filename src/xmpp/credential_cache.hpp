#pragma once
// The SCRAM credentials of recently seen accounts, so a returning client's
// login costs no database round trip (about a quarter of a login's latency
// on loopback). Least recently used accounts go first once `capacity` is
// reached. Whoever changes credentials must drop the account: the server's
// own writes do, parleyctl's arrive as NOTIFY kAccountChangesChannel, and
// the whole cache is dropped on each database reconnection, since
// notifications sent while disconnected are lost.
#include <cstddef>
#include <list>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "xmpp/sasl/scram_credential.hpp"

namespace parley::xmpp {

inline constexpr std::string_view kAccountChangesChannel = "parley_account_changes";

class CredentialCache {
 public:
  // Which credential: one per SCRAM hash, plus "the strongest" for PLAIN.
  enum class Slot { Sha1, Sha256, Sha512, Strongest };

  explicit CredentialCache(size_t capacity) : capacity_(capacity) {}
  void set_capacity(size_t capacity);

  const sasl::ScramCredential* find(std::string_view account, Slot slot);
  void store(const std::string& account, Slot slot, const sasl::ScramCredential& credential);
  void forget(std::string_view account);  // account: "user@host"
  void clear();
  size_t size() const { return entries_.size(); }

 private:
  struct Entry {
    // Usually one: a client sticks to one mechanism.
    std::vector<std::pair<Slot, sasl::ScramCredential>> slots;
    std::list<std::string>::iterator position;
  };
  void evict();

  size_t capacity_;
  std::list<std::string> recency_;  // most recent first
  std::unordered_map<std::string, Entry> entries_;
};

}  // namespace parley::xmpp
