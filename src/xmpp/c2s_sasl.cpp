// SASL negotiation of a c2s session (RFC 6120 §6): SCRAM-SHA-1/256/512 and
// their -PLUS variants (RFC 5802, RFC 7677, RFC 9266), PLAIN inside TLS.
// Credentials come from the database as SCRAM stored keys only; PBKDF2 for
// PLAIN runs off the loop. Nothing here logs a SASL payload.
#include <openssl/crypto.h>

#include "core/base64.hpp"
#include "core/config.hpp"
#include "core/log.hpp"
#include "core/worker.hpp"
#include "xmpp/accounts.hpp"
#include "xmpp/auth_throttle.hpp"
#include "xmpp/c2s_session.hpp"
#include "xmpp/namespaces.hpp"
#include "xmpp/sasl/plain.hpp"
#include "xmpp/sasl/saslprep.hpp"

namespace parley::xmpp {

using sasl::SaslCondition;

namespace {
constexpr sasl::ScramHash kHashes[] = {sasl::ScramHash::Sha512, sasl::ScramHash::Sha256, sasl::ScramHash::Sha1};
constexpr int kMaxFailuresPerConnection = 5;
}  // namespace

std::optional<std::string> C2sSession::channel_binding(std::string_view type) const {
  const net::TlsSession* tls = connection_->tls();
  if (!tls_ || !tls) return std::nullopt;
  return tls->channel_binding(type);
}

bool C2sSession::offers_channel_binding(std::string_view type) const {
  const net::TlsSession* tls = connection_->tls();
  return tls_ && tls && tls->has_channel_binding(type);
}

xml::Element C2sSession::mechanisms_feature() const {
  return offered_mechanisms(xml::Element("mechanisms", std::string(ns::sasl)));
}

xml::Element C2sSession::offered_mechanisms(xml::Element mechanisms) const {
  auto add = [&](std::string_view name) {
    mechanisms.append(xml::Element("mechanism", mechanisms.ns())).append_text(name);
  };
  bool plus = offers_channel_binding("tls-exporter") || offers_channel_binding("tls-server-end-point");
  if (plus) {
    for (sasl::ScramHash hash : kHashes) add(sasl::scram_mechanism_name(hash, true));
  }
  for (sasl::ScramHash hash : kHashes) add(sasl::scram_mechanism_name(hash, false));
  // RFC 6120 §13.8: PLAIN only where TLS protects the password.
  if (tls_) add("PLAIN");
  return mechanisms;
}

bool C2sSession::sasl_step_allowed() {
  if (authenticated_) {
    close_with_stream_error("policy-violation", "already authenticated");
    return false;
  }
  if (sasl_busy_) {
    close_with_stream_error("policy-violation", "one SASL step at a time");
    return false;
  }
  return true;
}

void C2sSession::handle_sasl(const xml::Element& element) {
  if (!sasl_step_allowed()) return;
  if (element.name() == "auth") {
    sasl_auth(element);
  } else if (element.name() == "response" && scram_) {
    std::optional<std::string> message = core::base64_decode(element.text());
    if (!message) {
      sasl_failure(SaslCondition::IncorrectEncoding);
    } else if (scram_->server) {
      sasl_scram_final(*message);
    } else {
      sasl_scram_first(*message);  // the client sent no initial response
    }
  } else if (element.name() == "abort") {
    scram_.reset();
    sasl_failure(SaslCondition::Aborted);
  } else {
    sasl_failure(SaslCondition::MalformedRequest);
  }
}

void C2sSession::sasl_auth(const xml::Element& auth) {
  scram_.reset();
  bool tls_required = worker_.config().get_bool("c2s.require_encryption", host_);
  if (!tls_ && tls_required) {
    // RFC 6120 §6.4.5 / §6.5.4: no authentication before TLS.
    sasl_failure(SaslCondition::EncryptionRequired, "use STARTTLS first");
    return;
  }
  std::string_view mechanism = auth.attr("mechanism");
  std::string text = auth.text();
  std::optional<std::string> initial;
  if (text == "=") {
    initial = std::string();  // RFC 6120 §6.4.2: '=' is an empty initial response
  } else if (!text.empty()) {
    initial = core::base64_decode(text);
    if (!initial) {
      sasl_failure(SaslCondition::IncorrectEncoding);
      return;
    }
  }
  if (mechanism == "PLAIN" && tls_) {
    if (!initial) {
      sasl_failure(SaslCondition::MalformedRequest, "PLAIN needs an initial response");
      return;
    }
    sasl_plain(*initial);
    return;
  }
  std::optional<sasl::ScramMechanism> scram = sasl::parse_scram_mechanism(mechanism);
  if (!scram || (scram->plus && !tls_)) {
    sasl_failure(SaslCondition::InvalidMechanism);
    return;
  }
  bool offers_plus = offers_channel_binding("tls-exporter") || offers_channel_binding("tls-server-end-point");
  scram_ = ScramExchange{};
  // The 'y' downgrade check applies only in strict mode (see auth.strict_channel_binding).
  offers_plus = offers_plus && worker_.config().get_bool("auth.strict_channel_binding", host_);
  scram_->hash = scram->hash;
  scram_->plus = scram->plus;
  scram_->offers_plus = offers_plus;
  if (!initial || initial->empty()) {
    // No initial response: an empty challenge asks for the client-first message.
    sasl_challenge({});
    return;
  }
  sasl_scram_first(*initial);
}

void C2sSession::sasl_scram_first(std::string_view message) {
  scram_->server = std::make_unique<sasl::ScramServer>(
      scram_->hash, scram_->plus, scram_->offers_plus,
      [this](std::string_view type) { return channel_binding(type); });
  auto first = scram_->server->client_first(message);
  if (auto* condition = std::get_if<SaslCondition>(&first)) {
    scram_.reset();
    sasl_failure(*condition);
    return;
  }
  const sasl::ScramClientFirst& client = std::get<sasl::ScramClientFirst>(first);
  std::optional<Jid> account = Jid::make(client.username, host_, "");
  if (!client.authzid.empty()) {
    std::optional<Jid> authzid = Jid::parse(client.authzid);
    if (!authzid || !account || *authzid != *account) {
      scram_.reset();
      sasl_failure(SaslCondition::InvalidAuthzid);
      return;
    }
  }
  std::string username = account ? account->node() : client.username;
  if (sasl_throttled(username)) {
    scram_.reset();
    return;
  }
  scram_->username = username;
  sasl_busy_ = true;
  core::Worker& worker = worker_;
  uint64_t session_id = id();
  sasl::ScramHash hash = scram_->hash;
  worker_.accounts().fetch_scram(host_, username, hash, [&worker, session_id, hash](AccountLookup lookup) {
    C2sSession* self = worker.find_c2s(session_id);
    if (!self || !self->scram_) return;
    self->sasl_busy_ = false;
    if (lookup.temporary_failure) {
      self->scram_.reset();
      self->sasl_failure(SaslCondition::TemporaryAuthFailure, "the account database is unavailable; try again");
      return;
    }
    // Unknown users get a stand-in credential, so they fail only at the
    // proof like a wrong password does (no account enumeration).
    sasl::ScramCredential credential =
        lookup.credential ? *lookup.credential
                          : sasl::fake_scram_credential(hash, self->scram_->username, worker.secret(),
                                                        worker.scram_iterations());
    self->sasl_challenge(self->scram_->server->server_first(credential));
  });
}

void C2sSession::sasl_scram_final(std::string_view message) {
  auto final_result = scram_->server->client_final(message);
  std::string username = scram_->username;
  scram_.reset();
  if (auto* condition = std::get_if<SaslCondition>(&final_result)) {
    if (*condition == SaslCondition::NotAuthorized) {
      sasl_failed_attempt(username);
    } else {
      sasl_failure(*condition);
    }
    return;
  }
  sasl_success(username, std::get<std::string>(final_result));
}

void C2sSession::sasl_plain(std::string_view message) {
  std::optional<sasl::PlainCredentials> credentials = sasl::parse_plain(message);
  if (!credentials) {
    sasl_failure(SaslCondition::MalformedRequest);
    return;
  }
  std::optional<Jid> account = Jid::make(credentials->authcid, host_, "");
  if (!account) {
    sasl_failed_attempt(credentials->authcid);
    return;
  }
  if (!credentials->authzid.empty()) {
    std::optional<Jid> authzid = Jid::parse(credentials->authzid);
    if (!authzid || *authzid != *account) {
      sasl_failure(SaslCondition::InvalidAuthzid);
      return;
    }
  }
  std::string username = account->node();
  if (sasl_throttled(username)) return;
  std::optional<std::string> password = sasl::saslprep(credentials->password);
  if (!password) {
    sasl_failed_attempt(username);
    return;
  }
  sasl_busy_ = true;
  core::Worker& worker = worker_;
  uint64_t session_id = id();
  worker_.accounts().fetch_strongest_scram(
      host_, username, [&worker, session_id, username, password = std::move(*password)](AccountLookup lookup) {
        C2sSession* self = worker.find_c2s(session_id);
        if (!self) return;
        if (lookup.temporary_failure) {
          self->sasl_busy_ = false;
          self->sasl_failure(SaslCondition::TemporaryAuthFailure, "the account database is unavailable; try again");
          return;
        }
        if (!lookup.credential) {
          self->sasl_busy_ = false;
          self->sasl_failed_attempt(username);
          return;
        }
        // PBKDF2 is deliberately slow: run it on the thread pool.
        auto stored = std::make_shared<sasl::ScramCredential>(*lookup.credential);
        auto derived = std::make_shared<sasl::ScramCredential>();
        worker.run_off_loop(
            [stored, derived, password] {
              try {
                *derived = sasl::derive_scram_credential(stored->hash, password, stored->salt, stored->iterations);
              } catch (const std::exception&) {
                derived->stored_key.clear();  // a corrupt stored iteration count: treat as a mismatch
              }
            },
            [&worker, session_id, stored, derived, username] {
              C2sSession* self = worker.find_c2s(session_id);
              if (!self) return;
              self->sasl_busy_ = false;
              bool match = derived->stored_key.size() == stored->stored_key.size() &&
                           CRYPTO_memcmp(derived->stored_key.data(), stored->stored_key.data(),
                                         stored->stored_key.size()) == 0;
              if (match) {
                self->sasl_success(username, {});
              } else {
                self->sasl_failed_attempt(username);
              }
            });
      });
}

bool C2sSession::sasl_throttled(std::string_view username) {
  std::optional<int> wait = worker_.auth_throttle().blocked_for(remote_ip_, host_, username);
  if (!wait) return false;
  sasl_failure(SaslCondition::TemporaryAuthFailure,
               "too many failed attempts; try again in " + std::to_string(*wait) + " s");
  return true;
}

void C2sSession::sasl_challenge(std::string_view data) {
  xml::Element element("challenge", std::string(sasl2_ ? ns::sasl2 : ns::sasl));
  if (!data.empty()) element.append_text(core::base64_encode(data));
  write_element(element);
}

void C2sSession::sasl_success(std::string_view username, std::string_view additional_data) {
  worker_.auth_throttle().record_success(remote_ip_, host_, username);
  authenticated_ = true;
  username_ = std::string(username);
  worker_.log().info("c2s", id(), "authenticated as ", username_, "@", host_);
  if (sasl2_) {
    sasl2_success(additional_data);
    return;
  }
  xml::Element success("success", std::string(ns::sasl));
  if (!additional_data.empty()) success.append_text(core::base64_encode(additional_data));
  write_element(success);
  connection_->issue_tls_ticket();  // resumption only for clients that logged in
  // RFC 6120 §6.4.6: the client restarts the stream over the same TLS layer.
  restart_stream();
}

void C2sSession::sasl_failed_attempt(std::string_view username, std::string_view text) {
  worker_.auth_throttle().record_failure(remote_ip_, host_, username);
  worker_.log().info("c2s", id(), "authentication failed for ", username, "@", host_);
  sasl_failure(SaslCondition::NotAuthorized, text);
}

void C2sSession::sasl_failure(SaslCondition condition, std::string_view text) {
  if (sasl2_) {
    sasl2_failure(condition, text);
  } else {
    xml::Element failure("failure", std::string(ns::sasl));
    failure.append(xml::Element(std::string(sasl::sasl_condition_name(condition)), std::string(ns::sasl)));
    if (!text.empty()) failure.append(xml::Element("text", std::string(ns::sasl))).append_text(text);
    write_element(failure);
  }
  // RFC 6120 §6.4.5: a server may limit retries; then it closes the stream.
  if (condition != SaslCondition::Aborted && ++sasl_failures_ >= kMaxFailuresPerConnection) {
    close_with_stream_error("policy-violation", "too many failed authentication attempts");
  }
}

}  // namespace parley::xmpp
