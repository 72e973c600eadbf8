// XEP-0484 FAST: a client that got a token after a password login logs in
// with it in one round trip, inside SASL2, with an HT mechanism
// (draft-ietf-kitten-sasl-ht): authcid NUL HMAC(token, "Initiator" ||
// channel-binding data), answered with HMAC(token, "Responder" || ...).
// Tokens only ever travel inside TLS.
#include <algorithm>
#include <ctime>

#include "core/base64.hpp"
#include "core/config.hpp"
#include "core/worker.hpp"
#include "xmpp/accounts.hpp"
#include "xmpp/c2s_session.hpp"
#include "xmpp/namespaces.hpp"
#include "xmpp/sasl/scram_crypto.hpp"

namespace parley::xmpp {

using sasl::SaslCondition;

std::vector<std::string_view> C2sSession::fast_mechanisms() const {
  std::vector<std::string_view> out;
  if (!tls_ || worker_.config().get_duration("auth.fast_token_lifetime", host_).count() == 0) return out;
  for (const HtMechanism& m : kHtMechanisms) {
    if (m.channel_binding.empty() || offers_channel_binding(m.channel_binding)) out.push_back(m.name);
  }
  return out;
}

void C2sSession::sasl_fast(const xml::Element& authenticate) {
  std::string_view name = authenticate.attr("mechanism");
  std::vector<std::string_view> offered = fast_mechanisms();
  if (std::find(offered.begin(), offered.end(), name) == offered.end()) {
    sasl_failure(SaslCondition::InvalidMechanism);
    return;
  }
  if (sasl2_->agent_id.empty()) {
    // XEP-0484 §9: tokens belong to a client, named by its <user-agent id/>.
    sasl_failure(SaslCondition::MalformedRequest, "FAST needs <user-agent id='...'/> with an id of at most 128 bytes");
    return;
  }
  const xml::Element* initial = authenticate.first_child("initial-response", ns::sasl2);
  std::optional<std::string> message = initial ? core::base64_decode(initial->text()) : std::nullopt;
  size_t nul = message ? message->find('\0') : std::string::npos;
  if (nul == std::string::npos) {
    sasl_failure(SaslCondition::MalformedRequest, "expected authcid NUL hashed token");
    return;
  }
  std::string proof = message->substr(nul + 1);
  std::optional<Jid> account = Jid::make(message->substr(0, nul), host_, "");
  if (!account) {
    sasl_failed_attempt(message->substr(0, nul));
    return;
  }
  std::string username = account->node();
  if (sasl_throttled(username)) return;
  std::string_view binding_type = find_ht_mechanism(name)->channel_binding;
  std::string binding = binding_type.empty() ? std::string() : channel_binding(binding_type).value_or("");
  int64_t lifetime_s = worker_.config().get_duration("auth.fast_token_lifetime", host_).count() / 1000;
  sasl_busy_ = true;
  core::Worker& worker = worker_;
  uint64_t session_id = id();
  worker_.accounts().fast_tokens().find(
      host_, username, sasl2_->agent_id,
      [&worker, session_id, username, mechanism = std::string(name), binding, proof = std::move(proof),
       lifetime_s](FastLookup lookup) {
        C2sSession* self = worker.find_c2s(session_id);
        if (!self || !self->sasl2_) return;
        self->sasl_busy_ = false;
        if (lookup.temporary_failure) {
          self->sasl_failure(SaslCondition::TemporaryAuthFailure, "the account database is unavailable; try again");
          return;
        }
        const int64_t now = std::time(nullptr);
        // XEP-0484 §7: the token must be unexpired, for this mechanism, and
        // match; the 'new' slot is tried first.
        auto matches = [&](const std::optional<FastToken>& token) {
          return token && token->mechanism == mechanism && token->expires_at > now &&
                 sasl::constant_time_equal(ht_initiator_proof(token->secret, binding), proof);
        };
        const bool fresh = matches(lookup.slots.fresh);
        if (!fresh && !matches(lookup.slots.current)) {
          self->sasl_failed_attempt(username);
          return;
        }
        const FastToken used = fresh ? *lookup.slots.fresh : *lookup.slots.current;
        Sasl2Exchange& exchange = *self->sasl2_;
        FastTokens& tokens = worker.accounts().fast_tokens();
        if (exchange.revoke_token) {
          tokens.revoke(self->host_, username, exchange.agent_id);
        } else {
          if (fresh) tokens.promote(self->host_, username, exchange.agent_id);
          // §7: a token in the second half of its life is replaced, unasked,
          // unless a replacement already waits for the client's first use.
          const bool replacement_waits = !fresh && lookup.slots.fresh;
          if (exchange.token_mechanism.empty() && !replacement_waits && used.expires_at - now <= lifetime_s / 2) {
            exchange.token_mechanism = mechanism;
          }
        }
        self->sasl_success(username, ht_responder_proof(used.secret, binding));
      });
}

}  // namespace parley::xmpp
