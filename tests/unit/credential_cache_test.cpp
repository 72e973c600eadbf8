#include <doctest/doctest.h>

#include "xmpp/credential_cache.hpp"

using parley::xmpp::CredentialCache;
using Slot = CredentialCache::Slot;

namespace {
parley::xmpp::sasl::ScramCredential credential(const std::string& salt) {
  return {parley::xmpp::sasl::ScramHash::Sha256, salt, 4096, "stored", "server"};
}
}  // namespace

TEST_CASE("credential cache: per slot, least recently used evicted first") {
  CredentialCache cache(2);
  cache.store("a@x", Slot::Sha256, credential("a"));
  CHECK(cache.find("a@x", Slot::Sha1) == nullptr);
  REQUIRE(cache.find("a@x", Slot::Sha256) != nullptr);
  CHECK(cache.find("a@x", Slot::Sha256)->salt == "a");
  cache.store("b@x", Slot::Sha256, credential("b"));
  cache.find("a@x", Slot::Sha256);  // a is now the most recent
  cache.store("c@x", Slot::Strongest, credential("c"));
  CHECK(cache.size() == 2);
  CHECK(cache.find("b@x", Slot::Sha256) == nullptr);
  CHECK(cache.find("a@x", Slot::Sha256) != nullptr);
  CHECK(cache.find("c@x", Slot::Strongest) != nullptr);
}

TEST_CASE("credential cache: forget, clear and a zero capacity") {
  CredentialCache cache(10);
  cache.store("a@x", Slot::Sha1, credential("1"));
  cache.store("a@x", Slot::Sha512, credential("5"));
  cache.forget("a@x");
  CHECK(cache.find("a@x", Slot::Sha1) == nullptr);
  CHECK(cache.find("a@x", Slot::Sha512) == nullptr);
  cache.store("b@x", Slot::Sha1, credential("1"));
  cache.clear();
  CHECK(cache.size() == 0);
  cache.set_capacity(0);
  cache.store("c@x", Slot::Sha1, credential("1"));
  CHECK(cache.find("c@x", Slot::Sha1) == nullptr);
}
