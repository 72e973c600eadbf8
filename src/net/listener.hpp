#pragma once
// A listening TCP socket that hands accepted connections to a callback.

#include "net/connection.hpp"

#include <uv.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace parley::net {

class NetLoop;

class Listener {
public:
    using AcceptCallback = std::function<void(std::unique_ptr<Connection>)>;

    // Binds `address` (IPv4 or IPv6 literal; "::" is dual-stack) and `port`
    // (0 picks a free port) with SO_REUSEADDR and SO_REUSEPORT (so several
    // workers can share a port later), backlog 511. Returns nullptr and fills
    // `error` on failure. Accepted connections are not started yet.
    static std::unique_ptr<Listener> open(NetLoop& net, const std::string& address, uint16_t port,
                                          AcceptCallback on_accept, std::string& error);
    // Opens `port` on each of `addresses` and appends the listeners to
    // `opened`; on failure appends none and fills `error`. Servers open their
    // ports with this. SO_REUSEPORT would let a second parleyd (its sockets
    // have it too) join a port this one serves, and the kernel would split
    // the clients between two servers that know nothing of each other; so a
    // port that another program listens on is refused, like a plain bind
    // would refuse it.
    static bool open_all(NetLoop& net, const std::vector<std::string>& addresses, uint16_t port,
                         const AcceptCallback& on_accept, std::vector<std::unique_ptr<Listener>>& opened,
                         std::string& error);
    ~Listener();  // same as close()
    Listener(const Listener&) = delete;
    Listener& operator=(const Listener&) = delete;

    uint16_t port() const { return port_; }  // the bound port
    const std::string& address() const { return address_; }  // as given to open()
    // Stops accepting; the handle is freed by its close callback.
    void close();

private:
    Listener(NetLoop& net, uv_tcp_t* tcp, AcceptCallback on_accept);
    static void on_connection(uv_stream_t* server, int status);

    NetLoop& net_;
    uv_tcp_t* tcp_;
    AcceptCallback on_accept_;
    uint16_t port_ = 0;
    std::string address_;
};

}  // namespace parley::net
