#pragma once
// Accounts and their SCRAM credentials (schema/0001_accounts.sql). The server
// reads them asynchronously; parleyctl writes them through PgSync. Only SCRAM
// stored keys are kept (RFC 5802 §3): never a password.
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "store/pg_client.hpp"
#include "store/pg_result.hpp"
#include "xmpp/credential_cache.hpp"
#include "xmpp/fast_tokens.hpp"
#include "xmpp/sasl/condition.hpp"
#include "xmpp/sasl/mechanism.hpp"
#include "xmpp/sasl/scram_credential.hpp"
#include "xmpp/sasl/scram_server.hpp"

namespace parley::store {
class PgClient;
class PgSync;
}  // namespace parley::store

namespace parley::xmpp {

struct AccountLookup {
  std::optional<sasl::ScramCredential> credential;  // empty: no such account (or no such hash)
  bool temporary_failure = false;                   // the database could not answer
};

class Services;

// SCRAM credentials for every hash we store (SHA-1, SHA-256, SHA-512),
// derived from one password. The text form (one line per hash, base64
// fields) lets a module keep them while a sign-up waits for its SMS code,
// so no password is ever held.
struct AccountCredentials {
  std::vector<sasl::ScramCredential> scram;
  std::string to_text() const;
  static std::optional<AccountCredentials> from_text(std::string_view text);
};

// SASLprep, then PBKDF2 for every hash: CPU-heavy by design, so the server
// runs it on the thread pool. Empty if SASLprep refuses the password.
std::optional<AccountCredentials> derive_account_credentials(const std::string& password, uint32_t iterations);

enum class AccountWriteStatus { Done, Exists, NoSuchAccount, Vetoed, BadPassword, Failed };
struct AccountWriteResult {
  AccountWriteStatus status;
  std::string reason;  // the veto's reason or the database error
};
using AccountWriteDone = std::function<void(AccountWriteResult)>;

class AccountStore {
 public:
  // Runs `work` off the loop, then `after` on it (Worker::run_off_loop).
  using OffLoop = std::function<void(std::function<void()> work, std::function<void()> after)>;
  AccountStore(store::PgClient& db, Services& services, OffLoop off_loop)
      : db_(db), services_(services), off_loop_(std::move(off_loop)) {}
  ~AccountStore() { *alive_ = false; }
  AccountStore(const AccountStore&) = delete;
  AccountStore& operator=(const AccountStore&) = delete;

  // Credentials come from the cache when they can (CredentialCache), then
  // `done` runs before the call returns.
  void fetch_scram(const std::string& host, const std::string& username, sasl::ScramHash hash,
                   std::function<void(AccountLookup)> done);
  // The strongest stored hash, for checking a PLAIN password.
  void fetch_strongest_scram(const std::string& host, const std::string& username,
                             std::function<void(AccountLookup)> done);
  void exists(const std::string& host, const std::string& username,
              std::function<void(std::optional<bool>)> done);

  // Asynchronous account writes for modules (docs/MODULES.md). Credentials
  // are derived on the thread pool; each write is one SQL statement, so it
  // is all or nothing. create() fires user/creating (a handler may veto)
  // and, once stored, user/created on the host, if it is still served.
  void derive_credentials(const std::string& password, uint32_t iterations,
                          std::function<void(std::optional<AccountCredentials>)> done);
  void create(const std::string& host, const std::string& username, const std::string& password,
              uint32_t iterations, AccountWriteDone done);
  // `also`: a module's statements that must commit with the account or not
  // at all (the register module's verified phone number), one transaction.
  void create(const std::string& host, const std::string& username, const AccountCredentials& credentials,
              AccountWriteDone done, std::vector<store::PgClient::Command> also = {});
  void set_password(const std::string& host, const std::string& username, const std::string& password,
                    uint32_t iterations, AccountWriteDone done);
  void set_credentials(const std::string& host, const std::string& username, const AccountCredentials& credentials,
                       AccountWriteDone done);

  // The credentials of `account` ("user@host") changed or it is going away.
  void forget(std::string_view account);
  // After a database reconnection (notifications may have been lost).
  void forget_all();
  void set_cache_capacity(size_t capacity) {
    cache_.set_capacity(capacity);
    fast_tokens_.set_capacity(capacity);
  }
  FastTokens& fast_tokens() { return fast_tokens_; }

 private:
  // Derives credentials off the loop, then writes them with `write`; a
  // password SASLprep refuses ends at `done` as BadPassword.
  void derive_then(const std::string& password, uint32_t iterations, AccountWriteDone done,
                   std::function<void(const AccountCredentials&, AccountWriteDone)> write);
  void fetch(const store::PgStatement& statement, store::PgParams params, std::string account,
             CredentialCache::Slot slot, std::optional<sasl::ScramHash> hash, std::function<void(AccountLookup)> done);

  store::PgClient& db_;
  Services& services_;
  OffLoop off_loop_;
  CredentialCache cache_{0};
  FastTokens fast_tokens_{db_};
  // Bumped by every forget: a fetch that started before must not cache what it read.
  uint64_t generation_ = 0;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

std::string_view scram_hash_column(sasl::ScramHash hash);
std::optional<sasl::ScramHash> scram_hash_from_column(std::string_view name);

// Administration, for parleyctl (blocking; never on the server loop).
// Each returns an empty string on success, or what went wrong.
namespace account_admin {
// `also` runs inside the same transaction (a module's rows for the new
// account, e.g. parleyctl user add --phone); its error rolls everything back.
std::string create(store::PgSync& db, const std::string& host, const std::string& username,
                   const std::string& password, uint32_t iterations, const std::function<std::string()>& also = {});
std::string set_password(store::PgSync& db, const std::string& host, const std::string& username,
                         const std::string& password, uint32_t iterations);
// Asks the running parleyd to delete the account (src/xmpp/account_removal.hpp)
// and waits up to `wait` for it; `deleted` says whether it is gone. With no
// parleyd connected the request stays: the account can no longer log in and
// is deleted, its contacts told, when parleyd next starts.
std::string request_removal(store::PgSync& db, const std::string& host, const std::string& username,
                            std::chrono::milliseconds wait, bool& deleted);
struct AccountListing {
  std::string username;
  bool being_deleted = false;  // requested, not yet carried out
};
std::string list(store::PgSync& db, const std::string& host, std::vector<AccountListing>& accounts);
}  // namespace account_admin

}  // namespace parley::xmpp
