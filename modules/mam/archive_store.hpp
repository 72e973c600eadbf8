#pragma once
// The mam_messages table (schema/0011_mam.sql): archiving a message, and
// reading one page of an account's archive.
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "modules/mam/archive_query.hpp"

namespace parley::store {
class PgClient;
}

namespace parley::modules::mam {

struct ArchivedMessage {
  std::string stanza_id;
  std::string stamp;   // XEP-0082, UTC
  std::string stanza;  // serialized with xmlns='jabber:client'
};

struct Page {
  bool ok = false;          // false: the database failed
  bool unknown_id = false;  // the after/before id is not in this archive
  std::vector<ArchivedMessage> messages;  // oldest first
  bool complete = false;    // nothing more in the direction paged
};

struct ArchiveEntry {
  std::string host, username, stanza_id, with_bare, with_full, stanza;
};

// Adds a message to an account's archive; nothing for an account that does not exist.
void archive(store::PgClient& db, const ArchiveEntry& entry, std::function<void(bool ok)> done);

// One page of `host`/`username`'s archive for `query`.
void read_page(store::PgClient& db, const std::string& host, const std::string& username, const ArchiveQuery& query,
               std::function<void(Page)> done);

// Removes what is older than `max_age_s` seconds from the archives of `host`.
void expire(store::PgClient& db, const std::string& host, int64_t max_age_s,
            std::function<void(bool ok, uint64_t removed)> done);

}  // namespace parley::modules::mam
