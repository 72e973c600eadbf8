#pragma once
// The HTTP/1.1 server inside parleyd (docs/ARCHITECTURE.md "HTTP"): on the
// worker's loop, over net::Connection (so HTTPS uses the same TLS code and
// host certificates as c2s), with http-parser for the request framing.
// Modules register path prefixes (HttpRoutes); a handler receives an
// HttpExchange when a request's head is complete, may answer at once or
// after a database round trip, and reads a request body as a stream with
// flow control, so no body is ever held whole in memory.
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <openssl/types.h>
#include <uv.h>

#include "net/http_message.hpp"
#include "net/listener.hpp"

namespace parley::net {

class HttpConnection;
class NetLoop;

// One request and its response. Shared between the connection and the
// handler (which may keep it across asynchronous steps); once the client is
// gone, open() turns false and respond() does nothing.
class HttpExchange {
 public:
  const HttpRequest& request() const { return request_; }
  bool open() const { return connection_ != nullptr; }

  // Streams the request body: `data` per piece as it arrives, then `end`.
  // Sends "100 Continue" first when the client asked for it (RFC 9110
  // §10.1.1), so refusing without reading the body costs the client nothing.
  void read_body(std::function<void(std::string_view)> data, std::function<void()> end);
  // Flow control for a consumer slower than the network (disk writes): no
  // more is read from the socket until resume_body(). Bytes already received
  // may still arrive (at most one read buffer).
  void pause_body();
  void resume_body();
  // Called once if the connection ends before the response was sent.
  void on_aborted(std::function<void()> aborted) { aborted_ = std::move(aborted); }

  // Sends the response. Content-Length is added; a HEAD request gets the
  // head only. Answering before the body was read whole closes the
  // connection after the response (the rest of the body cannot be skipped).
  void respond(HttpResponse response);
  bool responded() const { return responded_; }

 private:
  friend class HttpConnection;
  HttpRequest request_;
  HttpConnection* connection_ = nullptr;
  std::function<void(std::string_view)> body_data_;
  std::function<void()> body_end_;
  std::function<void()> aborted_;
  std::string early_body_;  // body bytes that came before read_body()
  bool reading_body_ = false;
  bool body_paused_ = false;
  bool body_complete_ = false;
  bool responded_ = false;
};

using HttpHandler = std::function<void(std::shared_ptr<HttpExchange>)>;

class HttpRoutes;

// Owns one route; dropping it removes the route (RAII, like hook registrations).
class HttpRoute {
 public:
  HttpRoute() = default;
  HttpRoute(HttpRoutes* routes, std::string prefix) : routes_(routes), prefix_(std::move(prefix)) {}
  HttpRoute(HttpRoute&& other) noexcept;
  HttpRoute& operator=(HttpRoute&& other) noexcept;
  ~HttpRoute();

 private:
  HttpRoutes* routes_ = nullptr;
  std::string prefix_;
};

// Path prefix -> handler. The longest matching prefix wins; registering a
// prefix twice is an error (std::invalid_argument), never a silent override.
class HttpRoutes {
 public:
  [[nodiscard]] HttpRoute add(std::string prefix, HttpHandler handler);
  const HttpHandler* find(std::string_view path) const;

 private:
  friend class HttpRoute;
  std::map<std::string, HttpHandler, std::less<>> handlers_;
};

struct HttpLimits {
  uint64_t max_header_bytes = 16 * 1024;
  uint64_t idle_timeout_ms = 60'000;
  int64_t max_connections_per_ip = 0;  // 0: no limit
};

class HttpServer {
 public:
  using TlsContextSource = std::function<SSL_CTX*()>;
  using LogHook = std::function<void(std::string_view)>;

  HttpServer(NetLoop& net, const HttpRoutes& routes, HttpLimits limits, TlsContextSource tls, LogHook log);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Opens `port` on each address (Listener::open_all); `tls` for HTTPS with
  // the server's certificates.
  bool listen(const std::vector<std::string>& addresses, uint16_t port, bool tls, std::string& error);
  void set_limits(HttpLimits limits) { limits_ = limits; }
  // Stops accepting; open connections finish their current exchange.
  void close_listeners() { listeners_.clear(); }
  size_t connection_count() const { return connections_.size(); }

 private:
  friend class HttpConnection;
  void accept(std::unique_ptr<Connection> connection, bool tls);
  void remove(uint64_t id);
  void sweep_idle();

  NetLoop& net_;
  const HttpRoutes& routes_;
  HttpLimits limits_;
  TlsContextSource tls_;
  LogHook log_;
  std::vector<std::unique_ptr<Listener>> listeners_;
  std::unordered_map<uint64_t, std::unique_ptr<HttpConnection>> connections_;
  std::unordered_map<std::string, int64_t> per_ip_;
  uint64_t next_id_ = 1;
  uv_timer_t* sweeper_;  // freed by its close callback
};

}  // namespace parley::net
