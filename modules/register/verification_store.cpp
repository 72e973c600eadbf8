#include "modules/register/verification_store.hpp"

#include "modules/register/phone.hpp"
#include "store/pg_array.hpp"
#include "store/pg_client.hpp"

namespace parley::modules::reg {

namespace {

// Seconds left of the resend cooldown, and per limit the sends of the last
// hour with the seconds until the oldest of them leaves the window.
constexpr store::PgStatement kLimits{
    "register_limits",
    "WITH recent AS (SELECT number, ip, sent_at FROM sms_sends "
    "                WHERE host = $1 AND sent_at > now() - interval '1 hour') "
    "SELECT (SELECT ceil(extract(epoch FROM sent_at - now()) + $4::integer)::bigint "
    "        FROM phone_verifications WHERE host = $1 AND number = $2), "
    "(SELECT count(*) FROM recent WHERE number = $2), "
    "(SELECT ceil(extract(epoch FROM min(sent_at) + interval '1 hour' - now()))::bigint "
    " FROM recent WHERE number = $2), "
    "(SELECT count(*) FROM recent WHERE ip = $3), "
    "(SELECT ceil(extract(epoch FROM min(sent_at) + interval '1 hour' - now()))::bigint FROM recent WHERE ip = $3), "
    "(SELECT count(*) FROM recent), "
    "(SELECT ceil(extract(epoch FROM min(sent_at) + interval '1 hour' - now()))::bigint FROM recent)"};
constexpr store::PgStatement kStore{
    "register_store_code",
    "WITH v AS (INSERT INTO phone_verifications "
    "  (host, number, purpose, username, credentials, code_hash, tries, sent_at, expires_at) "
    "  VALUES ($1, $2, $3, $4, $5, $6, 0, now(), now() + make_interval(secs => $7::integer)) "
    "  ON CONFLICT (host, number) DO UPDATE SET purpose = EXCLUDED.purpose, username = EXCLUDED.username, "
    "  credentials = EXCLUDED.credentials, code_hash = EXCLUDED.code_hash, tries = 0, sent_at = now(), "
    "  expires_at = EXCLUDED.expires_at RETURNING 1) "
    // Housekeeping on the way: sends older than the hourly window and codes
    // long expired are of no further use.
    ", old_sends AS (DELETE FROM sms_sends WHERE host = $1 AND sent_at < now() - interval '1 hour') "
    ", old_codes AS (DELETE FROM phone_verifications WHERE host = $1 AND number <> $2 "
    "  AND expires_at < now() - interval '1 hour') "
    "INSERT INTO sms_sends (host, number, ip) SELECT $1, $2, $8 FROM v"};
constexpr store::PgStatement kCancel{"register_cancel",
                                     "DELETE FROM phone_verifications WHERE host = $1 AND number = $2"};
constexpr store::PgStatement kTry{
    "register_try",
    "UPDATE phone_verifications SET tries = tries + 1 WHERE host = $1 AND number = $2 "
    "RETURNING code_hash, tries, expires_at <= now(), purpose, username, credentials"};
constexpr store::PgStatement kConsume{
    "register_consume",
    "DELETE FROM phone_verifications WHERE host = $1 AND number = $2 AND code_hash = $3 RETURNING 1"};
constexpr store::PgStatement kOwners{
    "register_owners", "SELECT username FROM phone_numbers WHERE host = $1 AND number = $2 ORDER BY username"};
constexpr store::PgStatement kSetNumber{
    "register_set_number",
    "INSERT INTO phone_numbers (host, username, number) VALUES ($1, $2, $3) "
    "ON CONFLICT (host, username) DO UPDATE SET number = EXCLUDED.number, verified_at = now()"};
constexpr store::PgStatement kNumberOf{
    "register_number_of", "SELECT number FROM phone_numbers WHERE host = $1 AND username = $2"};
// Adds to today's (UTC) count only if the total stays within the quota;
// earlier days' counts go.
constexpr store::PgStatement kQuota{
    "register_phonebook_quota",
    "WITH old AS (DELETE FROM phonebook_usage WHERE host = $1 AND username = $2 "
    "             AND day < (now() AT TIME ZONE 'UTC')::date) "
    "INSERT INTO phonebook_usage AS u (host, username, day, numbers) "
    "SELECT $1, $2, (now() AT TIME ZONE 'UTC')::date, $3::integer WHERE $3::integer <= $4::integer "
    "ON CONFLICT (host, username, day) DO UPDATE SET numbers = u.numbers + EXCLUDED.numbers "
    "WHERE u.numbers + EXCLUDED.numbers <= $4::integer RETURNING numbers"};
constexpr store::PgStatement kLookup{
    "register_phonebook_lookup",
    "SELECT number, username FROM phone_numbers WHERE host = $1 AND number = ANY($2::text[]) "
    "ORDER BY number, username"};

int64_t cell_int(const store::PgResult& r, size_t col) {
  const auto& v = r.rows.at(0).at(col);
  return v ? std::stoll(*v) : 0;
}

}  // namespace

void check_limits(store::PgClient& db, const std::string& host, const std::string& number, const std::string& ip,
                  const Limits& limits, std::function<void(BeginOutcome)> done) {
  db.execute(kLimits, {host, number, ip, std::to_string(limits.cooldown_seconds)},
             [limits, done = std::move(done)](store::PgResult&& r) {
               if (!r.ok || r.rows.empty()) return done({BeginStatus::Failed});
               if (int64_t left = cell_int(r, 0); left > 0) return done({BeginStatus::Cooldown, left});
               if (cell_int(r, 1) >= limits.per_number_per_hour) {
                 return done({BeginStatus::NumberLimit, cell_int(r, 2)});
               }
               if (cell_int(r, 3) >= limits.per_ip_per_hour) return done({BeginStatus::IpLimit, cell_int(r, 4)});
               if (cell_int(r, 5) >= limits.per_host_per_hour) return done({BeginStatus::HostLimit, cell_int(r, 6)});
               done({BeginStatus::Started});
             });
}

void store_code(store::PgClient& db, const std::string& host, const std::string& number, const std::string& ip,
                const Pending& pending, const std::string& code_hash, const Limits& limits,
                std::function<void(bool ok)> done) {
  store::PgParams params{host,
                         number,
                         pending.purpose,
                         pending.username,
                         pending.credentials.empty() ? std::nullopt : std::optional<std::string>(pending.credentials),
                         code_hash,
                         std::to_string(limits.ttl_seconds),
                         ip};
  db.execute(kStore, std::move(params), [done = std::move(done)](store::PgResult&& stored) {
    done(stored.ok && stored.affected_rows == 1);
  });
}

void cancel(store::PgClient& db, const std::string& host, const std::string& number) {
  db.execute(kCancel, {host, number}, [](store::PgResult&&) {});
}

void check(store::PgClient& db, const std::string& host, const std::string& number, const std::string& code,
           int64_t max_tries, std::function<void(CheckOutcome)> done) {
  db.execute(kTry, {host, number}, [&db, host, number, code, max_tries, done = std::move(done)](store::PgResult&& r) {
    if (!r.ok) return done({CheckStatus::Failed});
    if (r.rows.empty()) return done({CheckStatus::NoCode});
    const auto& row = r.rows[0];
    std::string hash = row[0].value_or("");
    int64_t tries = std::stoll(row[1].value_or("0"));
    if (row[2].value_or("f") == "t") {
      cancel(db, host, number);
      return done({CheckStatus::Expired});
    }
    if (tries > max_tries) {
      cancel(db, host, number);
      return done({CheckStatus::TooManyTries});
    }
    if (!phone::code_matches(hash, number, code)) return done({CheckStatus::Wrong, max_tries - tries});
    Pending pending{row[3].value_or(""), row[4].value_or(""), row[5].value_or("")};
    // One use: only the request that deletes the row goes on.
    db.execute(kConsume, {host, number, hash}, [pending, done](store::PgResult&& consumed) {
      if (!consumed.ok) return done({CheckStatus::Failed});
      if (consumed.rows.empty()) return done({CheckStatus::NoCode});
      done({CheckStatus::Verified, 0, pending});
    });
  });
}

void owners(store::PgClient& db, const std::string& host, const std::string& number,
            std::function<void(std::optional<std::vector<std::string>>)> done) {
  db.execute(kOwners, {host, number}, [done = std::move(done)](store::PgResult&& r) {
    if (!r.ok) return done(std::nullopt);
    std::vector<std::string> usernames;
    for (const auto& row : r.rows) usernames.push_back(row[0].value_or(""));
    done(std::move(usernames));
  });
}

void set_number(store::PgClient& db, const std::string& host, const std::string& username, const std::string& number,
                std::function<void(bool ok)> done) {
  db.execute(kSetNumber, {host, username, number},
             [done = std::move(done)](store::PgResult&& r) { done(r.ok); });
}

store::PgClient::Command set_number_command(const std::string& host, const std::string& username,
                                            const std::string& number) {
  return {&kSetNumber, {host, username, number}};
}

void number_of(store::PgClient& db, const std::string& host, const std::string& username,
               std::function<void(std::optional<std::string>)> done) {
  db.execute(kNumberOf, {host, username}, [done = std::move(done)](store::PgResult&& r) {
    if (!r.ok) return done(std::nullopt);
    done(r.rows.empty() ? std::string() : r.rows[0][0].value_or(""));
  });
}

void lookup(store::PgClient& db, const std::string& host, const std::string& username,
            const std::vector<std::string>& numbers, int64_t daily_quota, std::function<void(LookupOutcome)> done) {
  db.execute(kQuota, {host, username, std::to_string(numbers.size()), std::to_string(daily_quota)},
             [&db, host, numbers, done = std::move(done)](store::PgResult&& r) {
               if (!r.ok) return done({LookupStatus::Failed});
               if (r.rows.empty()) return done({LookupStatus::QuotaExceeded});
               db.execute(kLookup, {host, store::format_text_array(numbers)}, [done](store::PgResult&& found) {
                 if (!found.ok) return done({LookupStatus::Failed});
                 LookupOutcome outcome{LookupStatus::Found};
                 for (const auto& row : found.rows) {
                   outcome.usernames[row[0].value_or("")].push_back(row[1].value_or(""));
                 }
                 done(std::move(outcome));
               });
             });
}

}  // namespace parley::modules::reg
