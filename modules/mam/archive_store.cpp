#include "modules/mam/archive_store.hpp"

#include <algorithm>
#include <memory>

#include "store/pg_client.hpp"

namespace parley::modules::mam {

namespace {

constexpr store::PgStatement kArchive{
    "mam_archive",
    "INSERT INTO mam_messages (host, username, stanza_id, with_bare, with_full, stanza) "
    "SELECT $1, $2, $3, $4, $5, $6 WHERE EXISTS (SELECT 1 FROM accounts WHERE host = $1 AND username = $2)"};

// The archive's own order for an id a client pages from.
constexpr store::PgStatement kResolve{
    "mam_resolve", "SELECT id FROM mam_messages WHERE host = $1 AND username = $2 AND stanza_id = $3"};

// $3/$4: 'with' as a bare or a full JID; $5/$6: start and end; $7/$8:
// after and before (internal ids); $9: how many rows. NULL is "no filter".
#define PARLEY_MAM_PAGE_WHERE                                                                        \
  "WHERE host = $1 AND username = $2 AND ($3::text IS NULL OR with_bare = $3) "                    \
  "AND ($4::text IS NULL OR with_full = $4) AND ($5::timestamptz IS NULL OR stamp >= $5) "        \
  "AND ($6::timestamptz IS NULL OR stamp <= $6) AND ($7::bigint IS NULL OR id > $7) "             \
  "AND ($8::bigint IS NULL OR id < $8) "
#define PARLEY_MAM_PAGE_COLUMNS \
  "SELECT stanza_id, to_char(stamp AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), stanza FROM mam_messages "

constexpr store::PgStatement kPageForward{
    "mam_page_forward", PARLEY_MAM_PAGE_COLUMNS PARLEY_MAM_PAGE_WHERE "ORDER BY id LIMIT $9::bigint"};
// The newest page, or the page before an id: read backwards, shown oldest first.
constexpr store::PgStatement kPageBackward{
    "mam_page_backward", PARLEY_MAM_PAGE_COLUMNS PARLEY_MAM_PAGE_WHERE "ORDER BY id DESC LIMIT $9::bigint"};
#undef PARLEY_MAM_PAGE_WHERE
#undef PARLEY_MAM_PAGE_COLUMNS

constexpr store::PgStatement kExpire{
    "mam_expire", "DELETE FROM mam_messages WHERE host = $1 AND stamp < now() - make_interval(secs => $2::bigint)"};

std::optional<std::string> optional_if(bool condition, const std::optional<std::string>& value) {
  return condition ? value : std::nullopt;
}

// Runs the page query once the ids to page from are internal ids.
void page_by_ids(store::PgClient& db, const std::string& host, const std::string& username, const ArchiveQuery& q,
                 std::optional<std::string> after, std::optional<std::string> before,
                 std::function<void(Page)> done) {
  bool backward = q.last_page || (before && !after);
  // One row more than asked tells whether the page is the last one.
  db.execute(backward ? kPageBackward : kPageForward,
             {host, username, optional_if(q.with_is_bare, q.with), optional_if(!q.with_is_bare, q.with), q.start,
              q.end, after, before, std::to_string(q.max + 1)},
             [max = q.max, backward, done = std::move(done)](store::PgResult&& result) {
               Page page;
               page.ok = result.ok;
               if (!result.ok) return done(std::move(page));
               for (const auto& row : result.rows) {
                 if (row.size() != 3 || !row[0] || !row[1] || !row[2]) continue;
                 page.messages.push_back({*row[0], *row[1], *row[2]});
               }
               page.complete = page.messages.size() <= max;
               if (!page.complete) page.messages.resize(max);
               if (backward) std::reverse(page.messages.begin(), page.messages.end());
               done(std::move(page));
             });
}

}  // namespace

void archive(store::PgClient& db, const ArchiveEntry& e, std::function<void(bool ok)> done) {
  db.execute(kArchive, {e.host, e.username, e.stanza_id, e.with_bare, e.with_full, e.stanza},
             [done = std::move(done)](store::PgResult&& result) { done(result.ok); });
}

void read_page(store::PgClient& db, const std::string& host, const std::string& username, const ArchiveQuery& q,
               std::function<void(Page)> done) {
  // The ids clients page by become the archive's order: one lookup each.
  using Resolved = std::function<void(std::optional<std::string> id)>;
  auto resolve = [&db, host, username, done](const std::optional<std::string>& id, Resolved next) {
    if (!id) return next(std::nullopt);
    db.execute(kResolve, {host, username, *id}, [done, next = std::move(next)](store::PgResult&& result) {
      if (result.ok && result.size() == 1 && result.at(0, 0)) return next(result.at(0, 0));
      Page page;
      page.ok = result.ok;
      page.unknown_id = result.ok;
      done(std::move(page));
    });
  };
  resolve(q.after, [&db, host, username, q, resolve, done](std::optional<std::string> after) {
    resolve(q.before, [&db, host, username, q, after, done](std::optional<std::string> before) {
      page_by_ids(db, host, username, q, after, std::move(before), done);
    });
  });
}

void expire(store::PgClient& db, const std::string& host, int64_t max_age_s,
            std::function<void(bool ok, uint64_t removed)> done) {
  db.execute(kExpire, {host, std::to_string(max_age_s)}, [done = std::move(done)](store::PgResult&& result) {
    done(result.ok, result.affected_rows);
  });
}

}  // namespace parley::modules::mam
