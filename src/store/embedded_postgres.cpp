#include "store/embedded_postgres.hpp"

#include "store/child_process.hpp"
#include "store/pg_sync.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <fstream>
#include <pwd.h>
#include <sstream>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <vector>

namespace parley::store {

namespace fs = std::filesystem;

namespace {

constexpr int kPort = 5432;  // only names the socket file; there is no TCP listener
constexpr const char* kSuperuser = "parley";
constexpr const char* kConfInclude = "parley.conf";

struct ServiceUser {
    std::string name;  // empty: run the tools as ourselves
    uid_t uid = 0;
    gid_t gid = 0;
};

bool has_tools(const fs::path& dir) {
    std::error_code ec;
    for (const char* tool : {"initdb", "pg_ctl", "postgres"}) {
        if (!fs::is_regular_file(dir / tool, ec) || access((dir / tool).c_str(), X_OK) != 0) return false;
    }
    return true;
}

// initdb, pg_ctl and postgres must come from the same installation: first a
// PATH directory holding all three, else the newest Debian-style
// /usr/lib/postgresql/<major>/bin.
fs::path find_bin_dir() {
    if (const char* path = std::getenv("PATH")) {
        std::stringstream dirs(path);
        std::string dir;
        while (std::getline(dirs, dir, ':')) {
            if (!dir.empty() && has_tools(dir)) return dir;
        }
    }
    fs::path best;
    long best_major = -1;
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator("/usr/lib/postgresql", ec)) {
        const std::string name = entry.path().filename().string();
        char* end = nullptr;
        const long major = std::strtol(name.c_str(), &end, 10);
        if (end == name.c_str() || *end != '\0') continue;
        if (major > best_major && has_tools(entry.path() / "bin")) {
            best_major = major;
            best = entry.path() / "bin";
        }
    }
    return best;
}

// PostgreSQL refuses to run as root. As root we run initdb/pg_ctl as the
// 'postgres' system user (created by the Debian package), or a 'parley'
// system user we create when that one does not exist.
bool resolve_service_user(ServiceUser& user, std::string& error) {
    if (geteuid() != 0) return true;
    for (int attempt = 0; attempt < 2; ++attempt) {
        for (const char* name : {"postgres", "parley"}) {
            if (const passwd* entry = getpwnam(name)) {
                user.name = name;
                user.uid = entry->pw_uid;
                user.gid = entry->pw_gid;
                return true;
            }
        }
        if (attempt == 0) {
            const ChildResult created =
                run_child({"useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", "parley"});
            if (!created.started || created.exit_code != 0) {
                error = "running as root and no 'postgres' user exists; useradd parley failed: " + created.error +
                        created.output;
                return false;
            }
        }
    }
    error = "running as root and no 'postgres' or 'parley' system user is available";
    return false;
}

std::uint64_t fnv1a(std::string_view text) {
    std::uint64_t hash = 1469598103934665603ULL;
    for (unsigned char c : text) {
        hash ^= c;
        hash *= 1099511628211ULL;
    }
    return hash;
}

// sun_path holds 108 bytes including the terminating NUL.
fs::path choose_socket_dir(const fs::path& data_dir) {
    fs::path preferred = data_dir.parent_path() / (data_dir.filename().string() + "-socket");
    const std::string socket_file = (preferred / (".s.PGSQL." + std::to_string(kPort))).string();
    if (socket_file.size() < sizeof(sockaddr_un{}.sun_path)) return preferred;
    char name[64];
    std::snprintf(name, sizeof name, "parley-pg-%016llx",
                  static_cast<unsigned long long>(fnv1a(data_dir.string())));
    return fs::path("/tmp") / name;
}

// Value quoting for postgresql.conf: single quotes, '' inside.
std::string conf_quote(const std::string& value) {
    std::string out = "'";
    for (char c : value) {
        if (c == '\'') out += '\'';
        out += c;
    }
    return out + "'";
}

// Value quoting for libpq connection strings: single quotes, \ escapes.
std::string conninfo_quote(std::string_view value) {
    std::string out = "'";
    for (char c : value) {
        if (c == '\'' || c == '\\') out += '\\';
        out += c;
    }
    return out + "'";
}

// Creates `dir` if needed and makes it private to the service user. The
// directory is opened with O_NOFOLLOW and changed through the descriptor:
// the socket fallback lives in world-writable /tmp, where someone else could
// have planted a symlink or a directory of their own.
bool make_owned_dir(const fs::path& dir, const ServiceUser& user, std::string& error) {
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec) {
        error = "cannot create " + dir.string() + ": " + ec.message();
        return false;
    }
    const int fd = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        error = "cannot open directory " + dir.string() + " (a symlink?): " + std::strerror(errno);
        return false;
    }
    struct stat info {};
    bool ok = fstat(fd, &info) == 0;
    const uid_t owner = user.name.empty() ? geteuid() : user.uid;
    if (!ok || (info.st_uid != geteuid() && info.st_uid != owner)) {
        error = dir.string() + " belongs to another user; refusing to use it";
    } else if (!user.name.empty() && fchown(fd, user.uid, user.gid) != 0) {
        error = "cannot chown " + dir.string() + " to " + user.name + ": " + std::strerror(errno);
    } else if (fchmod(fd, 0700) != 0) {
        error = "cannot chmod " + dir.string() + ": " + std::strerror(errno);
    } else {
        ::close(fd);
        return true;
    }
    ::close(fd);
    return false;
}

// The service user must be able to traverse every ancestor of its
// directories; say which one blocks it instead of letting initdb fail
// with a vaguer message.
bool check_reachable(const fs::path& dir, const ServiceUser& user, std::string& error) {
    if (user.name.empty()) return true;
    for (fs::path ancestor = dir.parent_path(); !ancestor.empty(); ancestor = ancestor.parent_path()) {
        struct stat info {};
        if (stat(ancestor.c_str(), &info) != 0) break;
        const mode_t needed = info.st_uid == user.uid ? S_IXUSR : info.st_gid == user.gid ? S_IXGRP : S_IXOTH;
        if ((info.st_mode & needed) == 0) {
            error = "the '" + user.name + "' user cannot reach " + dir.string() + ": " + ancestor.string() +
                    " is not searchable (chmod o+x it or choose another state directory)";
            return false;
        }
        if (ancestor == ancestor.root_path()) break;
    }
    return true;
}

std::string tail_of_file(const fs::path& file, std::size_t max_bytes) {
    std::ifstream in(file, std::ios::binary);
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (text.size() > max_bytes) text = text.substr(text.size() - max_bytes);
    return text;
}

bool write_file(const fs::path& file, const std::string& content, const ServiceUser& user, std::string& error) {
    {
        std::ofstream out(file, std::ios::binary | std::ios::trunc);
        out << content;
        if (!out) {
            error = "cannot write " + file.string();
            return false;
        }
    }
    if (!user.name.empty() && chown(file.c_str(), user.uid, user.gid) != 0) {
        error = "cannot chown " + file.string() + ": " + std::strerror(errno);
        return false;
    }
    return true;
}

}  // namespace

std::unique_ptr<EmbeddedPostgres> EmbeddedPostgres::start(const fs::path& data_dir_in, std::string& error, Log log,
                                                          EmbeddedPostgresOptions options) {
    auto say = [&](std::string_view message) {
        if (log) log(message);
    };
    std::unique_ptr<EmbeddedPostgres> pg(new EmbeddedPostgres());
    pg->log_ = log;

    fs::path data_dir = fs::absolute(data_dir_in).lexically_normal();
    if (data_dir.filename().empty()) data_dir = data_dir.parent_path();  // trailing '/'
    pg->data_dir_ = data_dir;
    pg->socket_dir_ = choose_socket_dir(data_dir);
    pg->log_file_ = data_dir.parent_path() / (data_dir.filename().string() + ".log");

    pg->bin_dir_ = find_bin_dir();
    if (pg->bin_dir_.empty()) {
        error = "PostgreSQL server binaries (initdb, pg_ctl, postgres) not found in PATH or /usr/lib/postgresql/*/bin";
        return nullptr;
    }
    ServiceUser user;
    if (!resolve_service_user(user, error)) return nullptr;
    pg->run_as_ = user.name;

    // Every tool runs through this: as ourselves, or via runuser when root.
    auto tool = [&](const char* name, std::vector<std::string> args) {
        std::vector<std::string> argv;
        if (!user.name.empty()) argv = {"runuser", "-u", user.name, "--"};
        argv.push_back((pg->bin_dir_ / name).string());
        argv.insert(argv.end(), args.begin(), args.end());
        return run_child(argv);
    };

    if (!make_owned_dir(data_dir, user, error) || !make_owned_dir(pg->socket_dir_, user, error) ||
        !check_reachable(data_dir, user, error) || !check_reachable(pg->socket_dir_, user, error)) {
        return nullptr;
    }

    // Reuse a server already running on this data directory (a previous
    // parleyd that crashed, or parleyctl next to a running server).
    const ChildResult status = tool("pg_ctl", {"status", "-D", data_dir.string()});
    if (status.started && status.exit_code == 0) {
        say("reusing the PostgreSQL server already running on " + data_dir.string());
        pg->started_by_us_ = false;
        pg->running_ = true;
        return pg;
    }

    std::error_code ec;
    if (!fs::exists(data_dir / "PG_VERSION", ec)) {
        say("initialising a PostgreSQL cluster in " + data_dir.string());
        std::vector<std::string> args = {"-D", data_dir.string(), "-U", kSuperuser, "--auth=trust", "-E", "UTF8",
                                         "--locale=C"};
        if (!options.fsync) args.push_back("--no-sync");
        const ChildResult init = tool("initdb", args);
        if (!init.started || init.exit_code != 0) {
            error = "initdb failed for " + data_dir.string() + ": " + init.error + init.output;
            return nullptr;
        }
    }

    // Our settings live in an included file rather than in pg_ctl -o,
    // because pg_ctl hands -o to /bin/sh and paths would need shell quoting.
    const fs::path main_conf = data_dir / "postgresql.conf";
    const std::string include_line = std::string("include_if_exists = '") + kConfInclude + "'";
    if (tail_of_file(main_conf, 1 << 20).find(include_line) == std::string::npos) {
        std::ofstream out(main_conf, std::ios::app);
        out << "\n# Added by Parley: settings for the embedded cluster\n" << include_line << "\n";
        if (!out) {
            error = "cannot update " + main_conf.string();
            return nullptr;
        }
    }
    std::string conf = "# Written by Parley at every start; edits are overwritten.\n";
    conf += "listen_addresses = ''\n";
    conf += "unix_socket_directories = " + conf_quote(pg->socket_dir_.string()) + "\n";
    // Socket dir and socket are private to the service user. When parleyd
    // runs as root it still connects: root bypasses file permission checks
    // (CAP_DAC_OVERRIDE), so nothing has to be opened to other local users,
    // which with trust authentication would hand them the database.
    conf += "unix_socket_permissions = 0700\n";
    if (options.fsync) {
        conf += "fsync = on\n";
    } else {
        conf += "fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n";
    }
    if (!write_file(data_dir / kConfInclude, conf, user, error)) return nullptr;

    // pg_ctl opens the log as the service user, which may not write to the
    // state directory: create it ourselves and hand it over.
    {
        const int fd = open(pg->log_file_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
        if (fd < 0) {
            error = "cannot create " + pg->log_file_.string() + ": " + std::strerror(errno);
            return nullptr;
        }
        const bool chowned = user.name.empty() || fchown(fd, user.uid, user.gid) == 0;
        ::close(fd);
        if (!chowned) {
            error = "cannot chown " + pg->log_file_.string() + ": " + std::strerror(errno);
            return nullptr;
        }
    }

    say("starting PostgreSQL on " + data_dir.string() + " (log: " + pg->log_file_.string() + ")");
    const ChildResult started =
        tool("pg_ctl", {"start", "-w", "-t", "60", "-s", "-D", data_dir.string(), "-l", pg->log_file_.string()});
    if (!started.started || started.exit_code != 0) {
        error = "PostgreSQL failed to start (see " + pg->log_file_.string() + "): " + started.error + started.output +
                tail_of_file(pg->log_file_, 2000);
        return nullptr;
    }
    pg->started_by_us_ = true;
    pg->running_ = true;

    // CREATE DATABASE cannot run in a transaction, hence check-then-create;
    // a concurrent creator makes ours fail with duplicate_database (42P04).
    PgSync admin(pg->conninfo_for("postgres"));
    if (!admin.connected()) {
        error = "cannot connect to the embedded PostgreSQL: " + admin.connect_error();
        return nullptr;  // the destructor stops the server we started
    }
    PgResult exists = admin.exec("SELECT 1 FROM pg_database WHERE datname = $1", {std::string("parley")});
    if (exists.ok && exists.size() == 0) {
        PgResult created = admin.exec("CREATE DATABASE parley");
        if (!created.ok && created.sqlstate != "42P04") exists = std::move(created);
    }
    if (!exists.ok) {
        error = "cannot create the 'parley' database: " + exists.error;
        return nullptr;
    }
    return pg;
}

EmbeddedPostgres::~EmbeddedPostgres() {
    stop(PgStopMode::fast);
}

std::string EmbeddedPostgres::conninfo_for(std::string_view dbname) const {
    return "host=" + conninfo_quote(socket_dir_.string()) + " port=" + std::to_string(kPort) +
           " user=" + kSuperuser + " dbname=" + conninfo_quote(dbname);
}

void EmbeddedPostgres::stop(PgStopMode mode) {
    if (!started_by_us_ || !running_) return;
    running_ = false;
    std::vector<std::string> argv;
    if (!run_as_.empty()) argv = {"runuser", "-u", run_as_, "--"};
    argv.push_back((bin_dir_ / "pg_ctl").string());
    for (const char* arg : {"stop", "-w", "-s", "-D"}) argv.emplace_back(arg);
    argv.push_back(data_dir_.string());
    argv.emplace_back("-m");
    argv.emplace_back(mode == PgStopMode::fast ? "fast" : "immediate");
    const ChildResult stopped = run_child(argv);
    if ((!stopped.started || stopped.exit_code != 0) && log_) {
        log_("pg_ctl stop failed for " + data_dir_.string() + ": " + stopped.error + stopped.output);
    }
    // The short fallback under /tmp is not part of the state directory:
    // remove it once empty so stopped clusters leave nothing there.
    if (socket_dir_.parent_path() == "/tmp") rmdir(socket_dir_.c_str());
}

}  // namespace parley::store
