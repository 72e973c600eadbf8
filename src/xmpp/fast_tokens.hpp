#pragma once
// XEP-0484 FAST tokens (schema/0010_fast_tokens.sql): a client that logged in
// with its password may ask for a token, then log in with it in one round
// trip using an HT mechanism (draft-ietf-kitten-sasl-ht). Tokens are per
// account and client (the SASL2 <user-agent id/>), in two slots: 'current'
// and a 'new' one that takes its place once used (XEP-0484 §7). Recently
// used clients' tokens stay in memory, so a returning client's login needs
// no database query; they are dropped with the account's credentials
// (AccountStore::forget), and a password change revokes them all.
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "store/pg_client.hpp"

namespace parley::xmpp {

struct FastToken {
  std::string mechanism;   // the HT mechanism it was issued for, e.g. "HT-SHA-256-NONE"
  std::string secret;      // the token as the client gets it (base64 text); it keys the HMAC
  int64_t expires_at = 0;  // Unix seconds
};

struct FastTokenSlots {
  std::optional<FastToken> current;
  std::optional<FastToken> fresh;  // the 'new' slot
};

struct FastLookup {
  FastTokenSlots slots;
  bool temporary_failure = false;  // the database could not answer
};

// The HT mechanisms offered, with the channel binding each uses ("" for none).
struct HtMechanism {
  std::string_view name;
  std::string_view channel_binding;
};
inline constexpr HtMechanism kHtMechanisms[] = {
    {"HT-SHA-256-EXPR", "tls-exporter"},
    {"HT-SHA-256-ENDP", "tls-server-end-point"},
    {"HT-SHA-256-NONE", ""},
};
std::optional<HtMechanism> find_ht_mechanism(std::string_view name);

// draft-ietf-kitten-sasl-ht §3: HMAC-SHA-256(token, "Initiator" || cb-data)
// from the client, HMAC-SHA-256(token, "Responder" || cb-data) back.
std::string ht_initiator_proof(std::string_view secret, std::string_view channel_binding_data);
std::string ht_responder_proof(std::string_view secret, std::string_view channel_binding_data);

class FastTokens {
 public:
  explicit FastTokens(store::PgClient& db) : db_(db) {}
  ~FastTokens() { *alive_ = false; }
  FastTokens(const FastTokens&) = delete;
  FastTokens& operator=(const FastTokens&) = delete;

  // From memory when it can, then `done` runs before the call returns.
  void find(const std::string& host, const std::string& username, const std::string& agent_id,
            std::function<void(FastLookup)> done);
  // A new random token in the 'new' slot; nullopt if it could not be stored.
  void issue(const std::string& host, const std::string& username, const std::string& agent_id,
             std::string_view mechanism, int64_t expires_at, std::function<void(std::optional<FastToken>)> done);
  // The 'new' token was used: it becomes 'current', replacing the old one.
  void promote(const std::string& host, const std::string& username, const std::string& agent_id);
  // XEP-0484 §8: the client gives its tokens up.
  void revoke(const std::string& host, const std::string& username, const std::string& agent_id);

  void forget(std::string_view account);  // "user@host"
  void forget_all();
  void set_capacity(size_t accounts);

  // Deletes every token of an account, for the password-change transaction.
  static const store::PgStatement& revoke_all_statement();

 private:
  void remember(const std::string& account, const std::string& agent_id, const FastTokenSlots& slots);
  void update_cache(const std::string& host, const std::string& username, const std::string& agent_id,
                    const std::function<void(FastTokenSlots&)>& change);

  store::PgClient& db_;
  // account -> client id -> its tokens; at most capacity_ accounts.
  std::unordered_map<std::string, std::unordered_map<std::string, FastTokenSlots>> cache_;
  size_t capacity_ = 0;
  uint64_t generation_ = 0;  // bumped by forget: older reads must not be cached
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace parley::xmpp
