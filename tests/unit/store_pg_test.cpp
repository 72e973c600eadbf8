// PgClient and EmbeddedPostgres against a real PostgreSQL cluster.
#include "store/pg_client.hpp"
#include "store_test_support.hpp"

#include <doctest/doctest.h>

#include <optional>
#include <string>
#include <vector>

using namespace parley::store;
namespace fs = std::filesystem;
using parley::store::test::shared_cluster;
using parley::store::test::TestLoop;

namespace {

constexpr PgStatement kEcho{"echo", "SELECT $1::text AS text, $2::int AS number, $3::text IS NULL AS third_is_null"};
constexpr PgStatement kBroken{"broken", "SELEC 1"};
constexpr PgStatement kAdd{"add", "SELECT $1::int + $2::int"};

struct Connected {
    TestLoop loop;
    PgClient client;
    std::vector<bool> states;

    Connected() : client(loop.get(), shared_cluster().pg().conninfo()) {
        client.set_state_hook([this](bool up, std::string_view) { states.push_back(up); });
        client.start();
        REQUIRE(loop.run_until([this] { return client.connected(); }, 10000));
    }
    ~Connected() {
        bool closed = false;
        client.close([&] { closed = true; });
        CHECK(loop.run_until([&] { return closed; }, 2000));
        CHECK(loop.close_loop() == 0);  // every handle was closed
    }
    PgResult run(std::string sql, PgParams params = {}) {
        std::optional<PgResult> out;
        client.query(std::move(sql), std::move(params), [&](PgResult&& r) { out = std::move(r); });
        REQUIRE(loop.run_until([&] { return out.has_value(); }, 10000));
        return std::move(*out);
    }
};

}  // namespace

TEST_CASE("pg client connects and reports it through the state hook") {
    Connected c;
    CHECK(c.states == std::vector<bool>{true});
    PgResult r = c.run("SELECT current_user, current_database()");
    REQUIRE(r.ok);
    CHECK(r.columns == std::vector<std::string>{"current_user", "current_database"});
    REQUIRE(r.size() == 1);
    CHECK(r.at(0, 0) == "parley");
    CHECK(r.at(0, 1) == "parley");
}

TEST_CASE("requests before the connection is up fail as temporary, on a later loop turn") {
    TestLoop loop;
    PgClient client(loop.get(), shared_cluster().pg().conninfo());
    std::optional<PgResult> out;
    client.query("SELECT 1", {}, [&](PgResult&& r) { out = std::move(r); });
    CHECK_FALSE(out.has_value());  // never called from inside query()
    REQUIRE(loop.run_until([&] { return out.has_value(); }, 1000));
    CHECK_FALSE(out->ok);
    CHECK(out->temporary);
    bool closed = false;
    client.close([&] { closed = true; });
    REQUIRE(loop.run_until([&] { return closed; }, 1000));
    CHECK(loop.close_loop() == 0);
}

TEST_CASE("prepared statement with parameters and NULLs") {
    Connected c;
    std::vector<PgResult> results;
    c.client.execute(kEcho, {std::string("héllo"), std::string("42"), std::nullopt},
                     [&](PgResult&& r) { results.push_back(std::move(r)); });
    c.client.execute(kEcho, {std::nullopt, std::nullopt, std::string("x")},
                     [&](PgResult&& r) { results.push_back(std::move(r)); });
    REQUIRE(c.loop.run_until([&] { return results.size() == 2; }, 10000));

    REQUIRE(results[0].ok);
    CHECK(results[0].columns == std::vector<std::string>{"text", "number", "third_is_null"});
    REQUIRE(results[0].size() == 1);
    CHECK(results[0].at(0, 0) == "héllo");
    CHECK(results[0].at(0, 1) == "42");
    CHECK(results[0].at(0, 2) == "t");
    REQUIRE(results[1].ok);
    CHECK(results[1].at(0, 0) == std::nullopt);
    CHECK(results[1].at(0, 1) == std::nullopt);
    CHECK(results[1].at(0, 2) == "f");

    // Affected rows and NULL round trip through a table.
    REQUIRE(c.run("CREATE TEMP TABLE notes (id int PRIMARY KEY, body text)").ok);
    PgResult inserted = c.run("INSERT INTO notes VALUES ($1, $2), ($3, $4)",
                              {std::string("1"), std::nullopt, std::string("2"), std::string("b")});
    REQUIRE(inserted.ok);
    CHECK(inserted.affected_rows == 2);
    PgResult rows = c.run("SELECT id, body FROM notes ORDER BY id");
    REQUIRE(rows.size() == 2);
    CHECK(rows.at(0, 1) == std::nullopt);
    CHECK(rows.at(1, 1) == "b");
    CHECK(rows.affected_rows == 2);
}

TEST_CASE("1000 pipelined queries complete in order") {
    Connected c;
    std::vector<int> order;
    bool all_ok = true;
    for (int i = 0; i < 1000; ++i) {
        auto done = [&, i](PgResult&& r) {
            all_ok = all_ok && r.ok && r.size() == 1 && r.at(0, 0) == std::to_string(i * 2);
            order.push_back(i);
        };
        if (i % 2 == 0) {
            c.client.execute(kAdd, {std::to_string(i), std::to_string(i)}, done);
        } else {
            c.client.query("SELECT $1::int * 2", {std::to_string(i)}, done);
        }
    }
    // All were submitted before any result was read: they are in flight
    // together, or wait for libpq's buffer to drain.
    CHECK(c.client.pending() + c.client.waiting() == 1000);
    REQUIRE(c.loop.run_until([&] { return order.size() == 1000; }, 20000));
    CHECK(all_ok);
    std::vector<int> expected(1000);
    for (int i = 0; i < 1000; ++i) expected[i] = i;
    CHECK(order == expected);
}

TEST_CASE("while PostgreSQL falls behind, requests wait outside libpq and still complete in order") {
    Connected c;
    std::vector<int> order;
    bool all_ok = true;
    // PostgreSQL reads nothing while it sleeps: what follows fills the socket
    // and then libpq's buffer, and later requests wait in the client.
    c.client.query("SELECT pg_sleep(0.5)", {}, [&](PgResult&& r) { all_ok = all_ok && r.ok; });
    const std::string big(64 * 1024, 'x');
    for (int i = 0; i < 300; ++i) {
        c.client.query("SELECT length($1::text) + $2::int", {big, std::to_string(i)}, [&, i](PgResult&& r) {
            all_ok = all_ok && r.ok && r.size() == 1 && r.at(0, 0) == std::to_string(64 * 1024 + i);
            order.push_back(i);
        });
    }
    CHECK(c.client.waiting() > 0);
    CHECK(c.client.pending() + c.client.waiting() == 301);
    REQUIRE(c.loop.run_until([&] { return order.size() == 300; }, 30000));
    CHECK(all_ok);
    CHECK(c.client.waiting() == 0);
    std::vector<int> expected(300);
    for (int i = 0; i < 300; ++i) expected[i] = i;
    CHECK(order == expected);
}

TEST_CASE("close completes waiting requests too") {
    TestLoop loop;
    PgClient client(loop.get(), shared_cluster().pg().conninfo());
    client.start();
    REQUIRE(loop.run_until([&] { return client.connected(); }, 10000));
    client.query("SELECT pg_sleep(30)", {}, [](PgResult&&) {});
    const std::string big(64 * 1024, 'x');
    int temporary = 0;
    for (int i = 0; i < 300; ++i) {
        client.query("SELECT length($1::text)", {big}, [&](PgResult&& r) { temporary += !r.ok && r.temporary; });
    }
    REQUIRE(client.waiting() > 0);
    bool closed = false;
    client.close([&] { closed = true; });
    CHECK(temporary == 300);
    CHECK(client.waiting() == 0);
    REQUIRE(loop.run_until([&] { return closed; }, 2000));
    CHECK(loop.close_loop() == 0);
}

TEST_CASE("an SQL error fails only its own request") {
    Connected c;
    std::vector<PgResult> results;
    auto keep = [&](PgResult&& r) { results.push_back(std::move(r)); };
    c.client.query("SELECT 1", {}, keep);
    c.client.query("SELECT * FROM no_such_table", {}, keep);
    c.client.execute(kBroken, {}, keep);
    c.client.execute(kBroken, {}, keep);
    c.client.query("SELECT 2", {}, keep);
    REQUIRE(c.loop.run_until([&] { return results.size() == 5; }, 10000));

    CHECK(results[0].ok);
    CHECK_FALSE(results[1].ok);
    CHECK_FALSE(results[1].temporary);
    CHECK(results[1].sqlstate == "42P01");  // undefined_table
    CHECK(results[1].error.find("no_such_table") != std::string::npos);
    CHECK(results[2].sqlstate == "42601");  // syntax_error, from the PREPARE
    CHECK_FALSE(results[3].ok);             // pipelined after the failing PREPARE
    REQUIRE(results[4].ok);
    CHECK(results[4].at(0, 0) == "2");

    // A failed PREPARE is retried, not remembered as prepared.
    PgResult again;
    bool done = false;
    c.client.execute(kBroken, {}, [&](PgResult&& r) { again = std::move(r); done = true; });
    REQUIRE(c.loop.run_until([&] { return done; }, 10000));
    CHECK(again.sqlstate == "42601");

    // Constraint violations are SQL errors too; the connection stays usable.
    REQUIRE(c.run("CREATE TEMP TABLE uniq (k int PRIMARY KEY)").ok);
    REQUIRE(c.run("INSERT INTO uniq VALUES (1)").ok);
    PgResult duplicate = c.run("INSERT INTO uniq VALUES (1)");
    CHECK_FALSE(duplicate.ok);
    CHECK_FALSE(duplicate.temporary);
    CHECK(duplicate.sqlstate == "23505");  // unique_violation
    CHECK(c.run("SELECT count(*) FROM uniq").at(0, 0) == "1");
    CHECK(c.client.connected());
}

TEST_CASE("a callback can issue further queries") {
    Connected c;
    std::vector<std::string> seen;
    std::function<void(int)> step = [&](int n) {
        c.client.execute(kAdd, {std::to_string(n), "1"}, [&, n](PgResult&& r) {
            REQUIRE(r.ok);
            seen.push_back(*r.at(0, 0));
            if (n < 4) step(n + 1);
        });
    };
    step(0);
    REQUIRE(c.loop.run_until([&] { return seen.size() == 5; }, 10000));
    CHECK(seen == std::vector<std::string>{"1", "2", "3", "4", "5"});
}

TEST_CASE("a transaction commits all its statements or none") {
    Connected c;
    REQUIRE(c.run("CREATE TABLE tx_test (k int PRIMARY KEY, v text)").ok);
    constexpr PgStatement kInsert{"tx_insert", "INSERT INTO tx_test (k, v) VALUES ($1, $2) RETURNING k"};
    constexpr PgStatement kFail{"tx_fail", "SELECT 1 / $1::int"};
    constexpr PgStatement kCount{"tx_count", "SELECT count(*) FROM tx_test"};
    auto run = [&](std::vector<PgClient::Command> commands, std::size_t keep = 0) {
        std::optional<PgResult> out;
        c.client.transaction(std::move(commands), [&](PgResult&& r) { out = std::move(r); }, keep);
        REQUIRE(c.loop.run_until([&] { return out.has_value(); }, 10000));
        return std::move(*out);
    };
    PgResult both = run({{&kInsert, {"1", "a"}}, {&kInsert, {"2", "b"}}});
    REQUIRE(both.ok);
    CHECK(both.at(0, 0) == "1");  // the first statement's result
    PgResult kept = run({{&kInsert, {"6", "f"}}, {&kCount, {}}}, 1);
    REQUIRE(kept.ok);
    CHECK(kept.at(0, 0) == "3");  // the second's, which sees the first's row

    // The second statement fails: the first is rolled back, the third skipped
    // (its PREPARE too, and the statement still works afterwards).
    constexpr PgStatement kLater{"tx_later", "INSERT INTO tx_test (k, v) VALUES ($1, 'later')"};
    PgResult failed = run({{&kInsert, {"3", "c"}}, {&kFail, {"0"}}, {&kLater, {"4"}}});
    CHECK_FALSE(failed.ok);
    CHECK(failed.sqlstate == "22012");  // division_by_zero
    PgResult count = run({{&kCount, {}}});
    REQUIRE(count.ok);
    CHECK(count.at(0, 0) == "3");
    PgResult later = run({{&kLater, {"5"}}, {&kCount, {}}});
    CHECK(later.ok);
    CHECK(c.run("SELECT v FROM tx_test WHERE k = 5").at(0, 0) == "later");
    REQUIRE(c.run("DROP TABLE tx_test").ok);
}

TEST_CASE("a NOTIFY from another connection reaches the notify hook with its payload") {
    Connected c;
    std::vector<std::pair<std::string, std::string>> seen;
    c.client.set_notify_hook([&](std::string_view channel, std::string_view payload) {
        seen.emplace_back(channel, payload);
    });
    REQUIRE(c.run("LISTEN parley_test").ok);
    PgSync other(shared_cluster().pg().conninfo());
    REQUIRE(other.exec("SELECT pg_notify('parley_test', 'one')", {}).ok);
    REQUIRE(other.exec("SELECT pg_notify('elsewhere', 'ignored')", {}).ok);
    REQUIRE(other.exec("SELECT pg_notify('parley_test', 'two')", {}).ok);
    REQUIRE(c.loop.run_until([&] { return seen.size() == 2; }, 10000));
    CHECK(seen == std::vector<std::pair<std::string, std::string>>{{"parley_test", "one"}, {"parley_test", "two"}});
}

TEST_CASE("close completes pending requests as temporary and closes every handle") {
    TestLoop loop;
    PgClient client(loop.get(), shared_cluster().pg().conninfo());
    client.start();
    REQUIRE(loop.run_until([&] { return client.connected(); }, 10000));
    std::optional<PgResult> slow;
    std::optional<PgResult> after_close;
    client.query("SELECT pg_sleep(30)", {}, [&](PgResult&& r) {
        slow = std::move(r);
        // Allowed from a callback; completes synchronously once closed.
        client.query("SELECT 1", {}, [&](PgResult&& late) { after_close = std::move(late); });
    });
    bool closed = false;
    client.close([&] { closed = true; });
    REQUIRE(slow.has_value());
    CHECK_FALSE(slow->ok);
    CHECK(slow->temporary);
    REQUIRE(after_close.has_value());
    CHECK(after_close->temporary);
    CHECK_FALSE(closed);  // only after the handles' close callbacks
    REQUIRE(loop.run_until([&] { return closed; }, 2000));
    CHECK(loop.close_loop() == 0);
}

TEST_CASE("a reused running cluster is left running") {
    std::string error;
    auto second = EmbeddedPostgres::start(shared_cluster().pg().data_dir(), error, {});
    REQUIRE_MESSAGE(second, error);
    CHECK_FALSE(second->started_by_us());
    CHECK(second->conninfo() == shared_cluster().pg().conninfo());
    second.reset();
    PgSync still_up(shared_cluster().pg().conninfo());
    CHECK(still_up.connected());
}

TEST_CASE("a data directory too deep for sun_path gets a short socket directory under /tmp") {
    std::string deep = (shared_cluster().root() / "deep").string();
    while (deep.size() < 120) deep += "/nested-directory";
    const fs::path data_dir = fs::path(deep) / "postgres";
    fs::create_directories(data_dir.parent_path());
    for (fs::path p = data_dir.parent_path(); p != shared_cluster().root(); p = p.parent_path()) {
        fs::permissions(p, fs::perms::owner_all | fs::perms::others_exec | fs::perms::group_exec);
    }
    std::string error;
    std::vector<std::string> log;
    auto pg = EmbeddedPostgres::start(data_dir, error, [&](std::string_view l) { log.emplace_back(l); },
                                      EmbeddedPostgresOptions{.fsync = false});
    REQUIRE_MESSAGE(pg, error);
    CHECK(pg->started_by_us());
    CHECK(pg->socket_dir().parent_path() == "/tmp");
    CHECK(pg->socket_dir().filename().string().rfind("parley-pg-", 0) == 0);
    CHECK(pg->log_file() == fs::path(deep) / "postgres.log");
    CHECK(fs::exists(data_dir / "PG_VERSION"));
    CHECK(log.size() == 2);  // initialising, starting
    const std::string conninfo = pg->conninfo();
    {
        PgSync db(conninfo);
        REQUIRE_MESSAGE(db.connected(), db.connect_error());
        CHECK(db.exec("SHOW fsync").at(0, 0) == "off");
        CHECK(db.exec("SHOW listen_addresses").at(0, 0) == "");
    }
    const fs::path socket_dir = pg->socket_dir();
    pg.reset();  // the destructor stops the cluster it started
    CHECK_FALSE(PgSync(conninfo).connected());
    CHECK_FALSE(fs::exists(socket_dir));
}

// Kept last: it crashes and restarts the shared cluster.
TEST_CASE("database crash: pending fail as temporary, new fail fast, client reconnects by itself") {
    Connected c;
    // Prepare a statement on this connection, to check it is re-prepared later.
    std::optional<PgResult> first;
    c.client.execute(kAdd, {"1", "1"}, [&](PgResult&& r) { first = std::move(r); });
    REQUIRE(c.loop.run_until([&] { return first.has_value(); }, 10000));
    REQUIRE(first->ok);

    std::vector<PgResult> slow;
    for (int i = 0; i < 3; ++i) {
        c.client.query("SELECT pg_sleep(30)", {}, [&](PgResult&& r) { slow.push_back(std::move(r)); });
    }
    c.loop.run_until([] { return false; }, 200);  // let the queries reach the server
    REQUIRE(slow.empty());
    shared_cluster().crash();

    REQUIRE(c.loop.run_until([&] { return slow.size() == 3; }, 5000));
    for (const auto& r : slow) {
        CHECK_FALSE(r.ok);
        CHECK(r.temporary);
    }
    CHECK_FALSE(c.client.connected());
    CHECK(c.states.back() == false);

    // While the server is down: immediate failure, no waiting on a timeout.
    std::optional<PgResult> fast;
    uv_update_time(c.loop.get());
    const std::uint64_t before = uv_now(c.loop.get());
    c.client.query("SELECT 1", {}, [&](PgResult&& r) { fast = std::move(r); });
    REQUIRE(c.loop.run_until([&] { return fast.has_value(); }, 1000));
    CHECK(uv_now(c.loop.get()) - before < 100);
    CHECK_FALSE(fast->ok);
    CHECK(fast->temporary);

    // Reconnect attempts back off exponentially (100, 200, 400 ms...): in
    // about one second that is the loss plus 3 failed attempts (+100, +300,
    // +700 ms; the next is at +1500), where a fixed 100 ms retry makes more.
    const std::size_t states_before_wait = c.states.size();
    c.loop.run_until([] { return false; }, 1000);
    const std::size_t failures = c.states.size() - states_before_wait + 1;  // + the loss itself
    CHECK(failures >= 3);
    CHECK(failures <= 4);

    shared_cluster().start();
    REQUIRE(c.loop.run_until([&] { return c.client.connected(); }, 15000));
    CHECK(c.states.back() == true);
    std::optional<PgResult> again;
    c.client.execute(kAdd, {"20", "22"}, [&](PgResult&& r) { again = std::move(r); });
    REQUIRE(c.loop.run_until([&] { return again.has_value(); }, 10000));
    REQUIRE(again->ok);
    CHECK(again->at(0, 0) == "42");
}
