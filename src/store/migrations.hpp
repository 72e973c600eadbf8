#pragma once
// Schema migrations: files named NNNN_what.sql in one directory, applied in
// numeric order, each in its own transaction, and recorded in
// schema_migrations(version, name, applied_at). Blocking: start-up and
// parleyctl only.

#include "store/pg_sync.hpp"

#include <filesystem>
#include <functional>
#include <string>
#include <string_view>

namespace parley::store {

// Applies every migration not yet recorded. A transaction-scoped advisory
// lock serialises concurrent callers (two parleyd, or parleyctl), so each
// version is applied exactly once. Files must not contain BEGIN/COMMIT.
// On failure the failing migration is rolled back, `error` names its file,
// earlier migrations stay applied, and false is returned. `log` (may be
// empty) hears one line per applied migration.
bool apply_migrations(PgSync& db, const std::filesystem::path& schema_dir, std::string& error,
                      std::function<void(std::string_view)> log);

// Highest applied version; 0 when none (or no schema_migrations table),
// -1 when the database cannot be queried.
int current_schema_version(PgSync& db);

}  // namespace parley::store
