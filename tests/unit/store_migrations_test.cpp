// Schema migrations against a real PostgreSQL cluster.
#include "store/migrations.hpp"
#include "store_test_support.hpp"

#include <doctest/doctest.h>

#include <fstream>
#include <string>
#include <thread>
#include <vector>

using namespace parley::store;
using parley::store::test::shared_cluster;

namespace {

namespace fs = std::filesystem;

// A directory of migration files under the cluster's temporary root.
fs::path schema_dir(const std::string& name, const std::vector<std::pair<std::string, std::string>>& files) {
    fs::path dir = shared_cluster().root() / ("schema-" + name);
    fs::remove_all(dir);
    fs::create_directories(dir);
    for (const auto& [file, sql] : files) std::ofstream(dir / file) << sql;
    return dir;
}

std::vector<std::string> recorded(PgSync& db) {
    std::vector<std::string> out;
    PgResult r = db.exec("SELECT version, name FROM schema_migrations ORDER BY version");
    REQUIRE(r.ok);
    for (const auto& row : r.rows) out.push_back(*row[0] + ":" + *row[1]);
    return out;
}

}  // namespace

TEST_CASE("migrations apply in numeric order, are recorded, and a second run applies nothing") {
    PgSync db(shared_cluster().fresh_database("mig_order"));
    REQUIRE(db.connected());
    CHECK(current_schema_version(db) == 0);

    // Each file depends on the previous one, so any other order fails.
    const fs::path dir = schema_dir("order", {
        {"0010_fill.sql", "INSERT INTO a (x, y) VALUES (1, 2);"},
        {"0001_create.sql", "CREATE TABLE a (x int);"},
        {"0002_alter.sql", "ALTER TABLE a ADD COLUMN y int;\nCREATE INDEX a_y ON a (y);"},
        {"README.txt", "not a migration"},
    });
    std::vector<std::string> log;
    std::string error;
    REQUIRE_MESSAGE(apply_migrations(db, dir, error, [&](std::string_view l) { log.emplace_back(l); }), error);
    CHECK(log == std::vector<std::string>{"applied migration 0001_create.sql", "applied migration 0002_alter.sql",
                                          "applied migration 0010_fill.sql"});
    CHECK(recorded(db) ==
          std::vector<std::string>{"1:0001_create.sql", "2:0002_alter.sql", "10:0010_fill.sql"});
    CHECK(current_schema_version(db) == 10);

    log.clear();
    REQUIRE_MESSAGE(apply_migrations(db, dir, error, [&](std::string_view l) { log.emplace_back(l); }), error);
    CHECK(log.empty());
    CHECK(db.exec("SELECT count(*) FROM a").at(0, 0) == "1");  // 0010 did not run twice
    CHECK(recorded(db).size() == 3);
}

TEST_CASE("a broken migration rolls back and names its file") {
    PgSync db(shared_cluster().fresh_database("mig_broken"));
    REQUIRE(db.connected());
    const fs::path dir = schema_dir("broken", {
        {"0001_good.sql", "CREATE TABLE good (x int);"},
        {"0002_bad.sql", "CREATE TABLE half (x int);\nSELECT no_such_function();"},
        {"0003_later.sql", "CREATE TABLE later (x int);"},
    });
    std::string error;
    CHECK_FALSE(apply_migrations(db, dir, error, {}));
    CHECK(error.find("0002_bad.sql") != std::string::npos);
    CHECK(error.find("no_such_function") != std::string::npos);
    CHECK(current_schema_version(db) == 1);
    // The first statement of the failing file was rolled back with it,
    // and nothing after it ran.
    CHECK(db.exec("SELECT to_regclass('half') IS NULL, to_regclass('later') IS NULL, "
                  "to_regclass('good') IS NULL").rows ==
          std::vector<std::vector<std::optional<std::string>>>{{"t", "t", "f"}});

    std::ofstream(dir / "0002_bad.sql") << "CREATE TABLE half (x int);";
    error.clear();
    REQUIRE_MESSAGE(apply_migrations(db, dir, error, {}), error);
    CHECK(current_schema_version(db) == 3);
}

TEST_CASE("badly named or duplicate migration files are refused before anything runs") {
    PgSync db(shared_cluster().fresh_database("mig_names"));
    REQUIRE(db.connected());
    std::string error;
    CHECK_FALSE(apply_migrations(db, schema_dir("badname", {{"1_short.sql", "SELECT 1;"}}), error, {}));
    CHECK(error.find("1_short.sql") != std::string::npos);
    error.clear();
    CHECK_FALSE(apply_migrations(
        db, schema_dir("dup", {{"0001_a.sql", "SELECT 1;"}, {"0001_b.sql", "SELECT 1;"}}), error, {}));
    CHECK(error.find("share version 0001") != std::string::npos);
    CHECK(current_schema_version(db) == 0);
}

TEST_CASE("concurrent runs apply each migration exactly once") {
    const std::string conninfo = shared_cluster().fresh_database("mig_race");
    std::vector<std::pair<std::string, std::string>> files;
    for (int i = 1; i <= 8; ++i) {
        char name[32];
        std::snprintf(name, sizeof name, "%04d_t%d.sql", i, i);
        // Not idempotent: a second application would fail.
        files.emplace_back(name, "CREATE TABLE t" + std::to_string(i) + " (x int);");
    }
    const fs::path dir = schema_dir("race", files);
    bool ok[2] = {false, false};
    std::string errors[2];
    std::vector<std::thread> runners;
    for (int i = 0; i < 2; ++i) {
        runners.emplace_back([&, i] {
            PgSync db(conninfo);
            ok[i] = apply_migrations(db, dir, errors[i], {});
        });
    }
    for (auto& runner : runners) runner.join();
    CHECK_MESSAGE(ok[0], errors[0]);
    CHECK_MESSAGE(ok[1], errors[1]);
    PgSync db(conninfo);
    CHECK(recorded(db).size() == 8);
}

TEST_CASE("the shipped schema applies and enforces its constraints") {
    PgSync db(shared_cluster().fresh_database("mig_shipped"));
    REQUIRE(db.connected());
    std::string error;
    REQUIRE_MESSAGE(apply_migrations(db, PARLEY_SCHEMA_DIR, error, {}), error);
    CHECK(current_schema_version(db) >= 1);

    REQUIRE(db.exec("INSERT INTO accounts (host, username) VALUES ('example.org', 'juliet')").ok);
    const char* scram = "INSERT INTO account_scram VALUES ($1, $2, $3, 'c2FsdA==', 4096, 'c3Q=', 'c2s=')";
    CHECK(db.exec(scram, {std::string("example.org"), std::string("juliet"), std::string("SHA-256")}).ok);
    CHECK(db.exec(scram, {std::string("example.org"), std::string("juliet"), std::string("MD5")}).sqlstate ==
          "23514");  // check_violation
    CHECK(db.exec(scram, {std::string("example.org"), std::string("romeo"), std::string("SHA-1")}).sqlstate ==
          "23503");  // foreign_key_violation: no such account
    REQUIRE(db.exec("DELETE FROM accounts WHERE username = 'juliet'").ok);
    CHECK(db.exec("SELECT count(*) FROM account_scram").at(0, 0) == "0");  // ON DELETE CASCADE
}
