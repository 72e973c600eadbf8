// Connection and Listener over real loopback sockets on a private libuv loop.

#include "net/connection.hpp"
#include "net/listener.hpp"
#include "net/net_loop.hpp"
#include "net/tls_context.hpp"
#include "net_test_support.hpp"

#include <doctest/doctest.h>
#include <netinet/in.h>
#include <openssl/x509.h>
#include <sys/socket.h>
#include <unistd.h>

#include <functional>
#include <memory>
#include <string>

using namespace parley::net;
using parley::net::test::TestPki;

namespace {

// Records everything a connection reports; hooks let each test script a role.
struct Peer final : ConnectionHandler {
    std::unique_ptr<Connection> conn;
    std::string received;
    int data_calls = 0;
    bool tls_up = false;
    bool closed = false;
    std::string close_reason;
    int drained = 0;
    std::function<void(Peer&, std::string_view)> data_hook;
    std::function<void(Peer&)> tls_hook;
    std::function<void(Peer&)> drained_hook;

    void on_data(std::string_view data) override {
        ++data_calls;
        received.append(data);
        if (data_hook) data_hook(*this, data);
    }
    void on_tls_established() override {
        tls_up = true;
        if (tls_hook) tls_hook(*this);
    }
    void on_output_drained() override {
        ++drained;
        if (drained_hook) drained_hook(*this);
    }
    void on_closed(std::string_view reason) override {
        closed = true;
        close_reason = reason;
        conn.reset();  // destroying from inside the callback is allowed
    }
};

void echo(Peer& peer, std::string_view data) { peer.conn->write(data); }

// A listening socket as most programs open one: no SO_REUSEPORT.
int plain_loopback_listener(uint16_t& port) {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof address;
    if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&address), length) != 0 || ::listen(fd, 1) != 0 ||
        getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
        if (fd >= 0) ::close(fd);
        return -1;
    }
    port = ntohs(address.sin_port);
    return fd;
}

struct LoopFixture {
    uv_loop_t loop{};
    std::unique_ptr<NetLoop> net;
    uv_timer_t* tick = new uv_timer_t;

    LoopFixture() {
        REQUIRE(uv_loop_init(&loop) == 0);
        net = std::make_unique<NetLoop>(&loop);
        // A ticking timer so UV_RUN_ONCE returns regularly while we wait.
        uv_timer_init(&loop, tick);
        uv_timer_start(tick, [](uv_timer_t*) {}, 10, 10);
    }
    ~LoopFixture() {
        uv_close(reinterpret_cast<uv_handle_t*>(tick), [](uv_handle_t* h) { delete reinterpret_cast<uv_timer_t*>(h); });
        net.reset();
        uv_run(&loop, UV_RUN_DEFAULT);
        CHECK(uv_loop_close(&loop) == 0);  // every handle was closed and freed
    }

    bool run_until(const std::function<bool()>& done, uint64_t timeout_ms = 10000) {
        uv_update_time(&loop);
        const uint64_t deadline = uv_now(&loop) + timeout_ms;
        while (!done()) {
            if (uv_now(&loop) > deadline) return false;
            uv_run(&loop, UV_RUN_ONCE);
        }
        return true;
    }
    void run_for(uint64_t ms) {
        uv_update_time(&loop);
        const uint64_t until = uv_now(&loop) + ms;
        run_until([&] { return uv_now(&loop) >= until; });
    }

    std::unique_ptr<Listener> listen(Peer& server, std::function<void(Connection&)> before_start = {},
                                     const std::string& address = "127.0.0.1") {
        std::string error;
        auto listener = Listener::open(
            *net, address, 0,
            [&server, before_start](std::unique_ptr<Connection> c) {
                server.conn = std::move(c);
                if (before_start) before_start(*server.conn);
                server.conn->start(server);
            },
            error);
        REQUIRE_MESSAGE(listener, error);
        CHECK(listener->port() != 0);
        return listener;
    }

    void connect(Peer& client, uint16_t port, std::function<void(Connection&)> before_start = {},
                 const std::string& address = "127.0.0.1") {
        std::string connect_error = "pending";
        Connection::connect(*net, address, port, [&](std::unique_ptr<Connection> c, std::string error) {
            connect_error = error;
            client.conn = std::move(c);
            if (!client.conn) return;
            if (before_start) before_start(*client.conn);
            client.conn->start(client);
        });
        REQUIRE(run_until([&] { return connect_error != "pending"; }));
        REQUIRE_MESSAGE(client.conn, connect_error);
    }
};

struct TlsFixture : LoopFixture {
    TestPki pki;
    TlsContextSet servers;
    SslCtxPtr client_ctx;

    TlsFixture() {
        auto files = pki.issue({"localhost"});
        std::string error;
        REQUIRE_MESSAGE(servers.add_host("localhost", files.cert, files.key, error), error);
        client_ctx = make_client_context(pki.ca.cert_file, true, error);
        REQUIRE_MESSAGE(client_ctx, error);
    }

    // A connected pair over loopback, with TLS on both sides or on neither.
    std::unique_ptr<Listener> open_pair(Peer& server, Peer& client, bool use_tls) {
        auto listener = listen(server, [&, use_tls](Connection& c) {
            if (use_tls) c.start_tls(servers.default_context());
        });
        connect(client, listener->port(), [&, use_tls](Connection& c) {
            if (use_tls) c.start_tls_client(client_ctx.get(), "localhost");
        });
        return listener;
    }
};

std::string pattern(size_t size) {
    std::string s(size, '\0');
    for (size_t i = 0; i < size; ++i) s[i] = static_cast<char>('a' + (i * 7 + i / 4096) % 26);
    return s;
}

}  // namespace

TEST_CASE_FIXTURE(LoopFixture, "plain echo over loopback") {
    Peer server;
    server.data_hook = echo;
    auto listener = listen(server);
    Peer client;
    connect(client, listener->port());
    client.conn->write("hello ");
    client.conn->write("world");
    CHECK(client.conn->pending_output_bytes() == 11);  // queued until the loop turn ends
    REQUIRE(run_until([&] { return client.received.size() == 11; }));
    CHECK(client.received == "hello world");
    CHECK_FALSE(client.conn->is_tls());
    CHECK(client.conn->tls() == nullptr);
    CHECK(client.conn->pending_output_bytes() == 0);
    CHECK(client.conn->remote_address() == "127.0.0.1:" + std::to_string(listener->port()));
    CHECK(server.conn->remote_address().rfind("127.0.0.1:", 0) == 0);
}

TEST_CASE_FIXTURE(LoopFixture, "IPv6 loopback, when the host has it") {
    Peer server;
    server.data_hook = echo;
    std::string error;
    auto listener = Listener::open(
        *net, "::1", 0,
        [&](std::unique_ptr<Connection> c) {
            server.conn = std::move(c);
            server.conn->start(server);
        },
        error);
    if (!listener) {
        MESSAGE("skipped: " << error);
        return;
    }
    Peer client;
    connect(client, listener->port(), {}, "::1");
    client.conn->write("six");
    REQUIRE(run_until([&] { return client.received == "six"; }));
    CHECK(client.conn->remote_address() == "[::1]:" + std::to_string(listener->port()));
}

TEST_CASE_FIXTURE(LoopFixture, "bad addresses and refused connections are reported") {
    std::string error;
    CHECK_FALSE(Listener::open(*net, "localhost", 0, [](std::unique_ptr<Connection>) {}, error));
    CHECK(error == "not an IP address: localhost");

    Peer server;
    auto first = listen(server);
    CHECK_FALSE(Listener::open(*net, "192.0.2.1", first->port(), [](std::unique_ptr<Connection>) {}, error));
    CHECK(error.find("bind") != std::string::npos);

    const uint16_t port = first->port();
    first->close();
    run_for(20);
    std::string connect_error = "pending";
    Connection::connect(*net, "127.0.0.1", port, [&](std::unique_ptr<Connection> c, std::string e) {
        CHECK(c == nullptr);
        connect_error = e;
    });
    REQUIRE(run_until([&] { return connect_error != "pending"; }));
    CHECK(connect_error == "connect: connection refused");
}

TEST_CASE_FIXTURE(LoopFixture, "SO_REUSEPORT lets two listeners share a port") {
    Peer a;
    auto first = listen(a);
    std::string error;
    auto second = Listener::open(*net, "127.0.0.1", first->port(), [](std::unique_ptr<Connection>) {}, error);
    CHECK_MESSAGE(second, error);
}

TEST_CASE_FIXTURE(LoopFixture, "open_all refuses a port another program listens on, SO_REUSEPORT or not") {
    const auto ignore = [](std::unique_ptr<Connection>) {};
    std::string error;
    std::vector<std::unique_ptr<Listener>> opened;

    // What a second parleyd meets: the first one's listener, with SO_REUSEPORT.
    auto other_parleyd = Listener::open(*net, "127.0.0.1", 0, ignore, error);
    REQUIRE_MESSAGE(other_parleyd, error);
    const uint16_t port = other_parleyd->port();
    CHECK_FALSE(Listener::open_all(*net, {"127.0.0.1"}, port, ignore, opened, error));
    CHECK(error == "127.0.0.1 port " + std::to_string(port) + ": already in use by another program");
    CHECK(opened.empty());

    // A program without SO_REUSEPORT gets the same message.
    uint16_t plain_port = 0;
    const int plain = plain_loopback_listener(plain_port);
    REQUIRE(plain >= 0);
    CHECK_FALSE(Listener::open_all(*net, {"127.0.0.1"}, plain_port, ignore, opened, error));
    CHECK(error == "127.0.0.1 port " + std::to_string(plain_port) + ": already in use by another program");
    CHECK(opened.empty());
    ::close(plain);
}

TEST_CASE_FIXTURE(LoopFixture, "open_all binds IPv4 and dual-stack IPv6 on one port, and connections arrive") {
    const auto ignore = [](std::unique_ptr<Connection>) {};
    std::string error;
    // A port that was free a moment ago.
    auto probe = Listener::open(*net, "0.0.0.0", 0, ignore, error);
    REQUIRE_MESSAGE(probe, error);
    const uint16_t port = probe->port();
    probe->close();
    run_for(20);

    std::vector<std::string> addresses = {"0.0.0.0", "::"};
    auto v6 = Listener::open(*net, "::1", 0, ignore, error);
    if (!v6) {
        MESSAGE("no IPv6 here, IPv4 only: " << error);
        addresses.pop_back();
    }
    v6.reset();
    Peer server;
    server.data_hook = echo;
    std::vector<std::unique_ptr<Listener>> opened;
    // "::" is checked before 0.0.0.0 is bound: afterwards it would meet ours.
    REQUIRE_MESSAGE(Listener::open_all(
                        *net, addresses, port,
                        [&](std::unique_ptr<Connection> c) {
                            server.conn = std::move(c);
                            server.conn->start(server);
                        },
                        opened, error),
                    error);
    REQUIRE(opened.size() == addresses.size());
    CHECK(opened.front()->address() == "0.0.0.0");
    Peer client;
    connect(client, port);
    client.conn->write("both");
    REQUIRE(run_until([&] { return client.received == "both"; }));

    // Once they listen, the port is taken for any other open_all.
    std::vector<std::unique_ptr<Listener>> again;
    CHECK_FALSE(Listener::open_all(*net, {"127.0.0.1"}, port, ignore, again, error));
    CHECK(again.empty());
}

TEST_CASE_FIXTURE(TlsFixture, "STARTTLS-style upgrade") {
    Peer server;
    server.data_hook = [&](Peer& self, std::string_view data) {
        if (!self.conn->is_tls() && data == "start") {
            self.conn->write("proceed");
            self.conn->start_tls(servers.default_context());
            self.received.clear();
        } else if (self.conn->is_tls()) {
            self.conn->write(data);
        }
    };
    auto listener = listen(server);
    Peer client;
    client.data_hook = [&](Peer& self, std::string_view data) {
        if (!self.conn->is_tls() && self.received == "proceed") {
            self.received.clear();
            self.conn->start_tls_client(client_ctx.get(), "localhost");
        }
    };
    client.tls_hook = [](Peer& self) { self.conn->write("secret"); };
    connect(client, listener->port());
    client.conn->write("start");
    REQUIRE(run_until([&] { return client.received == "secret"; }));
    CHECK(server.received == "secret");
    CHECK(server.tls_up);
    CHECK(client.tls_up);
    REQUIRE(server.conn->is_tls());
    CHECK(server.conn->tls()->server_name() == "localhost");
    CHECK(server.conn->tls()->protocol_version() == "TLSv1.3");
    CHECK(client.conn->tls()->verify_result() == X509_V_OK);
    CHECK(client.conn->tls()->channel_binding("tls-exporter") ==
          server.conn->tls()->channel_binding("tls-exporter"));
}

TEST_CASE_FIXTURE(TlsFixture, "direct TLS, with data written before the handshake") {
    Peer server;
    server.data_hook = echo;
    auto listener = listen(server, [&](Connection& c) { c.start_tls(servers.default_context()); });
    Peer client;
    connect(client, listener->port(), [&](Connection& c) { c.start_tls_client(client_ctx.get(), "localhost"); });
    client.conn->write("early bird");
    REQUIRE(run_until([&] { return client.received == "early bird"; }));
    CHECK(client.tls_up);
    CHECK(server.tls_up);
}

TEST_CASE_FIXTURE(TlsFixture, "a failed TLS handshake closes with the reason") {
    Peer server;
    auto listener = listen(server, [&](Connection& c) { c.start_tls(servers.default_context()); });
    Peer client;
    // The certificate is for localhost: a verifying client refuses it.
    connect(client, listener->port(), [&](Connection& c) { c.start_tls_client(client_ctx.get(), "other.example"); });
    REQUIRE(run_until([&] { return client.closed && server.closed; }));
    CHECK(client.close_reason.rfind("tls error: handshake:", 0) == 0);
    CHECK(client.close_reason.find("certificate verify failed") != std::string::npos);
    CHECK(server.close_reason.rfind("tls error: handshake:", 0) == 0);  // it got the alert
    CHECK_FALSE(client.tls_up);
    CHECK_FALSE(server.tls_up);
}

TEST_CASE_FIXTURE(TlsFixture, "8 MiB written at once arrive intact") {
    const std::string big = pattern(8 * 1024 * 1024);
    Peer server, client;
    server.data_hook = echo;
    bool use_tls = false;
    SUBCASE("plain") { use_tls = false; }
    SUBCASE("tls") { use_tls = true; }
    auto listener = open_pair(server, client, use_tls);
    client.conn->write(big);
    CHECK(client.conn->pending_output_bytes() >= big.size());
    REQUIRE(run_until([&] { return client.received.size() >= big.size(); }, 60000));
    CHECK(client.received.size() == big.size());
    CHECK(client.received == big);
    CHECK(client.data_calls > 1);
    REQUIRE(run_until([&] { return server.conn->pending_output_bytes() == 0; }));
    CHECK(client.conn->pending_output_bytes() == 0);
    CHECK(client.conn->is_tls() == use_tls);
}

TEST_CASE_FIXTURE(TlsFixture, "close() from inside on_data flushes first") {
    bool use_tls = false;
    SUBCASE("plain") { use_tls = false; }
    SUBCASE("tls") { use_tls = true; }
    Peer server;
    server.data_hook = [](Peer& self, std::string_view data) {
        if (data != "bye") return;
        self.conn->write("ciao");
        self.conn->close();
        self.conn->write("ignored after close");
        CHECK(self.conn->is_open() == false);
    };
    Peer client;
    auto listener = open_pair(server, client, use_tls);
    client.conn->write("bye");
    REQUIRE(run_until([&] { return client.closed && server.closed; }));
    CHECK(client.received == "ciao");
    CHECK(server.close_reason == "closed");
    CHECK(client.close_reason == "closed by peer");
    CHECK(server.conn == nullptr);  // destroyed by its own on_closed
}

TEST_CASE_FIXTURE(LoopFixture, "the owner may destroy the connection inside on_data") {
    Peer server;
    server.data_hook = [](Peer& self, std::string_view) {
        self.conn->write("never sent");
        self.conn.reset();
    };
    auto listener = listen(server);
    Peer client;
    connect(client, listener->port());
    client.conn->write("x");
    REQUIRE(run_until([&] { return client.closed; }));
    CHECK(client.close_reason == "closed by peer");
    CHECK(client.received.empty());
    CHECK_FALSE(server.closed);  // no callback after destruction
}

TEST_CASE_FIXTURE(LoopFixture, "a peer reset is reported as a read error") {
    Peer server;
    server.data_hook = echo;
    auto listener = listen(server);
    Peer client;
    connect(client, listener->port());
    client.conn->write("ping");
    REQUIRE(run_until([&] { return client.received == "ping"; }));
    client.conn->write("dropped");
    client.conn->abort();
    REQUIRE(run_until([&] { return server.closed && client.closed; }));
    CHECK(client.close_reason == "aborted");
    CHECK(server.close_reason == "read error: connection reset by peer");
    CHECK(server.received == "ping");
}

TEST_CASE_FIXTURE(LoopFixture, "pause_reading holds input until resume_reading") {
    Peer server;
    server.data_hook = [](Peer& self, std::string_view data) {
        if (data == "one") {
            self.conn->pause_reading();
            self.conn->write("ack");
        }
    };
    auto listener = listen(server);
    Peer client;
    client.data_hook = [](Peer& self, std::string_view data) {
        if (data == "ack") self.conn->write("two");
    };
    connect(client, listener->port());
    client.conn->write("one");
    REQUIRE(run_until([&] { return client.received == "ack"; }));
    run_for(150);  // "two" is in the server's socket buffer by now
    CHECK(server.received == "one");
    CHECK(server.data_calls == 1);
    server.conn->resume_reading();
    REQUIRE(run_until([&] { return server.received == "onetwo"; }));
    CHECK(server.data_calls == 2);
}

TEST_CASE_FIXTURE(TlsFixture, "on_output_drained follows a write the kernel took at once, and one it took later") {
    bool use_tls = false;
    SUBCASE("plain") { use_tls = false; }
    SUBCASE("tls") { use_tls = true; }
    Peer server, client;
    auto listener = open_pair(server, client, use_tls);
    client.conn->write("small");
    REQUIRE(run_until([&] { return server.received == "small"; }));
    const int after_small = client.drained;
    CHECK(after_small >= 1);
    CHECK(client.conn->pending_output_bytes() == 0);

    // A reader that stops: the kernel takes part of 8 MiB, the rest waits.
    server.conn->pause_reading();
    const std::string big = pattern(8 * 1024 * 1024);
    client.conn->write(big);
    run_for(100);
    CHECK(client.conn->pending_output_bytes() > 0);
    CHECK(client.drained == after_small);
    server.conn->resume_reading();
    REQUIRE(run_until([&] { return client.drained > after_small; }, 60000));
    CHECK(client.conn->pending_output_bytes() == 0);
    REQUIRE(run_until([&] { return server.received.size() == 5 + big.size(); }, 60000));
    CHECK(server.received.compare(5, std::string::npos, big) == 0);
}

TEST_CASE_FIXTURE(TlsFixture, "writes made while earlier bytes wait for the reader keep their order") {
    bool use_tls = false;
    SUBCASE("plain") { use_tls = false; }
    SUBCASE("tls") { use_tls = true; }
    Peer server, client;
    auto listener = open_pair(server, client, use_tls);
    client.conn->write("hello");
    REQUIRE(run_until([&] { return server.received == "hello"; }));
    server.conn->pause_reading();
    const std::string big = pattern(8 * 1024 * 1024);
    client.conn->write(big);
    run_for(50);
    REQUIRE(client.conn->pending_output_bytes() > 0);
    client.conn->write("-tail1");  // a later turn, behind the queued remainder
    run_for(50);
    client.conn->write("-tail2");
    server.conn->resume_reading();
    const std::string expected = "hello" + big + "-tail1-tail2";
    REQUIRE(run_until([&] { return server.received.size() >= expected.size(); }, 60000));
    CHECK(server.received.size() == expected.size());
    CHECK(server.received == expected);
}

TEST_CASE_FIXTURE(LoopFixture, "a handler may destroy another connection from on_output_drained") {
    // Both clients are flushed in the same loop turn; the first one's drain
    // handler destroys the second before the loop reaches it.
    Peer server_a, server_b;
    auto listener_a = listen(server_a);
    auto listener_b = listen(server_b);
    Peer a, b;
    connect(a, listener_a->port());
    connect(b, listener_b->port());
    a.drained_hook = [&](Peer&) { b.conn.reset(); };
    a.conn->write("from a");
    b.conn->write("from b");
    REQUIRE(run_until([&] { return server_a.received == "from a" && server_b.closed; }));
    CHECK(b.conn == nullptr);
    CHECK(server_b.received.empty());  // b was destroyed before its turn came
    CHECK(server_b.close_reason == "closed by peer");
}
