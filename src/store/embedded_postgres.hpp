#pragma once
// A private PostgreSQL cluster under Parley's state directory ('embedded'
// mode, the default) so that the first run needs no database setup. The
// tests use the same class for throwaway clusters.
//
// Layout for data_dir = <state>/postgres:
//   <state>/postgres/          the cluster (initdb on first run)
//   <state>/postgres-socket/   Unix socket directory (no TCP listener); when
//                              that path is too long for sun_path,
//                              /tmp/parley-pg-<hash of data_dir> instead
//   <state>/postgres.log       server log (pg_ctl -l)
// The database superuser is 'parley' (trust auth over the socket only) and
// the database 'parley' is created if missing.
//
// Blocking (it runs initdb/pg_ctl): call at start-up, never on a loop.

#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <sys/types.h>

namespace parley::store {

struct EmbeddedPostgresOptions {
    // Tests turn this off (fsync, synchronous_commit, full_page_writes and
    // initdb --no-sync) for speed; a crash may then lose data.
    bool fsync = true;
};

enum class PgStopMode {
    fast,       // pg_ctl stop -m fast: roll back sessions, clean shutdown
    immediate,  // pg_ctl stop -m immediate: abort, crash recovery on next start
};

class EmbeddedPostgres {
public:
    using Log = std::function<void(std::string_view)>;

    // Initialises (if data_dir has no PG_VERSION) and starts the cluster, or
    // reuses a server already running on data_dir (which stop() then leaves
    // running). Returns nullptr and sets `error` on failure; the error names
    // the log file when the server itself failed.
    static std::unique_ptr<EmbeddedPostgres> start(const std::filesystem::path& data_dir, std::string& error,
                                                   Log log, EmbeddedPostgresOptions options = {});

    // Stops the server if this object started it and stop() was not called.
    ~EmbeddedPostgres();
    EmbeddedPostgres(const EmbeddedPostgres&) = delete;
    EmbeddedPostgres& operator=(const EmbeddedPostgres&) = delete;

    // libpq connection string for the 'parley' database.
    std::string conninfo() const { return conninfo_for("parley"); }
    // Same server, another database (tests, parleyctl maintenance).
    std::string conninfo_for(std::string_view dbname) const;

    // Stops the server if this object started it (no-op otherwise or when
    // already stopped). Failures are reported through the log hook.
    void stop(PgStopMode mode = PgStopMode::fast);
    bool started_by_us() const { return started_by_us_; }

    const std::filesystem::path& data_dir() const { return data_dir_; }
    const std::filesystem::path& socket_dir() const { return socket_dir_; }
    const std::filesystem::path& log_file() const { return log_file_; }

private:
    EmbeddedPostgres() = default;

    std::filesystem::path bin_dir_;
    std::filesystem::path data_dir_;
    std::filesystem::path socket_dir_;
    std::filesystem::path log_file_;
    std::string run_as_;  // system user for pg_ctl when we are root, else empty
    Log log_;
    bool started_by_us_ = false;
    bool running_ = false;
};

}  // namespace parley::store
