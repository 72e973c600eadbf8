#pragma once
// Asynchronous PostgreSQL client driven by a libuv loop: the server never
// blocks its loop on the database.
//
// - Connects with PQconnectStart/PQconnectPoll, watched by a uv_poll_t.
// - Every request is one pipeline entry (libpq pipeline mode, PostgreSQL 14+)
//   ended by its own PQpipelineSync, so an SQL error aborts only that request
//   and results are matched to requests first-in first-out.
// - Sends are non-blocking (PQsetnonblocking); unsent output is flushed when
//   the socket becomes writable.
// - Named statements are prepared lazily, once per connection.
// - When the connection drops, every pending request completes with
//   ok=false, temporary=true; requests made while disconnected fail on the
//   next loop turn (temporary=true); the client reconnects by itself with
//   exponential backoff (100 ms doubling to 5 s).
//
// Callbacks run on the loop thread, never while the client is inside libpq
// and never from inside execute()/query(). A callback may call execute(),
// query() or close(). Do not destroy the client from a request callback:
// call close() and destroy it in (or after) the `closed` callback.
// Exceptions escaping a callback are caught and reported through the log hook.

#include "store/pg_result.hpp"

#include <uv.h>

#include <cstdint>
#include <deque>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

struct pg_conn;  // libpq's PGconn

namespace parley::store {

class PgClient {
public:
    using Done = std::function<void(PgResult&&)>;
    // Called after each successful connection (connected=true) and after each
    // failed attempt or lost connection (connected=false, detail = reason).
    using StateHook = std::function<void(bool connected, std::string_view detail)>;
    using LogHook = std::function<void(std::string_view)>;
    // A NOTIFY on a channel this connection LISTENs to (LISTEN again after
    // each reconnect, from the state hook).
    using NotifyHook = std::function<void(std::string_view channel, std::string_view payload)>;

    static constexpr std::uint64_t kInitialBackoffMs = 100;
    static constexpr std::uint64_t kMaxBackoffMs = 5000;

    PgClient(uv_loop_t* loop, std::string conninfo);
    // Closes the handles without running pending callbacks. Safe after close().
    ~PgClient();
    PgClient(const PgClient&) = delete;
    PgClient& operator=(const PgClient&) = delete;

    void set_state_hook(StateHook hook) { state_hook_ = std::move(hook); }
    void set_log_hook(LogHook hook) { log_hook_ = std::move(hook); }
    void set_notify_hook(NotifyHook hook) { notify_hook_ = std::move(hook); }

    // Starts connecting (non-blocking). PQconnectStart resolves a host *name*
    // with a blocking getaddrinfo(): use a Unix socket path (embedded mode)
    // or hostaddr= in production DSNs. Requests before the connection is up
    // fail with temporary=true; wait for the state hook if that matters.
    void start();

    // Runs a named statement (prepared on first use on each connection).
    void execute(const PgStatement& statement, PgParams params, Done done);
    // Runs one unprepared statement with parameters.
    void query(std::string sql, PgParams params, Done done);

    // Runs named statements as one transaction: they share a pipeline sync,
    // so PostgreSQL runs them in one implicit transaction and a failure
    // rolls back those before it and skips those after. `done` gets the
    // failing statement's result, or on success that of commands[keep].
    struct Command {
        const PgStatement* statement;
        PgParams params;
    };
    void transaction(std::vector<Command> commands, Done done, std::size_t keep = 0);

    bool connected() const { return state_ == State::connected; }
    // Requests sent and still waiting for their result.
    std::size_t pending() const { return pending_.size(); }
    // Requests held back until libpq has sent what it already has.
    std::size_t waiting() const { return waiting_.size(); }

    // Stops the client: pending requests complete at once (synchronously,
    // ok=false, temporary=true), the connection is closed, and `closed` runs
    // once every libuv handle is closed. Later requests complete synchronously
    // with temporary=true. Only the first call has an effect.
    void close(std::function<void()> closed);

private:
    enum class State { idle, connecting, connected, backoff, closed };

    struct Completion {
        Done done;
        PgResult result;
    };
    struct Pending {
        Done done;
        PgResult result;
        // By command index: the statement a PREPARE command creates, or ""
        // for the statements themselves.
        std::vector<std::string> prepares;
        std::size_t command_index = 0;  // commands of this request already finished
        std::size_t kept_index = 0;     // the command whose result `done` gets
        bool failed = false;
    };
    // Callbacks gathered while inside libpq, run once we are out of it.
    struct Batch {
        std::vector<Completion> completions;
        std::vector<std::pair<std::string, std::string>> notifications;  // channel, payload
        bool state_changed = false;
        bool now_connected = false;
        std::string detail;
    };

    // A request not handed to libpq yet.
    struct Request {
        std::vector<Command> commands;
        std::optional<std::string> sql;  // for query(): the statement text
        Done done;
        std::size_t keep = 0;
    };
    void submit(Request request);
    // Hands a request to libpq and flushes.
    void send_request(Request& request, Batch& batch);
    // Hands over waiting requests while libpq's output buffer is empty.
    void send_waiting(Batch& batch);
    // Completes pending and waiting requests with a temporary failure.
    void fail_all(const std::string& reason, Batch& batch);
    // Queues one statement (and its PREPARE on first use); false if libpq refused.
    bool send_command(Pending& pending, const PgStatement* statement, const std::string* sql, const PgParams& params);
    void begin_connect();
    void advance_connect(Batch& batch);
    void on_connected(Batch& batch);
    void connect_failed(std::string reason, Batch& batch);
    void lose_connection(std::string reason, Batch& batch);
    void schedule_reconnect();
    void teardown_connection(void* close_barrier);
    bool watch_socket(int events);
    void flush_output(Batch& batch);
    void collect_results(Batch& batch);
    void collect_notifications(Batch& batch);
    void on_poll(int status, int events);
    void on_idle();
    void dispatch(Batch& batch);
    void defer(Batch&& batch);
    void log(std::string_view message);

    uv_loop_t* loop_;
    std::string conninfo_;
    State state_ = State::idle;
    pg_conn* conn_ = nullptr;
    uv_poll_t* poll_ = nullptr;  // one per socket; recreated when the fd changes
    int poll_fd_ = -1;
    int poll_events_ = 0;
    uv_timer_t* reconnect_timer_ = nullptr;
    uv_idle_t* defer_idle_ = nullptr;  // runs deferred callbacks on the next loop turn
    std::uint64_t backoff_ms_ = kInitialBackoffMs;
    bool want_write_ = false;
    std::deque<Pending> pending_;
    // While libpq holds unsent output, new requests wait here: appending to
    // its buffer then moves the unsent part each time, which costs time
    // quadratic in the backlog when PostgreSQL falls behind.
    std::deque<Request> waiting_;
    Batch deferred_;
    std::unordered_set<std::string> prepared_;
    StateHook state_hook_;
    LogHook log_hook_;
    NotifyHook notify_hook_;
    bool* destroyed_flag_ = nullptr;  // lets dispatch() notice its own destruction
};

}  // namespace parley::store
