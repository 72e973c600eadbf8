#include "store/migrations.hpp"

#include <algorithm>
#include <fstream>
#include <iterator>
#include <map>
#include <regex>

namespace parley::store {

namespace fs = std::filesystem;

namespace {

// Arbitrary constant ('parley' in ASCII) identifying the migration lock
// among pg_advisory_xact_lock users of the same database.
constexpr const char* kLockSql = "SELECT pg_advisory_xact_lock(123563833845113)";

constexpr const char* kCreateTableSql =
    "CREATE TABLE IF NOT EXISTS schema_migrations ("
    " version integer PRIMARY KEY,"
    " name text NOT NULL,"
    " applied_at timestamptz NOT NULL DEFAULT now())";

struct Migration {
    int version;
    fs::path file;
};

bool list_migrations(const fs::path& dir, std::map<int, Migration>& out, std::string& error) {
    static const std::regex pattern(R"(^(\d{4})_[A-Za-z0-9_\-]+\.sql$)");
    std::error_code ec;
    fs::directory_iterator it(dir, ec);
    if (ec) {
        error = "cannot read schema directory " + dir.string() + ": " + ec.message();
        return false;
    }
    for (const auto& entry : it) {
        const std::string name = entry.path().filename().string();
        if (entry.path().extension() != ".sql") continue;  // README and friends
        std::smatch match;
        if (!std::regex_match(name, match, pattern)) {
            error = "migration file " + entry.path().string() + " is not named NNNN_what.sql";
            return false;
        }
        const int version = std::stoi(match[1].str());
        auto [existing, inserted] = out.emplace(version, Migration{version, entry.path()});
        if (!inserted) {
            error = "migrations " + existing->second.file.filename().string() + " and " + name +
                    " share version " + match[1].str();
            return false;
        }
    }
    return true;
}

// Runs `body` inside BEGIN ... COMMIT holding the migration lock.
// Returns the first failing result, or an ok result.
template <class Body>
PgResult locked_transaction(PgSync& db, Body&& body) {
    PgResult result = db.exec("BEGIN");
    if (!result.ok) return result;
    result = db.exec(kLockSql);
    if (result.ok) result = body();
    if (!result.ok) {
        db.exec("ROLLBACK");
        return result;
    }
    return db.exec("COMMIT");
}

}  // namespace

bool apply_migrations(PgSync& db, const fs::path& schema_dir, std::string& error,
                      std::function<void(std::string_view)> log) {
    std::map<int, Migration> migrations;
    if (!list_migrations(schema_dir, migrations, error)) return false;

    // Created under the lock: two concurrent CREATE TABLE IF NOT EXISTS can
    // still collide on the catalog's unique indexes.
    PgResult created = locked_transaction(db, [&] { return db.exec(kCreateTableSql); });
    if (!created.ok) {
        error = "cannot create schema_migrations: " + created.error;
        return false;
    }

    for (const auto& [version, migration] : migrations) {
        const std::string file_name = migration.file.filename().string();
        bool applied_now = false;
        PgResult result = locked_transaction(db, [&]() -> PgResult {
            PgResult seen = db.exec("SELECT 1 FROM schema_migrations WHERE version = $1", {std::to_string(version)});
            if (!seen.ok || seen.size() > 0) return seen;  // already applied (maybe by a concurrent process)
            std::ifstream in(migration.file, std::ios::binary);
            const std::string sql((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
            if (!in.good() && !in.eof()) {
                PgResult unreadable;
                unreadable.error = "cannot read the file";
                return unreadable;
            }
            PgResult ran = db.exec_script(sql);
            if (!ran.ok) return ran;
            applied_now = true;
            return db.exec("INSERT INTO schema_migrations (version, name) VALUES ($1, $2)",
                           {std::to_string(version), file_name});
        });
        if (!result.ok) {
            error = "migration " + migration.file.string() + " failed, rolled back: " + result.error;
            return false;
        }
        if (applied_now && log) log("applied migration " + file_name);
    }
    return true;
}

int current_schema_version(PgSync& db) {
    PgResult result = db.exec("SELECT coalesce(max(version), 0) FROM schema_migrations");
    if (!result.ok) return result.sqlstate == "42P01" ? 0 : -1;  // 42P01: undefined_table
    const auto& value = result.at(0, 0);
    return value ? std::stoi(*value) : 0;
}

}  // namespace parley::store
