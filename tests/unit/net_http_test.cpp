// The HTTP/1.1 server (net/http_server.*) over loopback on a private loop,
// driven by a raw client that writes exact bytes: keep-alive and pipelining
// in order, HEAD, 404, streamed and chunked bodies with 100-continue, early
// answers closing the connection, file ranges, bad and oversized requests.
#include "net/connection.hpp"
#include "net/http_server.hpp"
#include "net/net_loop.hpp"

#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <string>

using namespace parley::net;

namespace {

struct Client final : ConnectionHandler {
  std::unique_ptr<Connection> conn;
  std::string received;
  bool closed = false;
  void on_data(std::string_view data) override { received.append(data); }
  void on_tls_established() override {}
  void on_closed(std::string_view) override {
    closed = true;
    conn.reset();
  }
};

struct Fixture {
  uv_loop_t loop{};
  std::unique_ptr<NetLoop> net;
  HttpRoutes routes;
  std::unique_ptr<HttpServer> server;
  uint16_t port = 0;
  uv_timer_t* tick = new uv_timer_t;

  Fixture() {
    REQUIRE(uv_loop_init(&loop) == 0);
    net = std::make_unique<NetLoop>(&loop);
    uv_timer_init(&loop, tick);
    uv_timer_start(tick, [](uv_timer_t*) {}, 10, 10);
    server = std::make_unique<HttpServer>(*net, routes, HttpLimits{1024, 60'000}, [] { return nullptr; },
                                          [](std::string_view) {});
    // A free port: bind 0 is not exposed, so find one with a throwaway listener.
    std::string error;
    auto probe = Listener::open(*net, "127.0.0.1", 0, [](std::unique_ptr<Connection>) {}, error);
    REQUIRE(probe);
    port = probe->port();
    probe.reset();
    REQUIRE(server->listen({"127.0.0.1"}, port, false, error));
  }
  ~Fixture() {
    server.reset();
    uv_close(reinterpret_cast<uv_handle_t*>(tick), [](uv_handle_t* h) { delete reinterpret_cast<uv_timer_t*>(h); });
    net.reset();
    uv_run(&loop, UV_RUN_DEFAULT);
    CHECK(uv_loop_close(&loop) == 0);
  }
  bool run_until(const std::function<bool()>& done, uint64_t timeout_ms = 5000) {
    uv_update_time(&loop);
    const uint64_t deadline = uv_now(&loop) + timeout_ms;
    while (!done()) {
      if (uv_now(&loop) > deadline) return false;
      uv_run(&loop, UV_RUN_ONCE);
    }
    return true;
  }
  Client& connect(Client& client) {
    bool done = false;
    Connection::connect(*net, "127.0.0.1", port, [&](std::unique_ptr<Connection> c, std::string) {
      client.conn = std::move(c);
      done = true;
    });
    REQUIRE(run_until([&] { return done; }));
    REQUIRE(client.conn);
    client.conn->start(client);
    return client;
  }
};

size_t count(const std::string& haystack, std::string_view needle) {
  size_t n = 0;
  for (size_t at = haystack.find(needle); at != std::string::npos; at = haystack.find(needle, at + 1)) ++n;
  return n;
}

}  // namespace

TEST_CASE("http: pipelined requests are answered in order on one connection, even when the first waits") {
  Fixture f;
  std::shared_ptr<HttpExchange> slow;
  auto route = f.routes.add("/slow", [&](std::shared_ptr<HttpExchange> exchange) {
    slow = exchange;  // answered by the test, after the second request arrived
  });
  auto fast = f.routes.add("/fast", [](std::shared_ptr<HttpExchange> exchange) {
    exchange->respond(http_text_response(200, "fast " + exchange->request().method));
  });
  Client client;
  f.connect(client);
  client.conn->write(
      "GET /slow HTTP/1.1\r\nHost: x\r\n\r\nGET /fast?a=1 HTTP/1.1\r\nHost: x\r\n\r\nHEAD /fast HTTP/1.1\r\nHost: "
      "x\r\n\r\nGET /none HTTP/1.1\r\nHost: x\r\n\r\n");
  REQUIRE(f.run_until([&] { return slow != nullptr; }));
  f.run_until([] { return false; }, 100);
  CHECK(client.received.empty());  // nothing overtakes the first answer
  slow->respond(http_text_response(200, "slow"));
  REQUIRE(f.run_until([&] { return count(client.received, "HTTP/1.1 ") == 4; }));
  const std::string& r = client.received;
  size_t first = r.find("slow\n"), second = r.find("fast GET\n"), head = r.find("Content-Length: 10\r\n\r\nHTTP");
  CHECK(first != std::string::npos);
  CHECK(second > first);
  CHECK(head > second);  // HEAD: the GET's length, no body
  CHECK(r.find("HTTP/1.1 404 Not Found") > head);
  CHECK(r.find("fast HEAD") == std::string::npos);
  CHECK_FALSE(client.closed);
}

TEST_CASE("http: a chunked body streams to the handler after 100-continue; the connection stays usable") {
  Fixture f;
  std::string body;
  int pieces = 0;
  auto route = f.routes.add("/put", [&](std::shared_ptr<HttpExchange> exchange) {
    CHECK(exchange->request().chunked);
    CHECK_FALSE(exchange->request().content_length);
    exchange->read_body(
        [&](std::string_view data) {
          body.append(data);
          ++pieces;
        },
        [&, exchange] { exchange->respond(http_text_response(201, "got " + std::to_string(body.size()))); });
  });
  Client client;
  f.connect(client);
  client.conn->write("PUT /put HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nTransfer-Encoding: chunked\r\n\r\n");
  REQUIRE(f.run_until([&] { return client.received.find("100 Continue") != std::string::npos; }));
  client.conn->write("5\r\nhello\r\n");
  REQUIRE(f.run_until([&] { return body == "hello"; }));
  client.conn->write("6\r\n world\r\n0\r\n\r\n");
  REQUIRE(f.run_until([&] { return client.received.find("got 11") != std::string::npos; }));
  CHECK(body == "hello world");
  CHECK(pieces >= 2);
  CHECK(client.received.find("HTTP/1.1 201 Created") != std::string::npos);
  client.conn->write("PUT /put HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n1\r\n!\r\n0\r\n\r\n");
  REQUIRE(f.run_until([&] { return client.received.find("got 12") != std::string::npos; }));
}

TEST_CASE("http: an answer before the body was read closes the connection, without 100-continue") {
  Fixture f;
  auto route = f.routes.add("/", [](std::shared_ptr<HttpExchange> exchange) {
    exchange->respond(http_text_response(413, "too big"));
  });
  Client client;
  f.connect(client);
  client.conn->write("PUT /x HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 100000\r\n\r\n");
  REQUIRE(f.run_until([&] { return client.closed; }));
  CHECK(client.received.find("100 Continue") == std::string::npos);
  CHECK(client.received.starts_with("HTTP/1.1 413 Content Too Large\r\n"));
  CHECK(client.received.find("Connection: close\r\n") != std::string::npos);
}

TEST_CASE("http: a file range is streamed from disk") {
  Fixture f;
  std::filesystem::path path = std::filesystem::temp_directory_path() / ("parley-http-test-" + std::to_string(getpid()));
  std::string content;
  for (int i = 0; i < 300000; ++i) content += static_cast<char>('a' + i % 26);
  std::ofstream(path, std::ios::binary) << content;
  auto route = f.routes.add("/file", [&](std::shared_ptr<HttpExchange> exchange) {
    HttpResponse response;
    response.file = HttpResponse::File{path.string(), 1000, 280000};
    exchange->respond(std::move(response));
  });
  Client client;
  f.connect(client);
  client.conn->write("GET /file HTTP/1.1\r\nHost: x\r\n\r\n");
  std::string end_of_head = "Content-Length: 280000\r\n\r\n";
  REQUIRE(f.run_until([&] {
    size_t at = client.received.find(end_of_head);
    return at != std::string::npos && client.received.size() >= at + end_of_head.size() + 280000;
  }));
  CHECK(client.received.starts_with("HTTP/1.1 200 OK\r\nDate: "));
  size_t body = client.received.find(end_of_head) + end_of_head.size();
  CHECK(client.received.size() == body + 280000);
  CHECK((client.received.substr(body) == content.substr(1000, 280000)));
  std::filesystem::remove(path);
}

TEST_CASE("http: malformed and oversized requests get 400 and 431 and the connection ends") {
  Fixture f;
  Client bad, big;
  f.connect(bad);
  bad.conn->write("NOT HTTP AT ALL\r\n\r\n");
  REQUIRE(f.run_until([&] { return bad.closed; }));
  CHECK(bad.received.starts_with("HTTP/1.1 400 Bad Request\r\n"));
  f.connect(big);
  big.conn->write("GET / HTTP/1.1\r\nX-Padding: " + std::string(2000, 'p') + "\r\n\r\n");
  REQUIRE(f.run_until([&] { return big.closed; }));
  CHECK(big.received.starts_with("HTTP/1.1 431 "));
}

TEST_CASE("http: routes are unique, the longest prefix wins, and a dropped route is gone") {
  HttpRoutes routes;
  int hit = 0;
  auto a = routes.add("/a/", [&](std::shared_ptr<HttpExchange>) { hit = 1; });
  {
    auto ab = routes.add("/a/b/", [&](std::shared_ptr<HttpExchange>) { hit = 2; });
    CHECK_THROWS_AS(routes.add("/a/b/", [](std::shared_ptr<HttpExchange>) {}), std::invalid_argument);
    (*routes.find("/a/b/c"))(nullptr);
    CHECK(hit == 2);
  }
  (*routes.find("/a/b/c"))(nullptr);
  CHECK(hit == 1);
  CHECK(routes.find("/b") == nullptr);
  CHECK(percent_decode("tr%C3%A8s%20cool.jpg") == "très cool.jpg");
  CHECK_FALSE(percent_decode("bad%2"));
  CHECK_FALSE(percent_decode("nul%00"));
  CHECK(percent_encode("a b/ü") == "a%20b%2F%C3%BC");
}

TEST_CASE("http: a connection that does nothing for idle_timeout is closed") {
  Fixture f;
  f.server->set_limits(HttpLimits{1024, 200});
  Client idle;
  f.connect(idle);
  REQUIRE(f.run_until([&] { return f.server->connection_count() == 1; }));
  CHECK(f.run_until([&] { return idle.closed; }, 3000));
  CHECK(f.server->connection_count() == 0);
}

TEST_CASE("http: a request head still incomplete idle_timeout after it began is closed, however it trickles") {
  Fixture f;
  f.server->set_limits(HttpLimits{16 * 1024, 1500});
  Client slow;
  f.connect(slow);
  slow.conn->write("GET / HTTP/1.1\r\nX-a: ");
  uv_update_time(&f.loop);
  uint64_t last_byte = uv_now(&f.loop);
  const uint64_t started = last_byte;
  // A byte every 0.9 s, so the connection is never idle for the 1.5 s.
  CHECK(f.run_until(
      [&] {
        if (!slow.closed && uv_now(&f.loop) - last_byte >= 900) {
          slow.conn->write("a");
          last_byte = uv_now(&f.loop);
        }
        return slow.closed;
      },
      6000));
  CHECK(uv_now(&f.loop) - started >= 1500);
}

TEST_CASE("http: connections past max_connections_per_ip are refused until one ends") {
  Fixture f;
  f.server->set_limits(HttpLimits{1024, 60'000, 2});
  auto route = f.routes.add("/", [](std::shared_ptr<HttpExchange> exchange) {
    exchange->respond(http_text_response(200, "hi"));
  });
  auto first = std::make_unique<Client>();
  Client second, third, fourth;
  f.connect(*first);
  f.connect(second);
  REQUIRE(f.run_until([&] { return f.server->connection_count() == 2; }));
  f.connect(third);
  CHECK(f.run_until([&] { return third.closed; }));
  CHECK(f.server->connection_count() == 2);
  first->conn->close();
  REQUIRE(f.run_until([&] { return f.server->connection_count() == 1; }));
  f.connect(fourth);
  fourth.conn->write("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
  CHECK(f.run_until([&] { return fourth.received.find("hi\n") != std::string::npos; }));
}
