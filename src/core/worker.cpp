#include "core/worker.hpp"

#include <openssl/rand.h>

#include "core/config.hpp"
#include "core/log.hpp"

namespace parley::core {

namespace {

std::string random_bytes(size_t n) {
  std::string out(n, '\0');
  RAND_bytes(reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(n));
  return out;
}

// A one-shot or repeating timer that owns its callback and frees itself.
struct Ticker {
  uv_timer_t handle;
  std::function<bool()> tick;  // returns false to stop
  static void start(uv_loop_t* loop, uint64_t interval_ms, std::function<bool()> tick) {
    auto* t = new Ticker{{}, std::move(tick)};
    uv_timer_init(loop, &t->handle);
    t->handle.data = t;
    uv_timer_start(&t->handle, [](uv_timer_t* h) {
      auto* self = static_cast<Ticker*>(h->data);
      if (!self->tick()) {
        uv_timer_stop(h);
        uv_close(reinterpret_cast<uv_handle_t*>(h), [](uv_handle_t* closed) {
          delete static_cast<Ticker*>(closed->data);
        });
      }
    }, interval_ms, interval_ms);
  }
};

struct OffLoopWork {
  uv_work_t request;
  std::function<void()> work;
  std::function<void()> after;
};

}  // namespace

Worker::Worker(uv_loop_t* loop, const Config& config, Logger& log,
               std::span<const xmpp::ModuleDefinition* const> modules, std::string database_conninfo,
               std::shared_ptr<net::TlsContextSet> tls)
    : loop_(loop),
      net_(loop),
      config_(&config),
      log_(log),
      module_definitions_(modules),
      tls_(std::move(tls)),
      database_(std::make_unique<store::PgClient>(loop, std::move(database_conninfo))),
      accounts_(*database_, *this,
                [this](std::function<void()> work, std::function<void()> after) {
                  run_off_loop(std::move(work), std::move(after));
                }),
      account_removal_(*this, accounts_),
      router_(*this),
      secret_(random_bytes(32)),
      reaper_(new uv_check_t),
      housekeeping_(new uv_timer_t) {
  auth_throttle_ = std::make_unique<xmpp::AuthThrottle>(
      static_cast<int>(config.get_int("limits.auth_failures_per_ip")),
      static_cast<int>(config.get_int("limits.auth_failures_per_account")),
      std::chrono::duration_cast<std::chrono::seconds>(config.get_duration("limits.auth_failure_window")));
  max_output_buffer_ = config.get_size("limits.max_output_buffer");
  accounts_.set_cache_capacity(static_cast<size_t>(config.get_int("auth.credential_cache")));
  uv_check_init(loop_, reaper_);
  reaper_->data = this;
  uv_timer_init(loop_, housekeeping_);
  housekeeping_->data = this;
}

Worker::~Worker() {
  http_.reset();
  c2s_.clear();
  graveyard_.clear();
  hosts_.clear();
  // Module-shared state (s2s links) holds connections on net_: gone first.
  shared_states_.clear();
  resolver_.reset();
  uv_close(reinterpret_cast<uv_handle_t*>(reaper_), [](uv_handle_t* h) { delete reinterpret_cast<uv_check_t*>(h); });
  uv_close(reinterpret_cast<uv_handle_t*>(housekeeping_),
           [](uv_handle_t* h) { delete reinterpret_cast<uv_timer_t*>(h); });
}

uint32_t Worker::scram_iterations() const {
  return static_cast<uint32_t>(config_->get_int("auth.scram_iterations"));
}

bool Worker::start(std::string& error) {
  database_->set_state_hook([this](bool connected, std::string_view detail) {
    if (!connected) {
      log_.warn("database", 0, "database unavailable: ", detail);
      return;
    }
    // Changes made while we were away were not notified.
    accounts_.forget_all();
    database_->query("LISTEN " + std::string(xmpp::kAccountChangesChannel), {}, [](store::PgResult&&) {});
    // parleyctl looks for this name to know whether a server will act on its requests.
    database_->query("SET application_name TO 'parleyd'", {}, [](store::PgResult&&) {});
    // Hosts start after the first connection; requests then wait for them.
    if (!hosts_.empty()) account_removal_.on_database_connected();
  });
  database_->set_notify_hook([this](std::string_view channel, std::string_view payload) {
    if (channel == xmpp::kAccountChangesChannel) accounts_.forget(payload);
    account_removal_.on_notify(channel);
  });
  database_->start();
  // Clients are let in only once the database can answer them, so the first
  // logins after start-up don't fail for a connection still being made.
  // Bounded: past the deadline we serve anyway (logins fail temporarily and
  // the client keeps reconnecting).
  uint64_t deadline = uv_now(loop_) + 10'000;
  while (!database_->connected() && uv_now(loop_) < deadline) {
    uv_run(loop_, UV_RUN_ONCE);
    uv_update_time(loop_);
  }
  if (!database_->connected()) log_.warn("worker", 0, "database not connected yet; serving anyway");
  if (std::string failed = start_hosts(); !failed.empty()) {
    error = failed;
    return false;
  }
  if (database_->connected()) account_removal_.on_database_connected();
  uv_timer_start(housekeeping_, [](uv_timer_t* t) { static_cast<Worker*>(t->data)->housekeeping(); }, 1000,
                 1000);
  return open_listeners(error) && open_http(error);
}

net::HttpLimits Worker::http_limits() const {
  return {config_->get_size("http.max_header_size"),
          static_cast<uint64_t>(config_->get_duration("http.idle_timeout").count()),
          config_->get_int("limits.max_connections_per_ip")};
}

bool Worker::open_http(std::string& error) {
  http_ = std::make_unique<net::HttpServer>(
      net_, http_routes_, http_limits(), [this] { return tls_->default_context(); },
      [this](std::string_view line) { log_.warn("http", 0, line); });
  struct Port {
    const char* option;
    bool tls;
  };
  for (Port port : {Port{"http.tls_port", true}, Port{"http.port", false}}) {
    int64_t number = config_->get_int(port.option);
    if (number == 0) continue;
    const std::vector<std::string>& addresses = config_->get_list("http.bind_addresses");
    if (!http_->listen(addresses, static_cast<uint16_t>(number), port.tls, error)) {
      error = std::string(port.option) + ": " + error;
      return false;
    }
    for (const std::string& address : addresses)
      log_.info("worker", 0, "HTTP listening on ", address, " port ", number, port.tls ? " (TLS)" : " (plain)");
  }
  return true;
}

void Worker::add_component(std::string domain, std::string owner_host, xmpp::ComponentHandler handler) {
  components_[std::move(domain)] = Component{std::move(handler), std::move(owner_host)};
}

void Worker::remove_component(std::string_view domain) {
  auto it = components_.find(domain);
  if (it != components_.end()) components_.erase(it);
}

const xmpp::ComponentHandler* Worker::find_component(std::string_view domain) {
  auto it = components_.find(domain);
  return it == components_.end() ? nullptr : &it->second.handler;
}

xmpp::HostContext* Worker::component_owner(std::string_view domain) {
  auto it = components_.find(domain);
  return it == components_.end() ? nullptr : find_host(it->second.owner_host);
}

// A module that cannot start (its port is taken, two modules claim one
// namespace) is logged and left out: on reload the server keeps running
// without it; at start-up the first such error is returned and parleyd exits.
std::string Worker::start_hosts() {
  std::string first_error;
  // The old modules stop before the new ones start; what they carry over a
  // reload (ModuleContext::carried) is handed to their successors.
  std::map<std::string, xmpp::HostContext::Carried> carried;
  for (auto& [name, host] : hosts_) carried[name] = host->take_carried();
  hosts_.clear();
  std::vector<std::string> names = config_->hosts();
  default_host_ = names.empty() ? std::string() : names.front();
  for (const std::string& name : names) {
    auto host = std::make_unique<xmpp::HostContext>(name, *this);
    host->inherit_carried(std::move(carried[name]));
    for (const std::string& wanted : config_->get_list("modules_enabled", name)) {
      for (const xmpp::ModuleDefinition* definition : module_definitions_) {
        if (definition->name != wanted) continue;
        try {
          host->start_module(*definition);
        } catch (const std::exception& e) {
          std::string message = "module " + wanted + " for " + name + " not started: " + e.what();
          log_.error("worker", 0, message);
          if (first_error.empty()) first_error = message;
        }
      }
    }
    host->drop_carried_of_disabled();
    log_.info("worker", 0, "serving ", name);
    hosts_.emplace(name, std::move(host));
  }
  return first_error;
}

bool Worker::open_listeners(std::string& error) {
  struct Port {
    const char* option;
    bool direct_tls;
  };
  for (Port port : {Port{"c2s.starttls_port", false}, Port{"c2s.direct_tls_port", true}}) {
    int64_t number = config_->get_int(port.option);
    if (number == 0) continue;
    const bool direct_tls = port.direct_tls;
    std::vector<std::unique_ptr<net::Listener>> opened;
    if (!net::Listener::open_all(
            net_, config_->get_list("c2s.bind_addresses"), static_cast<uint16_t>(number),
            [this, direct_tls](std::unique_ptr<net::Connection> connection) {
              accept(std::move(connection), direct_tls);
            },
            opened, error)) {
      error = std::string(port.option) + ": " + error;
      return false;
    }
    for (auto& listener : opened) {
      log_.info("worker", 0, "listening on ", listener->address(), " port ", number,
                direct_tls ? " (direct TLS)" : " (STARTTLS)");
      listeners_.push_back(std::move(listener));
    }
  }
  return true;
}

void Worker::accept(std::unique_ptr<net::Connection> connection, bool direct_tls) {
  if (shutting_down_) return;
  std::string ip = connection->remote_ip();
  int& from_ip = connections_per_ip_[ip];
  if (from_ip >= config_->get_int("limits.max_connections_per_ip")) {
    log_.warn("worker", 0, "refusing a connection from ", ip, ": limits.max_connections_per_ip reached");
    if (from_ip == 0) connections_per_ip_.erase(ip);
    return;  // dropping the Connection closes it
  }
  ++from_ip;
  uint64_t id = next_session_id_++;
  auto session = std::make_unique<xmpp::C2sSession>(*this, id, std::move(connection), direct_tls);
  xmpp::C2sSession& ref = *session;
  c2s_.emplace(id, std::move(session));
  extend_negotiation(ref);
  ref.start();
}

void Worker::extend_negotiation(xmpp::C2sSession& session, std::chrono::milliseconds at_least) {
  auto timeout = std::max<int64_t>(config_->get_duration("c2s.negotiation_timeout").count(), at_least.count());
  uint64_t deadline = uv_now(loop_) + static_cast<uint64_t>(timeout);
  if (deadline <= session.negotiation_deadline()) return;
  session.set_negotiation_deadline(deadline);
  negotiation_deadlines_.emplace(deadline, session.id());
}

void Worker::housekeeping() {
  expire_negotiations();
  uint64_t now = uv_now(loop_);
  auto interval = static_cast<uint64_t>(config_->get_duration("c2s.ping_interval").count());
  auto timeout = static_cast<uint64_t>(config_->get_duration("c2s.ping_timeout").count());
  std::vector<xmpp::C2sSession*> sessions;
  sessions.reserve(c2s_.size());
  for (auto& [id, session] : c2s_) sessions.push_back(session.get());
  // Collected first: a timed-out session leaves the map while we go.
  for (xmpp::C2sSession* session : sessions) session->check_liveness(now, interval, timeout);
}

void Worker::expire_negotiations() {
  uint64_t now = uv_now(loop_);
  while (!negotiation_deadlines_.empty() && negotiation_deadlines_.top().first <= now) {
    uint64_t id = negotiation_deadlines_.top().second;
    negotiation_deadlines_.pop();
    xmpp::C2sSession* session = find_c2s(id);
    // A session whose deadline moved on has a later entry further back.
    if (session && !session->bound() && session->negotiation_deadline() <= now) {
      session->close_with_stream_error("connection-timeout", "negotiation took too long");
    }
  }
}

xmpp::HostContext* Worker::find_host(std::string_view domain) {
  auto it = hosts_.find(domain);
  return it == hosts_.end() ? nullptr : it->second.get();
}

xmpp::ModuleState& Worker::shared_state(std::string_view key, const SharedStateFactory& make) {
  auto it = shared_states_.find(key);
  if (it == shared_states_.end()) it = shared_states_.emplace(std::string(key), make()).first;
  return *it->second;
}

net::Resolver* Worker::resolver() {
  if (!resolver_) {
    net::Resolver::Options options;
    options.servers = config_->get_list("dns.servers");
    options.timeout_ms = static_cast<int>(config_->get_duration("dns.timeout").count());
    std::string error;
    resolver_ = net::Resolver::create(loop_, options, error);
    if (!resolver_) log_.error("worker", 0, "DNS resolver unavailable: ", error);
  }
  return resolver_.get();
}

xmpp::C2sSession* Worker::find_c2s(uint64_t id) {
  auto it = c2s_.find(id);
  return it == c2s_.end() ? nullptr : it->second.get();
}

void Worker::retire(uint64_t id) {
  auto it = c2s_.find(id);
  if (it == c2s_.end()) return;
  auto ip = connections_per_ip_.find(it->second->remote_ip());
  if (ip != connections_per_ip_.end() && --ip->second <= 0) connections_per_ip_.erase(ip);
  graveyard_.push_back(std::move(it->second));
  c2s_.erase(it);
  uv_check_start(reaper_, on_reap);
}

void Worker::on_reap(uv_check_t* handle) {
  auto* self = static_cast<Worker*>(handle->data);
  self->graveyard_.clear();
  uv_check_stop(handle);
}

void Worker::run_off_loop(std::function<void()> work, std::function<void()> after) {
  auto* job = new OffLoopWork{{}, std::move(work), std::move(after)};
  job->request.data = job;
  uv_queue_work(
      loop_, &job->request, [](uv_work_t* r) { static_cast<OffLoopWork*>(r->data)->work(); },
      [](uv_work_t* r, int) {
        std::unique_ptr<OffLoopWork> done(static_cast<OffLoopWork*>(r->data));
        done->after();
      });
}

void Worker::shutdown(std::function<void()> done) {
  shutting_down_ = true;
  listeners_.clear();
  if (http_) http_->close_listeners();
  std::vector<xmpp::C2sSession*> open;
  for (auto& [id, session] : c2s_) open.push_back(session.get());
  for (xmpp::C2sSession* session : open) session->close_stream();
  log_.info("worker", 0, "closing ", open.size(), " sessions");
  for (auto& [key, state] : shared_states_) state->shutdown();
  uv_timer_stop(housekeeping_);
  auto deadline = uv_now(loop_) + static_cast<uint64_t>(config_->get_duration("server.shutdown_grace").count());
  Ticker::start(loop_, 20, [this, deadline, done = std::move(done)]() {
    if (!c2s_.empty() && uv_now(loop_) < deadline) return true;
    database_->close([] {});
    done();
    return false;
  });
}

void Worker::reload(const Config& config, std::shared_ptr<net::TlsContextSet> tls) {
  config_ = &config;
  max_output_buffer_ = config.get_size("limits.max_output_buffer");
  if (http_) http_->set_limits(http_limits());
  accounts_.set_cache_capacity(static_cast<size_t>(config.get_int("auth.credential_cache")));
  tls_ = std::move(tls);
  // New dns.* settings apply to lookups started from now on.
  resolver_.reset();
  start_hosts();
}

}  // namespace parley::core
