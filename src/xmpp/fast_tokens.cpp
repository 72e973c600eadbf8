#include "xmpp/fast_tokens.hpp"

#include "core/base64.hpp"
#include "xmpp/sasl/scram_crypto.hpp"

namespace parley::xmpp {

namespace {

// An account waiting for deletion (schema/0009) no longer logs in.
constexpr store::PgStatement kFind{
    "fast_find",
    "SELECT slot, mechanism, token, extract(epoch FROM expires_at)::bigint FROM fast_tokens "
    "WHERE host = $1 AND username = $2 AND agent_id = $3 "
    "AND NOT EXISTS (SELECT 1 FROM account_deletions WHERE host = $1 AND username = $2)"};
constexpr store::PgStatement kIssue{
    "fast_issue",
    "INSERT INTO fast_tokens (host, username, agent_id, slot, mechanism, token, expires_at) "
    "VALUES ($1, $2, $3, 'new', $4, $5, to_timestamp($6)) "
    "ON CONFLICT (host, username, agent_id, slot) DO UPDATE SET mechanism = EXCLUDED.mechanism, "
    "token = EXCLUDED.token, expires_at = EXCLUDED.expires_at"};
// Tokens of clients that stopped coming expire in place; each new token
// clears its account's expired ones, so rows do not pile up.
constexpr store::PgStatement kDropExpired{
    "fast_drop_expired", "DELETE FROM fast_tokens WHERE host = $1 AND username = $2 AND expires_at < now()"};
constexpr store::PgStatement kDropCurrent{
    "fast_drop_current",
    "DELETE FROM fast_tokens WHERE host = $1 AND username = $2 AND agent_id = $3 AND slot = 'current'"};
constexpr store::PgStatement kPromote{
    "fast_promote",
    "UPDATE fast_tokens SET slot = 'current' WHERE host = $1 AND username = $2 AND agent_id = $3 AND slot = 'new'"};
constexpr store::PgStatement kRevoke{
    "fast_revoke", "DELETE FROM fast_tokens WHERE host = $1 AND username = $2 AND agent_id = $3"};
constexpr store::PgStatement kRevokeAll{"fast_revoke_all",
                                        "DELETE FROM fast_tokens WHERE host = $1 AND username = $2"};

// 32 random bytes, base64: unguessable, and plain text in XML and SQL.
constexpr size_t kTokenBytes = 32;

std::optional<FastToken> token_from(const std::vector<std::optional<std::string>>& row) {
  if (row.size() < 4 || !row[1] || !row[2] || !row[3]) return std::nullopt;
  return FastToken{*row[1], *row[2], std::stoll(*row[3])};
}

}  // namespace

std::optional<HtMechanism> find_ht_mechanism(std::string_view name) {
  for (const HtMechanism& m : kHtMechanisms) {
    if (m.name == name) return m;
  }
  return std::nullopt;
}

std::string ht_initiator_proof(std::string_view secret, std::string_view channel_binding_data) {
  return sasl::scram_hmac(sasl::ScramHash::Sha256, secret, "Initiator" + std::string(channel_binding_data));
}

std::string ht_responder_proof(std::string_view secret, std::string_view channel_binding_data) {
  return sasl::scram_hmac(sasl::ScramHash::Sha256, secret, "Responder" + std::string(channel_binding_data));
}

const store::PgStatement& FastTokens::revoke_all_statement() { return kRevokeAll; }

void FastTokens::find(const std::string& host, const std::string& username, const std::string& agent_id,
                      std::function<void(FastLookup)> done) {
  std::string account = username + "@" + host;
  if (auto it = cache_.find(account); it != cache_.end()) {
    if (auto client = it->second.find(agent_id); client != it->second.end()) {
      done(FastLookup{client->second, false});
      return;
    }
  }
  std::weak_ptr<bool> alive = alive_;
  db_.execute(kFind, {host, username, agent_id},
              [this, alive, host, username, agent_id, generation = generation_,
               done = std::move(done)](store::PgResult&& result) {
                FastLookup lookup;
                if (!result.ok) {
                  lookup.temporary_failure = true;
                  done(std::move(lookup));
                  return;
                }
                for (const auto& row : result.rows) {
                  std::optional<FastToken> token = token_from(row);
                  if (!token || !row[0]) continue;
                  (*row[0] == "new" ? lookup.slots.fresh : lookup.slots.current) = std::move(token);
                }
                if (!alive.expired() && *alive.lock() && generation == generation_) {
                  remember(username + "@" + host, agent_id, lookup.slots);
                }
                done(std::move(lookup));
              });
}

void FastTokens::issue(const std::string& host, const std::string& username, const std::string& agent_id,
                       std::string_view mechanism, int64_t expires_at,
                       std::function<void(std::optional<FastToken>)> done) {
  FastToken token{std::string(mechanism), core::base64_encode(sasl::random_bytes(kTokenBytes)), expires_at};
  std::weak_ptr<bool> alive = alive_;
  db_.transaction({{&kDropExpired, {host, username}},
                   {&kIssue, {host, username, agent_id, token.mechanism, token.secret, std::to_string(expires_at)}}},
              [this, alive, host, username, agent_id, token, done = std::move(done)](store::PgResult&& result) {
                if (!result.ok) {
                  done(std::nullopt);
                  return;
                }
                if (!alive.expired() && *alive.lock()) {
                  update_cache(host, username, agent_id, [&](FastTokenSlots& slots) { slots.fresh = token; });
                }
                done(token);
              });
}

void FastTokens::promote(const std::string& host, const std::string& username, const std::string& agent_id) {
  update_cache(host, username, agent_id, [](FastTokenSlots& slots) {
    slots.current = std::move(slots.fresh);
    slots.fresh.reset();
  });
  db_.transaction({{&kDropCurrent, {host, username, agent_id}}, {&kPromote, {host, username, agent_id}}},
                  [](store::PgResult&&) {});
}

void FastTokens::revoke(const std::string& host, const std::string& username, const std::string& agent_id) {
  update_cache(host, username, agent_id, [](FastTokenSlots& slots) { slots = {}; });
  db_.execute(kRevoke, {host, username, agent_id}, [](store::PgResult&&) {});
}

void FastTokens::remember(const std::string& account, const std::string& agent_id, const FastTokenSlots& slots) {
  if (capacity_ == 0) return;
  auto it = cache_.find(account);
  if (it == cache_.end()) {
    // Which account goes does not matter much: a miss costs one query.
    if (cache_.size() >= capacity_) cache_.erase(cache_.begin());
    it = cache_.emplace(account, std::unordered_map<std::string, FastTokenSlots>{}).first;
  }
  it->second[agent_id] = slots;
}

// Only clients already in memory change there; the others are read afresh.
void FastTokens::update_cache(const std::string& host, const std::string& username, const std::string& agent_id,
                              const std::function<void(FastTokenSlots&)>& change) {
  auto it = cache_.find(username + "@" + host);
  if (it == cache_.end()) return;
  auto client = it->second.find(agent_id);
  if (client != it->second.end()) change(client->second);
}

void FastTokens::forget(std::string_view account) {
  ++generation_;
  cache_.erase(std::string(account));
}

void FastTokens::forget_all() {
  ++generation_;
  cache_.clear();
}

void FastTokens::set_capacity(size_t accounts) {
  capacity_ = accounts;
  if (cache_.size() > capacity_) cache_.clear();
}

}  // namespace parley::xmpp
