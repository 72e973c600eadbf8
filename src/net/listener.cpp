#include "net/listener.hpp"

#include "net/net_loop.hpp"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

namespace parley::net {

namespace {

// Conventional backlog (nginx and Redis use 511); the kernel caps it at somaxconn.
constexpr int listen_backlog = 511;

void free_tcp(uv_handle_t* handle) { delete reinterpret_cast<uv_tcp_t*>(handle); }

bool parse_address(const std::string& address, uint16_t port, sockaddr_storage& addr) {
    return uv_ip4_addr(address.c_str(), port, reinterpret_cast<sockaddr_in*>(&addr)) == 0 ||
           uv_ip6_addr(address.c_str(), port, reinterpret_cast<sockaddr_in6*>(&addr)) == 0;
}

// Whether a socket already listens where `addr` would bind: then a bind
// without SO_REUSEPORT fails with EADDRINUSE. The probe is bound as libuv
// binds ours (SO_REUSEADDR, IPv6 dual-stack), so connections left in
// TIME_WAIT do not count and "::" meets IPv4 listeners as ours would.
bool listened_on(const sockaddr_storage& addr) {
    const int fd = ::socket(addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return false;  // the real bind then says what is wrong
    const int on = 1;
    const int off = 0;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
    if (addr.ss_family == AF_INET6) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof off);
    const socklen_t length = addr.ss_family == AF_INET6 ? sizeof(sockaddr_in6) : sizeof(sockaddr_in);
    const bool taken = ::bind(fd, reinterpret_cast<const sockaddr*>(&addr), length) != 0 && errno == EADDRINUSE;
    ::close(fd);
    return taken;
}

}  // namespace

Listener::Listener(NetLoop& net, uv_tcp_t* tcp, AcceptCallback on_accept)
    : net_(net), tcp_(tcp), on_accept_(std::move(on_accept)) {
    tcp_->data = this;
}

Listener::~Listener() { close(); }

std::unique_ptr<Listener> Listener::open(NetLoop& net, const std::string& address, uint16_t port,
                                         AcceptCallback on_accept, std::string& error) {
    sockaddr_storage addr{};
    if (!parse_address(address, port, addr)) {
        error = "not an IP address: " + address;
        return nullptr;
    }
    const std::string where = address + " port " + std::to_string(port);
    // init_ex creates the socket now, so SO_REUSEPORT can be set before bind
    // (libuv 1.44 has no flag for it; libuv sets SO_REUSEADDR itself).
    auto* tcp = new uv_tcp_t;
    int rc = uv_tcp_init_ex(net.loop(), tcp, addr.ss_family);
    if (rc != 0) {
        delete tcp;
        error = where + ": " + uv_strerror(rc);
        return nullptr;
    }
    tcp->data = nullptr;
    auto fail = [&](const char* step, int code) -> std::unique_ptr<Listener> {
        error = where + ": " + step + ": " + uv_strerror(code);
        uv_close(reinterpret_cast<uv_handle_t*>(tcp), free_tcp);
        return nullptr;
    };
    uv_os_fd_t fd = -1;
    if ((rc = uv_fileno(reinterpret_cast<uv_handle_t*>(tcp), &fd)) != 0) return fail("fileno", rc);
    const int on = 1;
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof on) != 0) return fail("SO_REUSEPORT", uv_translate_sys_error(errno));
    if ((rc = uv_tcp_bind(tcp, reinterpret_cast<sockaddr*>(&addr), 0)) != 0) return fail("bind", rc);
    if ((rc = uv_listen(reinterpret_cast<uv_stream_t*>(tcp), listen_backlog, on_connection)) != 0)
        return fail("listen", rc);

    std::unique_ptr<Listener> listener(new Listener(net, tcp, std::move(on_accept)));
    listener->address_ = address;
    sockaddr_storage bound{};
    int len = sizeof bound;
    if (uv_tcp_getsockname(tcp, reinterpret_cast<sockaddr*>(&bound), &len) == 0) {
        listener->port_ = ntohs(bound.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port
                                                            : reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
    }
    return listener;
}

bool Listener::open_all(NetLoop& net, const std::vector<std::string>& addresses, uint16_t port,
                        const AcceptCallback& on_accept, std::vector<std::unique_ptr<Listener>>& opened,
                        std::string& error) {
    // Every address is checked before the first is bound: once one of ours
    // listens, "::" would meet it.
    for (const std::string& address : addresses) {
        sockaddr_storage addr{};
        if (port != 0 && parse_address(address, port, addr) && listened_on(addr)) {
            error = address + " port " + std::to_string(port) + ": already in use by another program";
            return false;
        }
    }
    std::vector<std::unique_ptr<Listener>> bound;
    for (const std::string& address : addresses) {
        auto listener = open(net, address, port, on_accept, error);
        if (!listener) return false;  // those bound so far close as `bound` goes
        bound.push_back(std::move(listener));
    }
    for (auto& listener : bound) opened.push_back(std::move(listener));
    return true;
}

void Listener::close() {
    if (tcp_ == nullptr) return;
    tcp_->data = nullptr;
    uv_close(reinterpret_cast<uv_handle_t*>(tcp_), free_tcp);
    tcp_ = nullptr;
}

void Listener::on_connection(uv_stream_t* server, int status) {
    auto* self = static_cast<Listener*>(server->data);
    // A failed accept (EMFILE, ECONNABORTED) concerns one client only; keep listening.
    if (self == nullptr || status < 0) return;
    auto* tcp = new uv_tcp_t;
    uv_tcp_init(self->net_.loop(), tcp);
    tcp->data = nullptr;
    if (uv_accept(server, reinterpret_cast<uv_stream_t*>(tcp)) != 0) {
        uv_close(reinterpret_cast<uv_handle_t*>(tcp), free_tcp);
        return;
    }
    self->on_accept_(std::unique_ptr<Connection>(new Connection(self->net_, tcp)));
}

}  // namespace parley::net
