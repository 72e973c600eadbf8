#include "modules/offline/offline_store.hpp"

#include <algorithm>

#include "core/log.hpp"
#include "store/pg_client.hpp"

namespace parley::modules::offline {

namespace {

// One statement checks the account, counts the mailbox and inserts, so a
// message is never stored for an account that does not exist. Under
// concurrent inserts from several workers the count can lag by the messages
// in flight: the limit is a bound against abuse, not an exact quota.
constexpr store::PgStatement kStore{
    "offline_store",
    "WITH owner AS (SELECT 1 FROM accounts WHERE host = $1 AND username = $2), "
    "stored AS (SELECT count(*) AS n FROM offline_messages WHERE host = $1 AND username = $2), "
    "inserted AS (INSERT INTO offline_messages (host, username, stamp, stanza) "
    "SELECT $1, $2, $3::timestamptz, $4 FROM owner, stored WHERE stored.n < $5::bigint RETURNING id) "
    "SELECT EXISTS (SELECT 1 FROM owner), (SELECT count(*) FROM inserted)"};

constexpr store::PgStatement kTake{
    "offline_take",
    "DELETE FROM offline_messages WHERE host = $1 AND username = $2 RETURNING id, stamp, stanza"};

constexpr store::PgStatement kPutBack{
    "offline_put_back",
    "INSERT INTO offline_messages (id, host, username, stamp, stanza) "
    "VALUES ($1::bigint, $2, $3, $4::timestamptz, $5) ON CONFLICT DO NOTHING"};

}  // namespace

void store_message(store::PgClient& db, const std::string& host, const std::string& username,
                   const std::string& stamp, const std::string& stanza, int64_t limit,
                   std::function<void(StoreOutcome)> done) {
  db.execute(kStore, {host, username, stamp, stanza, std::to_string(limit)},
             [done = std::move(done)](store::PgResult&& result) {
               if (!result.ok || result.size() != 1) {
                 done(StoreOutcome::Failed);
               } else if (result.at(0, 0) != "t") {
                 done(StoreOutcome::NoSuchAccount);
               } else if (result.at(0, 1) == "0") {
                 done(StoreOutcome::MailboxFull);
               } else {
                 done(StoreOutcome::Stored);
               }
             });
}

void take_messages(store::PgClient& db, const std::string& host, const std::string& username,
                   std::function<void(std::vector<StoredMessage>)> done) {
  db.execute(kTake, {host, username}, [done = std::move(done)](store::PgResult&& result) {
    std::vector<StoredMessage> messages;
    if (result.ok) {
      for (const auto& row : result.rows) {
        if (row.size() != 3 || !row[0] || !row[1] || !row[2]) continue;
        messages.push_back({*row[0], *row[1], *row[2]});
      }
    }
    // DELETE … RETURNING has no order; ids are the order of arrival.
    std::sort(messages.begin(), messages.end(), [](const StoredMessage& a, const StoredMessage& b) {
      return std::stoll(a.id) < std::stoll(b.id);
    });
    done(std::move(messages));
  });
}

// The logger belongs to the worker, which outlives every database callback.
void put_back(store::PgClient& db, core::Logger& log, const std::string& host, const std::string& username,
              const std::vector<StoredMessage>& messages) {
  for (const StoredMessage& m : messages) {
    db.execute(kPutBack, {m.id, host, username, m.stamp, m.stanza},
               [&log, id = m.id, who = username + "@" + host](store::PgResult&& result) {
                 if (!result.ok) log.error("offline", 0, "offline message ", id, " for ", who, " lost: ", result.error);
               });
  }
}

}  // namespace parley::modules::offline
