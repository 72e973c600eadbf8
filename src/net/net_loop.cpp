#include "net/net_loop.hpp"

#include "net/connection.hpp"

#include <algorithm>

namespace parley::net {

namespace {

template <typename Handle>
void free_on_close(Handle* handle) {
    uv_close(reinterpret_cast<uv_handle_t*>(handle),
             [](uv_handle_t* h) { delete reinterpret_cast<Handle*>(h); });
}

}  // namespace

NetLoop::NetLoop(uv_loop_t* loop)
    : loop_(loop),
      check_(new uv_check_t),
      idle_(new uv_idle_t),
      read_buffer_(new char[read_buffer_size]) {
    uv_check_init(loop_, check_);
    check_->data = this;
    uv_idle_init(loop_, idle_);
    // Neither handle should keep the loop alive on its own.
    uv_unref(reinterpret_cast<uv_handle_t*>(check_));
    uv_unref(reinterpret_cast<uv_handle_t*>(idle_));
}

NetLoop::~NetLoop() {
    free_on_close(check_);
    free_on_close(idle_);
}

void NetLoop::schedule_flush(Connection& connection) {
    if (dirty_.empty()) {
        uv_check_start(check_, on_check);
        // An active idle handle makes the next poll non-blocking, so output
        // written outside an I/O callback (timers, before uv_run) still
        // leaves in this turn's check phase.
        uv_idle_start(idle_, [](uv_idle_t*) {});
    }
    dirty_.push_back(&connection);
}

void NetLoop::cancel_flush(Connection& connection) {
    std::replace(dirty_.begin(), dirty_.end(), &connection, static_cast<Connection*>(nullptr));
    std::replace(flushing_.begin(), flushing_.end(), &connection, static_cast<Connection*>(nullptr));
}

void NetLoop::on_check(uv_check_t* handle) { static_cast<NetLoop*>(handle->data)->flush_all(); }

void NetLoop::flush_all() {
    // A flush may tell a handler that its output drained, and the handler may
    // then write (scheduling a flush for the next turn, into dirty_) or
    // destroy connections (cancel_flush clears them from flushing_ too).
    flushing_.swap(dirty_);
    for (size_t i = 0; i < flushing_.size(); ++i) {
        Connection* connection = flushing_[i];
        if (connection == nullptr) continue;
        connection->flush_scheduled_ = false;
        connection->flush();
    }
    flushing_.clear();
    // One large write (a file chunk, a slow reader's backlog) should not pin
    // its size for the life of the worker.
    if (wire_scratch_.capacity() > kWireScratchKept) std::string().swap(wire_scratch_);
    if (dirty_.empty()) {
        uv_check_stop(check_);
        uv_idle_stop(idle_);
        dirty_.swap(flushing_);  // keep the capacity for next turn
    }
}

}  // namespace parley::net
