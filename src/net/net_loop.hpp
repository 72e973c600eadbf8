#pragma once
// Per-loop state shared by every connection of one worker: the single read
// buffer and the once-per-loop-turn output flush.

#include <uv.h>

#include <memory>
#include <string>
#include <vector>

namespace parley::net {

class Connection;

// Owned by the worker, one per uv loop; must outlive every Connection and
// Listener created on it. Its handles are closed in the destructor and freed
// by their close callbacks, so run the loop once more before uv_loop_close.
//
// Output batching: Connection::write() only appends to a buffer and marks the
// connection dirty here. A uv_check handle (runs right after I/O callbacks)
// flushes every dirty connection with one write, so all stanzas produced
// during a loop turn leave in one system call. While anything is dirty a
// uv_idle handle keeps the loop from blocking in poll before that flush.
class NetLoop {
public:
    static constexpr size_t read_buffer_size = 64 * 1024;
    static constexpr size_t kWireScratchKept = 1024 * 1024;

    explicit NetLoop(uv_loop_t* loop);
    ~NetLoop();
    NetLoop(const NetLoop&) = delete;
    NetLoop& operator=(const NetLoop&) = delete;

    uv_loop_t* loop() const { return loop_; }

    // For Connection: queue a flush this loop turn / forget a pending one.
    void schedule_flush(Connection& connection);
    void cancel_flush(Connection& connection);

    // For Connection: libuv reads land here, consumed before the next read.
    char* read_buffer() { return read_buffer_.get(); }
    // For Connection: TLS plaintext scratch, reused by all connections.
    std::string& plaintext_scratch() { return plaintext_scratch_; }
    // For Connection::flush: the bytes of one write, reused by all connections
    // so that a connection keeps no output buffer between loop turns.
    std::string& wire_scratch() { return wire_scratch_; }

private:
    static void on_check(uv_check_t* handle);
    void flush_all();

    uv_loop_t* loop_;
    uv_check_t* check_;
    uv_idle_t* idle_;
    std::vector<Connection*> dirty_;
    std::vector<Connection*> flushing_;  // the batch flush_all is working through
    std::unique_ptr<char[]> read_buffer_;
    std::string plaintext_scratch_;
    std::string wire_scratch_;
};

}  // namespace parley::net
