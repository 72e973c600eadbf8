#include "store/pg_client.hpp"

#include <libpq-fe.h>

#include <algorithm>
#include <exception>
#include <utility>

namespace parley::store {

namespace {

// Counts the handles closed by PgClient::close() and runs the user's
// `closed` callback after the last one. Lives on the heap so that it
// outlives a PgClient destroyed before the close callbacks ran.
struct CloseBarrier {
    int remaining = 0;
    std::function<void()> closed;
};

// libuv handles are freed in their close callback, never before (libuv
// still touches them until then).
template <class Handle>
void close_handle(Handle* handle, void* barrier_ptr) {
    auto* barrier = static_cast<CloseBarrier*>(barrier_ptr);
    if (barrier != nullptr) ++barrier->remaining;
    handle->data = barrier;
    uv_close(reinterpret_cast<uv_handle_t*>(handle), [](uv_handle_t* raw) {
        auto* closing_barrier = static_cast<CloseBarrier*>(raw->data);
        delete reinterpret_cast<Handle*>(raw);
        if (closing_barrier != nullptr && --closing_barrier->remaining == 0) {
            auto closed = std::move(closing_barrier->closed);
            delete closing_barrier;
            if (closed) closed();
        }
    });
}

std::string trimmed(std::string text) {
    while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
    return text;
}

}  // namespace

PgClient::PgClient(uv_loop_t* loop, std::string conninfo)
    : loop_(loop), conninfo_(std::move(conninfo)), reconnect_timer_(new uv_timer_t), defer_idle_(new uv_idle_t) {
    uv_timer_init(loop_, reconnect_timer_);
    reconnect_timer_->data = this;
    uv_idle_init(loop_, defer_idle_);
    defer_idle_->data = this;
}

PgClient::~PgClient() {
    if (destroyed_flag_ != nullptr) *destroyed_flag_ = true;
    if (state_ == State::closed) return;
    teardown_connection(nullptr);
    close_handle(reconnect_timer_, nullptr);
    close_handle(defer_idle_, nullptr);
}

void PgClient::log(std::string_view message) {
    if (log_hook_) log_hook_(message);
}

void PgClient::start() {
    if (state_ != State::idle) return;
    begin_connect();
}

// ---- connecting ---------------------------------------------------------

void PgClient::begin_connect() {
    Batch batch;
    state_ = State::connecting;
    conn_ = PQconnectStart(conninfo_.c_str());
    if (conn_ == nullptr) {
        connect_failed("out of memory", batch);
    } else if (PQstatus(conn_) == CONNECTION_BAD) {
        connect_failed(trimmed(PQerrorMessage(conn_)), batch);
    } else if (!watch_socket(UV_WRITABLE)) {
        // libpq docs: behave as if PQconnectPoll returned PGRES_POLLING_WRITING first.
        connect_failed("cannot watch the database socket", batch);
    }
    defer(std::move(batch));
}

void PgClient::advance_connect(Batch& batch) {
    switch (PQconnectPoll(conn_)) {
    case PGRES_POLLING_READING:
        if (!watch_socket(UV_READABLE)) connect_failed("cannot watch the database socket", batch);
        break;
    case PGRES_POLLING_WRITING:
        if (!watch_socket(UV_WRITABLE)) connect_failed("cannot watch the database socket", batch);
        break;
    case PGRES_POLLING_OK:
        on_connected(batch);
        break;
    default:
        connect_failed(trimmed(PQerrorMessage(conn_)), batch);
        break;
    }
}

void PgClient::on_connected(Batch& batch) {
    if (PQsetnonblocking(conn_, 1) != 0 || PQenterPipelineMode(conn_) != 1) {
        connect_failed("cannot enter non-blocking pipeline mode: " + trimmed(PQerrorMessage(conn_)), batch);
        return;
    }
    if (!watch_socket(UV_READABLE)) {
        connect_failed("cannot watch the database socket", batch);
        return;
    }
    state_ = State::connected;
    backoff_ms_ = kInitialBackoffMs;
    batch.state_changed = true;
    batch.now_connected = true;
    batch.detail.clear();
}

void PgClient::connect_failed(std::string reason, Batch& batch) {
    teardown_connection(nullptr);
    schedule_reconnect();
    backoff_ms_ = std::min(backoff_ms_ * 2, kMaxBackoffMs);
    batch.state_changed = true;
    batch.now_connected = false;
    batch.detail = "cannot connect to the database: " + reason;
}

void PgClient::fail_all(const std::string& reason, Batch& batch) {
    for (auto& pending : pending_) {
        batch.completions.push_back({std::move(pending.done), PgResult::temporary_failure(reason)});
    }
    pending_.clear();
    for (auto& request : waiting_) {
        batch.completions.push_back({std::move(request.done), PgResult::temporary_failure(reason)});
    }
    waiting_.clear();
}

void PgClient::lose_connection(std::string reason, Batch& batch) {
    fail_all("database connection lost: " + reason, batch);
    teardown_connection(nullptr);
    backoff_ms_ = kInitialBackoffMs;
    schedule_reconnect();
    backoff_ms_ = std::min(backoff_ms_ * 2, kMaxBackoffMs);
    batch.state_changed = true;
    batch.now_connected = false;
    batch.detail = "database connection lost: " + reason;
}

void PgClient::schedule_reconnect() {
    state_ = State::backoff;
    uv_timer_start(reconnect_timer_, [](uv_timer_t* timer) {
        auto* self = static_cast<PgClient*>(timer->data);
        if (self->state_ == State::backoff) self->begin_connect();
    }, backoff_ms_, 0);
}

void PgClient::teardown_connection(void* close_barrier) {
    // The poll handle must stop watching the fd before PQfinish closes it.
    if (poll_ != nullptr) close_handle(poll_, close_barrier);
    poll_ = nullptr;
    poll_fd_ = -1;
    poll_events_ = 0;
    if (conn_ != nullptr) PQfinish(conn_);
    conn_ = nullptr;
    prepared_.clear();
    want_write_ = false;
}

bool PgClient::watch_socket(int events) {
    const int fd = PQsocket(conn_);
    if (fd < 0) return false;
    if (poll_ != nullptr && poll_fd_ != fd) {
        // libpq may switch sockets while connecting (several hosts/addresses).
        close_handle(poll_, nullptr);
        poll_ = nullptr;
    }
    if (poll_ == nullptr) {
        poll_ = new uv_poll_t;
        if (uv_poll_init(loop_, poll_, fd) != 0) {
            delete poll_;  // never initialised, so it is not a live handle
            poll_ = nullptr;
            return false;
        }
        poll_->data = this;
        poll_fd_ = fd;
        poll_events_ = 0;
    }
    if (events == poll_events_) return true;
    poll_events_ = events;
    return uv_poll_start(poll_, events, [](uv_poll_t* handle, int status, int ready) {
               static_cast<PgClient*>(handle->data)->on_poll(status, ready);
           }) == 0;
}

// ---- requests -----------------------------------------------------------

void PgClient::execute(const PgStatement& statement, PgParams params, Done done) {
    Request request;
    request.commands.push_back({&statement, std::move(params)});
    request.done = std::move(done);
    submit(std::move(request));
}

void PgClient::query(std::string sql, PgParams params, Done done) {
    Request request;
    request.commands.push_back({nullptr, std::move(params)});
    request.sql = std::move(sql);
    request.done = std::move(done);
    submit(std::move(request));
}

void PgClient::transaction(std::vector<Command> commands, Done done, std::size_t keep) {
    submit(Request{std::move(commands), std::nullopt, std::move(done), keep});
}

bool PgClient::send_command(Pending& pending, const PgStatement* statement, const std::string* sql,
                            const PgParams& params) {
    std::vector<const char*> values;
    values.reserve(params.size());
    for (const auto& param : params) values.push_back(param ? param->c_str() : nullptr);
    const int count = static_cast<int>(values.size());
    if (statement == nullptr) {
        pending.prepares.emplace_back();
        return PQsendQueryParams(conn_, sql->c_str(), count, nullptr, values.data(), nullptr, nullptr, 0) != 0;
    }
    std::string name(statement->name);
    if (!prepared_.contains(name)) {
        // nParams = 0: the server infers parameter types from the SQL.
        if (PQsendPrepare(conn_, name.c_str(), std::string(statement->sql).c_str(), 0, nullptr) == 0) return false;
        prepared_.insert(name);
        pending.prepares.push_back(name);
    }
    pending.prepares.emplace_back();
    return PQsendQueryPrepared(conn_, name.c_str(), count, values.data(), nullptr, nullptr, 0) != 0;
}

void PgClient::submit(Request request) {
    if (state_ == State::closed) {
        request.done(PgResult::temporary_failure("database client closed"));
        return;
    }
    Batch batch;
    if (state_ != State::connected) {
        batch.completions.push_back(
            {std::move(request.done), PgResult::temporary_failure("not connected to the database")});
        defer(std::move(batch));
        return;
    }
    if (want_write_ || !waiting_.empty()) {
        waiting_.push_back(std::move(request));  // in order, behind the others
        return;
    }
    send_request(request, batch);
    defer(std::move(batch));
}

void PgClient::send_request(Request& request, Batch& batch) {
    Pending pending;
    pending.done = std::move(request.done);
    const std::string* sql = request.sql ? &*request.sql : nullptr;
    for (std::size_t i = 0; i < request.commands.size(); ++i) {
        if (!send_command(pending, request.commands[i].statement, sql, request.commands[i].params)) {
            // The request still gets its own sync so the FIFO stays aligned.
            pending.failed = true;
            pending.result.error = trimmed(PQerrorMessage(conn_));
            break;
        }
        if (i == request.keep) pending.kept_index = pending.prepares.size() - 1;  // after its PREPARE, if any
    }
    pending_.push_back(std::move(pending));
    if (PQpipelineSync(conn_) != 1) {
        lose_connection(trimmed(PQerrorMessage(conn_)), batch);
    } else {
        flush_output(batch);
    }
}

void PgClient::send_waiting(Batch& batch) {
    while (!waiting_.empty() && !want_write_ && state_ == State::connected) {
        Request request = std::move(waiting_.front());
        waiting_.pop_front();
        send_request(request, batch);
    }
}

void PgClient::flush_output(Batch& batch) {
    const int status = PQflush(conn_);
    if (status < 0) {
        lose_connection(trimmed(PQerrorMessage(conn_)), batch);
        return;
    }
    want_write_ = status == 1;
    if (!watch_socket(want_write_ ? (UV_READABLE | UV_WRITABLE) : UV_READABLE)) {
        lose_connection("cannot watch the database socket", batch);
    }
}

// Reads every complete result libpq has buffered and matches it to the
// oldest pending request. Per request the stream is, for each command,
// [PREPARE result, NULL,] query result(s), NULL; then PIPELINE_SYNC. After a
// failure the remaining commands of the request answer PIPELINE_ABORTED.
void PgClient::collect_results(Batch& batch) {
    while (!pending_.empty() && conn_ != nullptr && !PQisBusy(conn_)) {
        PGresult* result = PQgetResult(conn_);
        Pending& front = pending_.front();
        if (result == nullptr) {
            ++front.command_index;
            continue;
        }
        const ExecStatusType status = PQresultStatus(result);
        if (status == PGRES_PIPELINE_SYNC) {
            PQclear(result);
            if (!front.failed) front.result.ok = true;
            batch.completions.push_back({std::move(front.done), std::move(front.result)});
            pending_.pop_front();
            continue;
        }
        const bool is_prepare =
            front.command_index < front.prepares.size() && !front.prepares[front.command_index].empty();
        // A PREPARE that failed, or was skipped after an earlier failure in
        // the same transaction, must be sent again on the next use.
        if (is_prepare && status != PGRES_COMMAND_OK) prepared_.erase(front.prepares[front.command_index]);
        if (!front.failed) {
            PgResult converted = convert_pg_result(result);
            if (!converted.ok) {
                front.failed = true;
                front.result = std::move(converted);
            } else if (front.command_index == front.kept_index) {
                front.result = std::move(converted);
            }
        }
        PQclear(result);
        if (PQstatus(conn_) == CONNECTION_BAD) break;
    }
}

void PgClient::collect_notifications(Batch& batch) {
    while (PGnotify* notify = PQnotifies(conn_)) {
        batch.notifications.emplace_back(notify->relname, notify->extra != nullptr ? notify->extra : "");
        PQfreemem(notify);
    }
}

// ---- loop callbacks -----------------------------------------------------

void PgClient::on_poll(int status, int events) {
    Batch batch;
    if (state_ == State::connecting) {
        advance_connect(batch);
    } else if (state_ == State::connected) {
        if (status < 0) {
            lose_connection(std::string("socket error: ") + uv_strerror(status), batch);
        } else {
            if ((events & UV_WRITABLE) != 0) {
                flush_output(batch);
                send_waiting(batch);
            }
            if (state_ == State::connected && (events & UV_READABLE) != 0) {
                if (PQconsumeInput(conn_) == 0) {
                    collect_results(batch);  // results that arrived before the failure
                    lose_connection(trimmed(PQerrorMessage(conn_)), batch);
                } else {
                    collect_results(batch);
                    collect_notifications(batch);
                    if (want_write_) flush_output(batch);
                    send_waiting(batch);
                }
            }
            if (state_ == State::connected && PQstatus(conn_) == CONNECTION_BAD) {
                lose_connection(trimmed(PQerrorMessage(conn_)), batch);
            }
        }
    }
    dispatch(batch);
}

void PgClient::defer(Batch&& batch) {
    if (batch.completions.empty() && batch.notifications.empty() && !batch.state_changed) return;
    for (auto& completion : batch.completions) deferred_.completions.push_back(std::move(completion));
    for (auto& notification : batch.notifications) deferred_.notifications.push_back(std::move(notification));
    if (batch.state_changed) {
        // Only the latest state matters to the hook.
        deferred_.state_changed = true;
        deferred_.now_connected = batch.now_connected;
        deferred_.detail = std::move(batch.detail);
    }
    uv_idle_start(defer_idle_, [](uv_idle_t* idle) { static_cast<PgClient*>(idle->data)->on_idle(); });
}

void PgClient::on_idle() {
    Batch batch = std::move(deferred_);
    deferred_ = Batch{};
    uv_idle_stop(defer_idle_);
    dispatch(batch);
}

void PgClient::dispatch(Batch& batch) {
    bool destroyed = false;
    bool* outer = destroyed_flag_;
    destroyed_flag_ = &destroyed;
    auto guarded = [&](auto&& call) {
        try {
            call();
        } catch (const std::exception& error) {
            if (!destroyed) log(std::string("database callback threw: ") + error.what());
        } catch (...) {
            if (!destroyed) log("database callback threw a non-standard exception");
        }
    };
    if (batch.state_changed) {
        log(batch.detail.empty() ? "connected to the database" : batch.detail);
        if (state_hook_) guarded([&] { state_hook_(batch.now_connected, batch.detail); });
    }
    for (auto& completion : batch.completions) {
        if (destroyed) break;
        if (completion.done) guarded([&] { completion.done(std::move(completion.result)); });
    }
    for (const auto& [channel, payload] : batch.notifications) {
        if (destroyed) break;
        if (notify_hook_) guarded([&] { notify_hook_(channel, payload); });
    }
    if (destroyed) {
        if (outer != nullptr) *outer = true;
        return;
    }
    destroyed_flag_ = outer;
}

// ---- shutdown -----------------------------------------------------------

void PgClient::close(std::function<void()> closed) {
    if (state_ == State::closed) return;
    Batch batch = std::move(deferred_);
    deferred_ = Batch{};
    batch.state_changed = false;
    fail_all("database client closed", batch);
    auto* barrier = new CloseBarrier{0, std::move(closed)};
    teardown_connection(barrier);
    state_ = State::closed;
    close_handle(reconnect_timer_, barrier);
    close_handle(defer_idle_, barrier);
    reconnect_timer_ = nullptr;
    defer_idle_ = nullptr;
    dispatch(batch);
}

}  // namespace parley::store
