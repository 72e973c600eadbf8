#pragma once
// A Worker owns one libuv loop and everything that lives on it: listeners,
// client sessions, the database client, the virtual hosts with their modules,
// and the router. Server -> Worker -> Session is the ownership chain
// (DESIGN.md "State and scale"); nothing here is global.
#include <cstdint>
#include <chrono>
#include <queue>
#include <functional>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include <openssl/ssl.h>
#include <uv.h>

#include "net/connection.hpp"
#include "net/http_server.hpp"
#include "net/listener.hpp"
#include "net/net_loop.hpp"
#include "net/resolver.hpp"
#include "net/tls_context.hpp"
#include "store/pg_client.hpp"
#include "xmpp/account_removal.hpp"
#include "xmpp/accounts.hpp"
#include "xmpp/auth_throttle.hpp"
#include "xmpp/c2s_session.hpp"
#include "xmpp/module_api.hpp"
#include "xmpp/router.hpp"
#include "xmpp/session_registry.hpp"

namespace parley::core {

class Config;
class Logger;

class Worker final : public xmpp::Services {
 public:
  Worker(uv_loop_t* loop, const Config& config, Logger& log,
         std::span<const xmpp::ModuleDefinition* const> modules, std::string database_conninfo,
         std::shared_ptr<net::TlsContextSet> tls);
  ~Worker() override;
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  // Opens the listeners, connects to the database and starts the modules.
  bool start(std::string& error);
  // Closes every stream with </stream:stream>, then calls `done` once all
  // sessions are gone (or after a grace period).
  void shutdown(std::function<void()> done);
  // SIGHUP: new config and certificates; sessions stay up.
  void reload(const Config& config, std::shared_ptr<net::TlsContextSet> tls);

  // xmpp::Services
  xmpp::Router& router() override { return router_; }
  store::PgClient& database() override { return *database_; }
  Logger& log() override { return log_; }
  uv_loop_t* loop() override { return loop_; }
  const Config& config() override { return *config_; }
  xmpp::HostContext* find_host(std::string_view domain) override;
  xmpp::SessionRegistry& sessions() override { return sessions_; }
  net::NetLoop& net() override { return net_; }
  net::HttpRoutes& http_routes() override { return http_routes_; }
  void add_component(std::string domain, std::string owner_host, xmpp::ComponentHandler handler) override;
  void remove_component(std::string_view domain) override;
  const xmpp::ComponentHandler* find_component(std::string_view domain) override;
  xmpp::HostContext* component_owner(std::string_view domain) override;
  void delete_account(const std::string& host, const std::string& username,
                      std::function<void(std::string error)> done) override {
    account_removal_.remove(host, username, std::move(done));
  }
  net::Resolver* resolver() override;
  xmpp::ModuleState& shared_state(std::string_view key, const SharedStateFactory& make) override;

  // What sessions need from their worker.
  xmpp::AccountStore& accounts() override { return accounts_; }
  xmpp::AuthThrottle& auth_throttle() { return *auth_throttle_; }
  SSL_CTX* tls_context() { return tls_->default_context(); }
  const std::string& default_host() const { return default_host_; }
  const std::string& secret() const { return secret_; }
  uint32_t scram_iterations() const;
  // limits.max_output_buffer, read once per config: it is checked per delivered stanza.
  uint64_t max_output_buffer() const { return max_output_buffer_; }
  xmpp::C2sSession* find_c2s(uint64_t id);
  // Gives a session still negotiating c2s.negotiation_timeout from now, or
  // `at_least` if longer: on accept, and whenever a module answered an IQ it
  // sent before authenticating (a sign-up waiting for its SMS code).
  void extend_negotiation(xmpp::C2sSession& session, std::chrono::milliseconds at_least = {});
  // Destroys the session on the next loop turn, outside its own callbacks.
  void retire(uint64_t id);
  // Runs `work` on libuv's thread pool, then `after` back on this loop.
  void run_off_loop(std::function<void()> work, std::function<void()> after);
  size_t session_count() const { return c2s_.size(); }

 private:
  bool open_listeners(std::string& error);
  bool open_http(std::string& error);
  net::HttpLimits http_limits() const;
  void accept(std::unique_ptr<net::Connection> connection, bool direct_tls);
  std::string start_hosts();  // the first module start failure, if any
  static void on_reap(uv_check_t* handle);
  // Once a second: negotiation deadlines and client liveness.
  void housekeeping();
  void expire_negotiations();

  uv_loop_t* loop_;
  net::NetLoop net_;
  const Config* config_;
  Logger& log_;
  std::span<const xmpp::ModuleDefinition* const> module_definitions_;
  std::shared_ptr<net::TlsContextSet> tls_;
  std::unique_ptr<store::PgClient> database_;
  xmpp::AccountStore accounts_;
  xmpp::AccountRemoval account_removal_;
  std::unique_ptr<xmpp::AuthThrottle> auth_throttle_;
  xmpp::SessionRegistry sessions_;
  xmpp::Router router_;
  std::string default_host_;
  std::string secret_;
  // Filled by modules; declared before hosts_ so they outlive the modules.
  net::HttpRoutes http_routes_;
  struct Component {
    xmpp::ComponentHandler handler;
    std::string owner_host;  // a name, not a pointer: hosts are rebuilt on reload
  };
  std::map<std::string, Component, std::less<>> components_;
  std::map<std::string, std::unique_ptr<xmpp::HostContext>, std::less<>> hosts_;
  std::unique_ptr<net::HttpServer> http_;
  std::vector<std::unique_ptr<net::Listener>> listeners_;
  std::map<std::string, std::unique_ptr<xmpp::ModuleState>, std::less<>> shared_states_;
  std::unique_ptr<net::Resolver> resolver_;  // made on first use, again after a reload
  std::unordered_map<uint64_t, std::unique_ptr<xmpp::C2sSession>> c2s_;
  std::vector<std::unique_ptr<xmpp::C2sSession>> graveyard_;
  uv_check_t* reaper_;        // freed in its close callback
  uv_timer_t* housekeeping_;  // likewise
  // Unauthenticated sessions by deadline, earliest first (a session may
  // appear again with a later one: the older entry is then ignored).
  std::priority_queue<std::pair<uint64_t, uint64_t>, std::vector<std::pair<uint64_t, uint64_t>>, std::greater<>>
      negotiation_deadlines_;
  std::unordered_map<std::string, int> connections_per_ip_;
  uint64_t max_output_buffer_ = 0;
  uint64_t next_session_id_ = 1;
  bool shutting_down_ = false;
};

}  // namespace parley::core
