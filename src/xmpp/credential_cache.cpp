#include "xmpp/credential_cache.hpp"

#include <algorithm>

namespace parley::xmpp {

void CredentialCache::set_capacity(size_t capacity) {
  capacity_ = capacity;
  evict();
}

const sasl::ScramCredential* CredentialCache::find(std::string_view account, Slot slot) {
  auto it = entries_.find(std::string(account));
  if (it == entries_.end()) return nullptr;
  for (const auto& [held, credential] : it->second.slots) {
    if (held != slot) continue;
    recency_.splice(recency_.begin(), recency_, it->second.position);
    return &credential;
  }
  return nullptr;
}

void CredentialCache::store(const std::string& account, Slot slot, const sasl::ScramCredential& credential) {
  if (capacity_ == 0) return;
  auto [it, inserted] = entries_.try_emplace(account);
  if (inserted) {
    recency_.push_front(account);
    it->second.position = recency_.begin();
  } else {
    recency_.splice(recency_.begin(), recency_, it->second.position);
  }
  auto& slots = it->second.slots;
  auto held = std::find_if(slots.begin(), slots.end(), [slot](const auto& entry) { return entry.first == slot; });
  if (held != slots.end()) {
    held->second = credential;
  } else {
    slots.emplace_back(slot, credential);
  }
  evict();
}

void CredentialCache::forget(std::string_view account) {
  auto it = entries_.find(std::string(account));
  if (it == entries_.end()) return;
  recency_.erase(it->second.position);
  entries_.erase(it);
}

void CredentialCache::clear() {
  entries_.clear();
  recency_.clear();
}

void CredentialCache::evict() {
  while (entries_.size() > capacity_) {
    entries_.erase(recency_.back());
    recency_.pop_back();
  }
}

}  // namespace parley::xmpp
