#pragma once
// The offline module's storage (schema/0003_offline.sql) behind a narrow
// interface: store one message under a per-user limit, take all of a user's
// messages, put back what could not be delivered. Asynchronous, on the loop.
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace parley::core {
class Logger;
}
namespace parley::store {
class PgClient;
}

namespace parley::modules::offline {

enum class StoreOutcome { Stored, NoSuchAccount, MailboxFull, Failed };

struct StoredMessage {
  std::string id;     // bigserial, as text
  std::string stamp;  // timestamptz, as PostgreSQL prints it
  std::string stanza; // serialized, ready to send
};

// Stores `stanza` for host/username unless the account does not exist or
// already has `limit` messages stored.
void store_message(store::PgClient& db, const std::string& host, const std::string& username,
                   const std::string& stamp, const std::string& stanza, int64_t limit,
                   std::function<void(StoreOutcome)> done);

// Deletes and returns every message stored for host/username, oldest first.
// The delete is what claims them: two sessions asking at once split the rows
// between them, so no message is handed out twice.
void take_messages(store::PgClient& db, const std::string& host, const std::string& username,
                   std::function<void(std::vector<StoredMessage>)> done);

// Puts back messages taken but not delivered (the session went away during
// the round trip), with their original id, so the order is kept.
void put_back(store::PgClient& db, core::Logger& log, const std::string& host, const std::string& username,
              const std::vector<StoredMessage>& messages);

}  // namespace parley::modules::offline
