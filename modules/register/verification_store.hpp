#pragma once
// Storage of the register module (schema/0006_register.sql): pending codes,
// the SMS send log behind the hourly limits, verified numbers and the
// phone-book quota. All asynchronous, on the loop; the database clock (now())
// is the only clock, so tests age rows with an UPDATE instead of sleeping.
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "store/pg_client.hpp"

namespace parley::modules::reg {

struct Limits {
  int64_t ttl_seconds = 600;
  int64_t cooldown_seconds = 60;
  int64_t per_number_per_hour = 5;
  int64_t per_ip_per_hour = 10;
  int64_t per_host_per_hour = 1000;
  int64_t max_tries = 5;
};

// What a code, once confirmed, allows: create `username`, reset its
// password, or move it to the number.
struct Pending {
  std::string purpose;  // register | reset | change
  std::string username;
  std::string credentials;  // AccountCredentials::to_text(), empty for change
};

enum class BeginStatus { Started, Cooldown, NumberLimit, IpLimit, HostLimit, Failed };
struct BeginOutcome {
  BeginStatus status;
  int64_t retry_seconds = 0;
};
// Checks the resend cooldown and the hourly limits (Started: a code may go).
void check_limits(store::PgClient& db, const std::string& host, const std::string& number, const std::string& ip,
                  const Limits& limits, std::function<void(BeginOutcome)> done);
// Stores the hashed code (replacing an older one for the number) and logs the send.
void store_code(store::PgClient& db, const std::string& host, const std::string& number, const std::string& ip,
                const Pending& pending, const std::string& code_hash, const Limits& limits,
                std::function<void(bool ok)> done);
// Forgets the pending code (the SMS could not be sent).
void cancel(store::PgClient& db, const std::string& host, const std::string& number);

enum class CheckStatus { Verified, NoCode, Expired, TooManyTries, Wrong, Failed };
struct CheckOutcome {
  CheckStatus status;
  int64_t tries_left = 0;
  Pending pending = {};
};
// Counts a try; a matching, unexpired code within max_tries is consumed
// (one use) and its Pending returned.
void check(store::PgClient& db, const std::string& host, const std::string& number, const std::string& code,
           int64_t max_tries, std::function<void(CheckOutcome)> done);

// The accounts whose verified number this is (nullopt: database failure).
void owners(store::PgClient& db, const std::string& host, const std::string& number,
            std::function<void(std::optional<std::vector<std::string>>)> done);
void set_number(store::PgClient& db, const std::string& host, const std::string& username, const std::string& number,
                std::function<void(bool ok)> done);
// The same write as a statement for AccountStore::create, so that a new
// account and its verified number commit together.
store::PgClient::Command set_number_command(const std::string& host, const std::string& username,
                                            const std::string& number);
// The account's verified number: nullopt on failure, "" if none.
void number_of(store::PgClient& db, const std::string& host, const std::string& username,
               std::function<void(std::optional<std::string>)> done);

enum class LookupStatus { Found, QuotaExceeded, Failed };
struct LookupOutcome {
  LookupStatus status;
  std::map<std::string, std::vector<std::string>> usernames = {};  // E.164 number -> accounts
};
// Counts `numbers` against the account's daily quota, then looks them up.
void lookup(store::PgClient& db, const std::string& host, const std::string& username,
            const std::vector<std::string>& numbers, int64_t daily_quota, std::function<void(LookupOutcome)> done);

}  // namespace parley::modules::reg
