#pragma once
// Shared fixtures for the store tests: one throwaway PostgreSQL cluster per
// test binary (fsync off) and a libuv loop that can be run until a
// condition holds.

#include "store/embedded_postgres.hpp"
#include "store/pg_sync.hpp"

#include <uv.h>

#include <cstdlib>
#include <filesystem>
#include <functional>
#include <stdexcept>
#include <string>
#include <sys/stat.h>

namespace parley::store::test {

class TestCluster {
public:
    TestCluster() {
        char pattern[] = "/tmp/parley-store-test-XXXXXX";
        if (mkdtemp(pattern) == nullptr) throw std::runtime_error("mkdtemp failed");
        root_ = pattern;
        // When the tests run as root the cluster runs as another user, which
        // must be able to traverse the temporary directory.
        chmod(root_.c_str(), 0711);
        start();
    }
    ~TestCluster() {
        pg_.reset();
        std::error_code ec;
        std::filesystem::remove_all(root_, ec);
    }

    void start() {
        std::string error;
        pg_ = EmbeddedPostgres::start(root_ / "postgres", error, {}, EmbeddedPostgresOptions{.fsync = false});
        if (!pg_) throw std::runtime_error("cannot start the test cluster: " + error);
    }
    // Simulates a database crash: pending connections see their socket close.
    void crash() { pg_->stop(PgStopMode::immediate); }

    EmbeddedPostgres& pg() { return *pg_; }
    const std::filesystem::path& root() const { return root_; }

    // Creates an empty database and returns its conninfo.
    std::string fresh_database(const std::string& name) {
        PgSync admin(pg_->conninfo_for("postgres"));
        if (!admin.connected()) throw std::runtime_error(admin.connect_error());
        admin.exec("DROP DATABASE IF EXISTS " + name);
        PgResult created = admin.exec("CREATE DATABASE " + name);
        if (!created.ok) throw std::runtime_error(created.error);
        return pg_->conninfo_for(name);
    }

private:
    std::filesystem::path root_;
    std::unique_ptr<EmbeddedPostgres> pg_;
};

inline TestCluster& shared_cluster() {
    static TestCluster cluster;
    return cluster;
}

// A loop with a 5 ms ticker so that run_until() can check its deadline.
class TestLoop {
public:
    TestLoop() {
        uv_loop_init(&loop_);
        uv_timer_init(&loop_, &ticker_);
        uv_timer_start(&ticker_, [](uv_timer_t*) {}, 5, 5);
    }
    ~TestLoop() {
        if (!closed_) close_loop();
    }
    uv_loop_t* get() { return &loop_; }

    // Runs the loop until `done` holds; false on timeout.
    bool run_until(const std::function<bool()>& done, std::uint64_t timeout_ms) {
        uv_update_time(&loop_);
        const std::uint64_t deadline = uv_now(&loop_) + timeout_ms;
        while (!done()) {
            if (uv_now(&loop_) >= deadline) return false;
            uv_run(&loop_, UV_RUN_ONCE);
        }
        return true;
    }
    // After closing the ticker: every handle of the test must be closed too,
    // otherwise uv_loop_close reports UV_EBUSY.
    int close_loop() {
        uv_close(reinterpret_cast<uv_handle_t*>(&ticker_), nullptr);
        uv_run(&loop_, UV_RUN_DEFAULT);
        closed_ = true;
        return uv_loop_close(&loop_);
    }

private:
    uv_loop_t loop_{};
    uv_timer_t ticker_{};
    bool closed_ = false;
};

}  // namespace parley::store::test
