#include "net/http_server.hpp"

#include <stdexcept>

#include "net/http_connection.hpp"
#include "net/net_loop.hpp"

namespace parley::net {

void HttpExchange::read_body(std::function<void(std::string_view)> data, std::function<void()> end) {
  if (!connection_ || reading_body_ || responded_) return;
  body_data_ = std::move(data);
  body_end_ = std::move(end);
  reading_body_ = true;
  connection_->start_body(*this);
}

void HttpExchange::pause_body() {
  body_paused_ = true;
  if (connection_) connection_->update_reading();
}

void HttpExchange::resume_body() {
  body_paused_ = false;
  if (connection_) connection_->update_reading();
}

void HttpExchange::respond(HttpResponse response) {
  if (responded_) return;
  responded_ = true;
  body_data_ = nullptr;
  body_end_ = nullptr;
  if (connection_) connection_->send_response(*this, std::move(response));
}

HttpRoute::HttpRoute(HttpRoute&& other) noexcept
    : routes_(std::exchange(other.routes_, nullptr)), prefix_(std::move(other.prefix_)) {}

HttpRoute& HttpRoute::operator=(HttpRoute&& other) noexcept {
  if (this != &other) {
    if (routes_) routes_->handlers_.erase(prefix_);
    routes_ = std::exchange(other.routes_, nullptr);
    prefix_ = std::move(other.prefix_);
  }
  return *this;
}

HttpRoute::~HttpRoute() {
  if (routes_) routes_->handlers_.erase(prefix_);
}

HttpRoute HttpRoutes::add(std::string prefix, HttpHandler handler) {
  if (prefix.empty() || prefix.front() != '/') throw std::invalid_argument("HTTP route must start with '/': " + prefix);
  if (!handlers_.emplace(prefix, std::move(handler)).second) {
    throw std::invalid_argument("HTTP route registered twice: " + prefix);
  }
  return HttpRoute(this, std::move(prefix));
}

const HttpHandler* HttpRoutes::find(std::string_view path) const {
  const HttpHandler* best = nullptr;
  size_t best_length = 0;
  // Few routes (one per module and host): a scan is simpler than a trie.
  for (const auto& [prefix, handler] : handlers_) {
    if (path.starts_with(prefix) && prefix.size() >= best_length) {
      best = &handler;
      best_length = prefix.size();
    }
  }
  return best;
}

HttpServer::HttpServer(NetLoop& net, const HttpRoutes& routes, HttpLimits limits, TlsContextSource tls, LogHook log)
    : net_(net), routes_(routes), limits_(limits), tls_(std::move(tls)), log_(std::move(log)), sweeper_(new uv_timer_t) {
  uv_timer_init(net_.loop(), sweeper_);
  sweeper_->data = this;
  uv_timer_start(sweeper_, [](uv_timer_t* t) { static_cast<HttpServer*>(t->data)->sweep_idle(); }, 1000, 1000);
}

HttpServer::~HttpServer() {
  listeners_.clear();
  connections_.clear();
  uv_timer_stop(sweeper_);
  uv_close(reinterpret_cast<uv_handle_t*>(sweeper_), [](uv_handle_t* h) { delete reinterpret_cast<uv_timer_t*>(h); });
}

bool HttpServer::listen(const std::vector<std::string>& addresses, uint16_t port, bool tls, std::string& error) {
  return Listener::open_all(
      net_, addresses, port,
      [this, tls](std::unique_ptr<Connection> connection) { accept(std::move(connection), tls); }, listeners_, error);
}

void HttpServer::accept(std::unique_ptr<Connection> connection, bool tls) {
  if (tls && !tls_()) return;  // no certificate: drop rather than serve HTTPS without one
  if (limits_.max_connections_per_ip > 0) {
    // Dropping the Connection closes it: one address cannot hold every slot.
    auto it = per_ip_.find(connection->remote_ip());
    if (it != per_ip_.end() && it->second >= limits_.max_connections_per_ip) {
      if (log_) log_("refusing an HTTP connection from " + it->first + ": limits.max_connections_per_ip reached");
      return;
    }
  }
  uint64_t id = next_id_++;
  auto http = std::make_unique<HttpConnection>(*this, id, std::move(connection), tls);
  HttpConnection& ref = *http;
  connections_.emplace(id, std::move(http));
  ++per_ip_[ref.remote_ip()];
  ref.start();
}

void HttpServer::remove(uint64_t id) {
  auto it = connections_.find(id);
  if (it == connections_.end()) return;
  auto ip = per_ip_.find(it->second->remote_ip());
  if (ip != per_ip_.end() && --ip->second <= 0) per_ip_.erase(ip);
  connections_.erase(it);
}

// A connection that sent and took nothing for idle_timeout, or whose request
// head is not complete idle_timeout after it began, is dropped, so idle
// keep-alive connections and stalled or trickling clients cannot pile up.
void HttpServer::sweep_idle() {
  uint64_t now = uv_now(net_.loop());
  std::vector<HttpConnection*> idle;
  for (auto& [id, connection] : connections_) {
    const uint64_t head = connection->head_started();
    if (now - connection->idle_since() > limits_.idle_timeout_ms ||
        (head != 0 && now - head > limits_.idle_timeout_ms)) {
      idle.push_back(connection.get());
    }
  }
  for (HttpConnection* connection : idle) connection->abort();
}

}  // namespace parley::net
