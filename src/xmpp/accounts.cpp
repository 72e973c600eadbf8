#include "xmpp/accounts.hpp"

#include <chrono>
#include <sstream>
#include <thread>

#include "core/base64.hpp"
#include "xmpp/module_api.hpp"
#include "xmpp/sasl/saslprep.hpp"
#include "store/pg_client.hpp"
#include "store/pg_sync.hpp"
#include "xmpp/account_removal.hpp"

namespace parley::xmpp {

namespace {

// An account waiting for deletion (schema/0009) no longer logs in.
constexpr store::PgStatement kFetchScram{
    "account_fetch_scram",
    "SELECT salt, iterations, stored_key, server_key FROM account_scram "
    "WHERE host = $1 AND username = $2 AND hash = $3 "
    "AND NOT EXISTS (SELECT 1 FROM account_deletions WHERE host = $1 AND username = $2)"};
// 'SHA-512' > 'SHA-256' > 'SHA-1' as text, so DESC picks the strongest.
constexpr store::PgStatement kFetchStrongest{
    "account_fetch_strongest",
    "SELECT salt, iterations, stored_key, server_key, hash FROM account_scram "
    "WHERE host = $1 AND username = $2 "
    "AND NOT EXISTS (SELECT 1 FROM account_deletions WHERE host = $1 AND username = $2) "
    "ORDER BY hash DESC LIMIT 1"};
constexpr store::PgStatement kExists{
    "account_exists", "SELECT 1 FROM accounts WHERE host = $1 AND username = $2"};

constexpr sasl::ScramHash kAllHashes[] = {sasl::ScramHash::Sha1, sasl::ScramHash::Sha256, sasl::ScramHash::Sha512};

AccountLookup lookup_from(const store::PgResult& result, std::optional<sasl::ScramHash> hash) {
  AccountLookup lookup;
  if (!result.ok) {
    lookup.temporary_failure = true;
    return lookup;
  }
  if (result.rows.empty()) return lookup;
  const auto& row = result.rows[0];
  if (!hash && row.size() > 4 && row[4]) hash = scram_hash_from_column(*row[4]);
  if (!hash || !row[0] || !row[1] || !row[2] || !row[3]) return lookup;
  std::optional<std::string> salt = core::base64_decode(*row[0]);
  std::optional<std::string> stored = core::base64_decode(*row[2]);
  std::optional<std::string> server = core::base64_decode(*row[3]);
  if (!salt || !stored || !server) return lookup;
  lookup.credential = sasl::ScramCredential{*hash, *salt, static_cast<uint32_t>(std::stoul(*row[1])), *stored, *server};
  return lookup;
}

// One statement per write, so that an account never exists half-made:
// the account row and its three credential rows, or nothing. Foreign keys
// are checked at the end of the statement, after the CTE's insert.
#define PARLEY_CREDENTIAL_VALUES \
  "(VALUES ($3, $4, $5::integer, $6, $7), ($8, $9, $10::integer, $11, $12), " \
  "($13, $14, $15::integer, $16, $17)) AS c (hash, salt, iterations, stored_key, server_key)"
constexpr store::PgStatement kCreate{
    "account_create",
    "WITH account AS (INSERT INTO accounts (host, username) VALUES ($1, $2) ON CONFLICT DO NOTHING "
    "RETURNING host, username) "
    "INSERT INTO account_scram (host, username, hash, salt, iterations, stored_key, server_key) "
    "SELECT account.host, account.username, c.hash, c.salt, c.iterations, c.stored_key, c.server_key "
    "FROM account, " PARLEY_CREDENTIAL_VALUES};
// With companion statements in the same transaction an existing account must
// fail the transaction (unique violation on accounts_pkey), not skip quietly.
constexpr store::PgStatement kCreateStrict{
    "account_create_strict",
    "WITH account AS (INSERT INTO accounts (host, username) VALUES ($1, $2) RETURNING host, username) "
    "INSERT INTO account_scram (host, username, hash, salt, iterations, stored_key, server_key) "
    "SELECT account.host, account.username, c.hash, c.salt, c.iterations, c.stored_key, c.server_key "
    "FROM account, " PARLEY_CREDENTIAL_VALUES};
// Every hash is always written, so an upsert replaces all of them.
constexpr store::PgStatement kSetCredentials{
    "account_set_credentials",
    "INSERT INTO account_scram (host, username, hash, salt, iterations, stored_key, server_key) "
    "SELECT a.host, a.username, c.hash, c.salt, c.iterations, c.stored_key, c.server_key "
    "FROM accounts a, " PARLEY_CREDENTIAL_VALUES " WHERE a.host = $1 AND a.username = $2 "
    "ON CONFLICT (host, username, hash) DO UPDATE SET salt = EXCLUDED.salt, iterations = EXCLUDED.iterations, "
    "stored_key = EXCLUDED.stored_key, server_key = EXCLUDED.server_key"};
#undef PARLEY_CREDENTIAL_VALUES

store::PgParams credential_params(const std::string& host, const std::string& username,
                                  const AccountCredentials& credentials) {
  store::PgParams params{host, username};
  for (const sasl::ScramCredential& c : credentials.scram) {
    params.push_back(std::string(scram_hash_column(c.hash)));
    params.push_back(core::base64_encode(c.salt));
    params.push_back(std::to_string(c.iterations));
    params.push_back(core::base64_encode(c.stored_key));
    params.push_back(core::base64_encode(c.server_key));
  }
  return params;
}

// Replaces all stored credentials of an account, inside the caller's transaction.
std::string store_credentials(store::PgSync& db, const std::string& host, const std::string& username,
                              const std::string& password, uint32_t iterations) {
  std::optional<AccountCredentials> credentials = derive_account_credentials(password, iterations);
  if (!credentials) return "the password is empty or contains characters SASLprep forbids";
  store::PgResult deleted = db.exec("DELETE FROM account_scram WHERE host = $1 AND username = $2", {host, username});
  if (!deleted.ok) return deleted.error;
  for (const sasl::ScramCredential& c : credentials->scram) {
    store::PgResult r = db.exec(
        "INSERT INTO account_scram (host, username, hash, salt, iterations, stored_key, server_key) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7)",
        {host, username, std::string(scram_hash_column(c.hash)), core::base64_encode(c.salt),
         std::to_string(c.iterations), core::base64_encode(c.stored_key), core::base64_encode(c.server_key)});
    if (!r.ok) return r.error;
  }
  return {};
}

std::string in_transaction(store::PgSync& db, const std::function<std::string()>& body) {
  store::PgResult begin = db.exec("BEGIN", {});
  if (!begin.ok) return begin.error;
  std::string error = body();
  store::PgResult end = db.exec(error.empty() ? "COMMIT" : "ROLLBACK", {});
  if (error.empty() && !end.ok) return end.error;
  return error;
}

}  // namespace

std::optional<AccountCredentials> derive_account_credentials(const std::string& password, uint32_t iterations) {
  std::optional<std::string> prepared = sasl::saslprep(password);
  if (!prepared || prepared->empty()) return std::nullopt;
  AccountCredentials credentials;
  for (sasl::ScramHash hash : kAllHashes) {
    credentials.scram.push_back(sasl::derive_scram_credential(hash, *prepared, sasl::make_scram_salt(), iterations));
  }
  return credentials;
}

std::string AccountCredentials::to_text() const {
  std::string out;
  for (const sasl::ScramCredential& c : scram) {
    out += std::string(scram_hash_column(c.hash)) + " " + core::base64_encode(c.salt) + " " +
           std::to_string(c.iterations) + " " + core::base64_encode(c.stored_key) + " " +
           core::base64_encode(c.server_key) + "\n";
  }
  return out;
}

std::optional<AccountCredentials> AccountCredentials::from_text(std::string_view text) {
  AccountCredentials credentials;
  std::istringstream lines{std::string(text)};
  std::string hash, salt, stored, server;
  uint32_t iterations = 0;
  while (lines >> hash >> salt >> iterations >> stored >> server) {
    std::optional<sasl::ScramHash> h = scram_hash_from_column(hash);
    std::optional<std::string> salt_bytes = core::base64_decode(salt);
    std::optional<std::string> stored_bytes = core::base64_decode(stored);
    std::optional<std::string> server_bytes = core::base64_decode(server);
    if (!h || iterations == 0 || !salt_bytes || !stored_bytes || !server_bytes) return std::nullopt;
    credentials.scram.push_back({*h, *salt_bytes, iterations, *stored_bytes, *server_bytes});
  }
  if (credentials.scram.size() != std::size(kAllHashes)) return std::nullopt;
  return credentials;
}

std::string_view scram_hash_column(sasl::ScramHash hash) {
  switch (hash) {
    case sasl::ScramHash::Sha1: return "SHA-1";
    case sasl::ScramHash::Sha256: return "SHA-256";
    case sasl::ScramHash::Sha512: return "SHA-512";
  }
  return "SHA-256";
}

std::optional<sasl::ScramHash> scram_hash_from_column(std::string_view name) {
  for (sasl::ScramHash hash : kAllHashes) {
    if (scram_hash_column(hash) == name) return hash;
  }
  return std::nullopt;
}

void AccountStore::fetch_scram(const std::string& host, const std::string& username, sasl::ScramHash hash,
                               std::function<void(AccountLookup)> done) {
  CredentialCache::Slot slot = CredentialCache::Slot::Sha1;
  if (hash == sasl::ScramHash::Sha256) slot = CredentialCache::Slot::Sha256;
  if (hash == sasl::ScramHash::Sha512) slot = CredentialCache::Slot::Sha512;
  fetch(kFetchScram, {host, username, std::string(scram_hash_column(hash))}, username + "@" + host, slot, hash,
        std::move(done));
}

void AccountStore::fetch_strongest_scram(const std::string& host, const std::string& username,
                                         std::function<void(AccountLookup)> done) {
  fetch(kFetchStrongest, {host, username}, username + "@" + host, CredentialCache::Slot::Strongest, std::nullopt,
        std::move(done));
}

void AccountStore::fetch(const store::PgStatement& statement, store::PgParams params, std::string account,
                         CredentialCache::Slot slot, std::optional<sasl::ScramHash> hash,
                         std::function<void(AccountLookup)> done) {
  if (const sasl::ScramCredential* cached = cache_.find(account, slot)) {
    AccountLookup lookup;
    lookup.credential = *cached;
    done(std::move(lookup));
    return;
  }
  std::weak_ptr<bool> alive = alive_;
  db_.execute(statement, std::move(params),
              [this, alive, account = std::move(account), slot, hash, generation = generation_,
               done = std::move(done)](store::PgResult&& result) {
                AccountLookup lookup = lookup_from(result, hash);
                if (lookup.credential && !alive.expired() && *alive.lock() && generation == generation_) {
                  cache_.store(account, slot, *lookup.credential);
                }
                done(std::move(lookup));
              });
}

void AccountStore::forget(std::string_view account) {
  ++generation_;
  cache_.forget(account);
  fast_tokens_.forget(account);
}

void AccountStore::forget_all() {
  ++generation_;
  cache_.clear();
  fast_tokens_.forget_all();
}

void AccountStore::exists(const std::string& host, const std::string& username,
                          std::function<void(std::optional<bool>)> done) {
  db_.execute(kExists, {host, username}, [done = std::move(done)](store::PgResult&& result) {
    if (!result.ok) {
      done(std::nullopt);
    } else {
      done(!result.rows.empty());
    }
  });
}

void AccountStore::derive_credentials(const std::string& password, uint32_t iterations,
                                      std::function<void(std::optional<AccountCredentials>)> done) {
  auto derived = std::make_shared<std::optional<AccountCredentials>>();
  off_loop_([derived, password, iterations] { *derived = derive_account_credentials(password, iterations); },
            [derived, done = std::move(done)] { done(std::move(*derived)); });
}

void AccountStore::derive_then(const std::string& password, uint32_t iterations, AccountWriteDone done,
                               std::function<void(const AccountCredentials&, AccountWriteDone)> write) {
  derive_credentials(password, iterations,
                     [done = std::move(done), write = std::move(write)](std::optional<AccountCredentials> credentials) {
                       if (!credentials) {
                         done({AccountWriteStatus::BadPassword, "the password is empty or not allowed by SASLprep"});
                         return;
                       }
                       write(*credentials, done);
                     });
}

void AccountStore::create(const std::string& host, const std::string& username, const std::string& password,
                          uint32_t iterations, AccountWriteDone done) {
  derive_then(password, iterations, std::move(done),
              [this, host, username](const AccountCredentials& credentials, AccountWriteDone done) {
                create(host, username, credentials, std::move(done));
              });
}

void AccountStore::create(const std::string& host, const std::string& username,
                          const AccountCredentials& credentials, AccountWriteDone done,
                          std::vector<store::PgClient::Command> also) {
  HostContext* context = services_.find_host(host);
  if (!context) {
    done({AccountWriteStatus::Failed, "the host is not served here"});
    return;
  }
  UserEvent creating{*context, username};
  context->hooks().fire(events::user_creating, creating);
  if (!creating.allowed) {
    done({AccountWriteStatus::Vetoed, creating.reason});
    return;
  }
  Services& services = services_;
  std::vector<store::PgClient::Command> commands;
  commands.push_back({also.empty() ? &kCreate : &kCreateStrict, credential_params(host, username, credentials)});
  for (store::PgClient::Command& command : also) commands.push_back(std::move(command));
  db_.transaction(std::move(commands),
              [&services, host, username, done = std::move(done)](store::PgResult&& result) {
                if (!result.ok && result.sqlstate == "23505" &&
                    result.error.find("accounts_pkey") != std::string::npos) {
                  done({AccountWriteStatus::Exists, {}});
                  return;
                }
                if (!result.ok) {
                  done({AccountWriteStatus::Failed, result.error});
                  return;
                }
                if (result.affected_rows == 0) {
                  done({AccountWriteStatus::Exists, {}});
                  return;
                }
                // The host may have been removed by a reload meanwhile.
                if (HostContext* now = services.find_host(host)) {
                  UserEvent created{*now, username};
                  now->hooks().fire(events::user_created, created);
                }
                done({AccountWriteStatus::Done, {}});
              });
}

void AccountStore::set_password(const std::string& host, const std::string& username, const std::string& password,
                                uint32_t iterations, AccountWriteDone done) {
  derive_then(password, iterations, std::move(done),
              [this, host, username](const AccountCredentials& credentials, AccountWriteDone done) {
                set_credentials(host, username, credentials, std::move(done));
              });
}

void AccountStore::set_credentials(const std::string& host, const std::string& username,
                                   const AccountCredentials& credentials, AccountWriteDone done) {
  std::weak_ptr<bool> alive = alive_;
  // A new password also signs out every client holding a FAST token.
  db_.transaction({{&kSetCredentials, credential_params(host, username, credentials)},
                   {&FastTokens::revoke_all_statement(), {host, username}}},
              [this, alive, account = username + "@" + host, done = std::move(done)](store::PgResult&& result) {
                if (!result.ok) {
                  done({AccountWriteStatus::Failed, result.error});
                } else if (result.affected_rows == 0) {
                  done({AccountWriteStatus::NoSuchAccount, {}});
                } else {
                  // The old credentials must not let anyone in from the cache.
                  if (!alive.expired() && *alive.lock()) forget(account);
                  done({AccountWriteStatus::Done, {}});
                }
              });
}

namespace account_admin {

std::string create(store::PgSync& db, const std::string& host, const std::string& username,
                   const std::string& password, uint32_t iterations, const std::function<std::string()>& also) {
  return in_transaction(db, [&]() -> std::string {
    store::PgResult r = db.exec(
        "INSERT INTO accounts (host, username) VALUES ($1, $2) ON CONFLICT DO NOTHING", {host, username});
    if (!r.ok) return r.error;
    if (r.affected_rows == 0) return "the account already exists";
    std::string error = store_credentials(db, host, username, password, iterations);
    if (error.empty() && also) error = also();
    return error;
  });
}

std::string set_password(store::PgSync& db, const std::string& host, const std::string& username,
                         const std::string& password, uint32_t iterations) {
  return in_transaction(db, [&]() -> std::string {
    store::PgResult r = db.exec("SELECT 1 FROM accounts WHERE host = $1 AND username = $2 FOR UPDATE",
                                   {host, username});
    if (!r.ok) return r.error;
    if (r.rows.empty()) return "no such account";
    std::string error = store_credentials(db, host, username, password, iterations);
    if (!error.empty()) return error;
    // A new password also signs out every client holding a FAST token.
    store::PgResult revoked = db.exec(std::string(FastTokens::revoke_all_statement().sql), {host, username});
    if (!revoked.ok) return revoked.error;
    // Delivered at commit: a running parleyd drops its cached credentials.
    store::PgResult notified =
        db.exec("SELECT pg_notify($1, $2)", {std::string(kAccountChangesChannel), username + "@" + host});
    return notified.ok ? std::string() : notified.error;
  });
}

std::string request_removal(store::PgSync& db, const std::string& host, const std::string& username,
                            std::chrono::milliseconds wait, bool& deleted) {
  deleted = false;
  store::PgResult r = db.exec(
      "INSERT INTO account_deletions (host, username) SELECT host, username FROM accounts "
      "WHERE host = $1 AND username = $2 ON CONFLICT DO NOTHING RETURNING 1",
      {host, username});
  if (!r.ok) return r.error;
  if (r.rows.empty()) {
    store::PgResult exists = db.exec("SELECT 1 FROM accounts WHERE host = $1 AND username = $2", {host, username});
    if (!exists.ok) return exists.error;
    if (exists.rows.empty()) return "no such account";
  }
  store::PgResult notified = db.exec("SELECT pg_notify($1, '')", {std::string(kDeletionChannel)});
  if (!notified.ok) return notified.error;
  store::PgResult server = db.exec(
      "SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'parleyd'", {});
  if (!server.ok) return server.error;
  if (server.rows.empty()) return {};  // carried out when parleyd next starts
  auto deadline = std::chrono::steady_clock::now() + wait;
  while (std::chrono::steady_clock::now() < deadline) {
    store::PgResult left = db.exec("SELECT 1 FROM accounts WHERE host = $1 AND username = $2", {host, username});
    if (!left.ok) return left.error;
    if (left.rows.empty()) {
      deleted = true;
      return {};
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return "parleyd did not finish the deletion in time; it stays requested";
}

std::string list(store::PgSync& db, const std::string& host, std::vector<AccountListing>& accounts) {
  store::PgResult r = db.exec(
      "SELECT a.username, d.username IS NOT NULL FROM accounts a "
      "LEFT JOIN account_deletions d ON d.host = a.host AND d.username = a.username "
      "WHERE a.host = $1 ORDER BY a.username",
      {host});
  if (!r.ok) return r.error;
  for (const auto& row : r.rows) {
    if (row[0]) accounts.push_back({*row[0], row[1] == "t"});
  }
  return {};
}

}  // namespace account_admin

}  // namespace parley::xmpp
