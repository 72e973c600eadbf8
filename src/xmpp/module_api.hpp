#pragma once
// The surface a module sees (docs/MODULES.md). A module is a folder under
// modules/ with one ModuleDefinition; per virtual host where it is enabled,
// `start` runs with a ModuleContext and registers what the module handles.
// Everything registered through the context is dropped with it, so stopping
// a module (or removing a host on reload) is symmetric with starting it.
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <uv.h>

#include "net/http_server.hpp"
#include "xml/element.hpp"
#include "xmpp/events.hpp"
#include "xmpp/hook_bus.hpp"
#include "xmpp/jid.hpp"
#include "xmpp/stanza.hpp"

namespace parley::core {
class Config;
class Logger;
class OptionRegistry;
}  // namespace parley::core
namespace parley::store {
class PgClient;
class PgSync;
}  // namespace parley::store
namespace parley::net {
class HttpRoutes;
class HttpRoute;
class NetLoop;
class Resolver;
class HttpExchange;
}  // namespace parley::net

namespace parley::xmpp {

class Router;
class Services;
class ModuleContext;

enum class IqType { Get, Set };
// Whom the IQ is addressed to: the server itself (to = host or no to), or a
// local account's bare JID, which the server answers for (RFC 6121 §8.5.1).
enum class IqTarget { Host, Account };

// One received IQ get/set, with the means to answer it. Copyable, so a handler
// may answer later (after a database round trip).
class IqRequest {
 public:
  IqRequest(Router& router, const xml::Element& stanza, Jid from, Jid to);
  const xml::Element& stanza() const { return stanza_; }
  // The single child element (RFC 6120 §8.2.3 guarantees exactly one).
  const xml::Element& payload() const { return *stanza_.first_child(); }
  const Jid& from() const { return from_; }
  const Jid& to() const { return to_; }
  void reply() const;
  void reply(xml::Element payload) const;
  void error(StanzaErrorCondition condition, std::string_view text = {}) const;

 private:
  Router* router_;
  xml::Element stanza_;
  Jid from_;
  Jid to_;
};

using IqHandler = std::function<void(const IqRequest&)>;
// Receives every stanza addressed to a component domain (proxy.<host>) or
// one of its JIDs; what it does not answer is dropped.
using ComponentHandler = std::function<void(RoutedStanza&)>;

struct DiscoIdentity {
  std::string category, type, name;
  auto operator<=>(const DiscoIdentity&) const = default;
};

// Per virtual host (and per worker): the hook bus, the IQ table and what disco
// announces. Modules reach it only through their ModuleContext.
class HostContext {
 public:
  HostContext(std::string name, Services& services);
  ~HostContext();
  HostContext(const HostContext&) = delete;
  HostContext& operator=(const HostContext&) = delete;

  const std::string& name() const { return name_; }
  HookBus& hooks() { return hooks_; }
  Services& services() { return services_; }
  const IqHandler* find_iq(IqType type, IqTarget target, std::string_view ns) const;

  // What disco#info announces for the host itself, or for each local
  // account's bare JID (IqTarget::Account: XEP-0313 archives, PEP).
  const std::set<std::string>& disco_features(IqTarget target = IqTarget::Host) const {
    return disco_[index(target)].features;
  }
  const std::set<DiscoIdentity>& disco_identities(IqTarget target = IqTarget::Host) const {
    return disco_[index(target)].identities;
  }
  const std::set<std::string>& disco_items() const { return items_; }
  // Changes whenever a feature or identity comes or goes, so what is derived
  // from them (the XEP-0115 caps hash) can be kept until it does.
  uint64_t disco_generation() const { return disco_generation_; }
  const std::vector<std::string>& enabled_modules() const { return enabled_modules_; }

  // Starts a module for this host; the context lives until the host goes.
  void start_module(const struct ModuleDefinition& definition);

  // Modules' state that outlives a reload (ModuleContext::carried), by module.
  using Carried = std::map<std::string, std::shared_ptr<void>, std::less<>>;
  // On reload the worker moves the old host's carried state to its
  // successor before starting the modules, then drops what no enabled
  // module took up again.
  Carried take_carried() { return std::move(carried_); }
  void inherit_carried(Carried carried) { carried_ = std::move(carried); }
  void drop_carried_of_disabled();

 private:
  friend class ModuleContext;
  std::string name_;
  Services& services_;
  HookBus hooks_;
  struct DiscoInfo {
    std::set<std::string> features;
    std::set<DiscoIdentity> identities;
  };
  static std::size_t index(IqTarget target) { return target == IqTarget::Host ? 0 : 1; }
  std::map<std::string, IqHandler, std::less<>> iq_handlers_;
  DiscoInfo disco_[2];  // by index(IqTarget)
  uint64_t disco_generation_ = 0;
  std::set<std::string> items_;
  std::vector<std::string> enabled_modules_;
  std::vector<std::unique_ptr<ModuleContext>> modules_;
  Carried carried_;
};

// Base for a module's own state, kept alive by its context.
class ModuleState {
 public:
  virtual ~ModuleState() = default;
  // Worker-shared state (Services::shared_state) is told when the server
  // shuts down (SIGTERM), to end its own streams politely; it is destroyed
  // with the worker afterwards.
  virtual void shutdown() {}
};

class ModuleContext {
 public:
  ModuleContext(HostContext& host, std::string module_name);
  ~ModuleContext();
  ModuleContext(const ModuleContext&) = delete;
  ModuleContext& operator=(const ModuleContext&) = delete;

  const std::string& host() const { return host_.name(); }
  HostContext& host_context() { return host_; }
  const std::string& module_name() const { return name_; }

  // Registration; all of it is undone when the context is destroyed.
  void on_iq(IqType type, std::string_view ns, IqHandler handler, IqTarget target = IqTarget::Host);
  template <class Event>
  void on(EventKey<Event> key, int priority, std::type_identity_t<std::function<HookResult(Event&)>> handler) {
    hook_registrations_.push_back(host_.hooks().on(key, priority, std::move(handler)));
  }
  // Announced by disco#info for the host, or (IqTarget::Account) for every
  // local account's bare JID.
  void add_disco_feature(std::string feature, IqTarget target = IqTarget::Host);
  void add_disco_identity(DiscoIdentity identity, IqTarget target = IqTarget::Host);
  // A JID listed in the host's disco#items (components such as proxy.<host>).
  void add_disco_item(std::string jid);
  // Serves an HTTP path prefix on the server's HTTP listeners (net/http_server.hpp);
  // a prefix can belong to one module only.
  void on_http(std::string prefix, std::function<void(std::shared_ptr<net::HttpExchange>)> handler);
  // The base URL of the HTTP server as clients reach it for this host
  // (http.external_url, or https://<host>:<http.tls_port>/), ending in '/'.
  std::string http_base_url();
  // Serves a component domain: stanzas to `domain` (not a configured host)
  // go to `handler` instead of route/remote. One module per domain.
  void serve_component(std::string domain, ComponentHandler handler);
  template <class State>
  State& keep(std::unique_ptr<State> state) {
    State& ref = *state;
    states_.push_back(std::move(state));
    return ref;
  }

  // State that survives a SIGHUP reload: the module's next start on this
  // host gets the same object back (facts about live sessions, which no
  // query can rebuild). It goes when the module is disabled or the host
  // removed. A module always asks for it with the same State type.
  template <class State>
  State& carried() {
    std::shared_ptr<void>& slot = host_.carried_[name_];
    if (!slot) slot = std::make_shared<State>();
    return *static_cast<State*>(slot.get());
  }

  // Services. Option accessors read "modules.<module>.<name>" for this host.
  Router& router();
  store::PgClient& database();
  core::Logger& log();
  uv_loop_t* loop();
  // For modules that run their own listeners (the SOCKS5 proxy).
  net::NetLoop& net();
  const core::Config& config();
  bool option_bool(std::string_view name);
  int64_t option_int(std::string_view name);
  const std::string& option_string(std::string_view name);
  uint64_t option_size(std::string_view name);

 private:
  std::string option_key(std::string_view name) const;
  HostContext& host_;
  std::string name_;
  std::vector<HookRegistration> hook_registrations_;
  std::vector<std::string> iq_keys_;
  std::vector<std::pair<IqTarget, std::string>> features_;
  std::vector<std::pair<IqTarget, DiscoIdentity>> identities_;
  std::vector<std::string> items_;
  std::vector<net::HttpRoute> http_routes_;
  std::vector<std::string> components_;
  std::vector<std::unique_ptr<ModuleState>> states_;
};

// What parleyctl offers a module's administration commands: the loaded
// config and, on demand, a blocking database connection (never in parleyd).
struct CliContext {
  const core::Config& config;
  std::function<store::PgSync*()> database;  // null result: the error was printed
};

// `parleyctl NAME ARGS...`, for a module's own administration (e.g. `sms test`).
// Returns parleyctl's exit code (0 ok, 1 failed, 2 usage).
struct ModuleCommand {
  std::string_view name;
  std::string_view usage;  // the lines for parleyctl --help
  int (*run)(CliContext& cli, const std::vector<std::string>& args);
};

// `parleyctl user add JID --FLAG VALUE`: a module's data for the new account,
// written inside the account's creation transaction; returns what went
// wrong, or an empty string.
struct UserAddOption {
  std::string_view flag;  // without the dashes
  std::string_view usage;
  std::string (*apply)(CliContext& cli, store::PgSync& db, const std::string& host, const std::string& username,
                       const std::string& value);
};

// What a module is: a name, the specs it implements (for docs/PROTOCOLS.md),
// its options (declared before the config is loaded) and its start function;
// optionally what it adds to parleyctl.
struct ModuleDefinition {
  std::string_view name;
  std::string_view summary;
  std::vector<std::string_view> specs;  // "XEP-0199", "RFC 6121 §2" …
  void (*declare_options)(core::OptionRegistry&);  // may be null
  void (*start)(ModuleContext&);
  std::vector<ModuleCommand> commands = {};
  std::vector<UserAddOption> user_add_options = {};
};

// What the core offers modules; implemented by the worker.
class Services {
 public:
  virtual ~Services() = default;
  virtual Router& router() = 0;
  virtual store::PgClient& database() = 0;
  virtual core::Logger& log() = 0;
  virtual uv_loop_t* loop() = 0;
  virtual const core::Config& config() = 0;
  // The virtual host (or component) served here for a domain, or null.
  virtual HostContext* find_host(std::string_view domain) = 0;
  virtual class SessionRegistry& sessions() = 0;
  // Asynchronous account creation and password changes (src/xmpp/accounts.hpp).
  virtual class AccountStore& accounts() = 0;
  virtual net::NetLoop& net() = 0;
  virtual net::HttpRoutes& http_routes() = 0;
  // Component domains served by modules (ModuleContext::serve_component),
  // each on behalf of the virtual host whose module serves it.
  virtual void add_component(std::string domain, std::string owner_host, ComponentHandler handler) = 0;
  virtual void remove_component(std::string_view domain) = 0;
  virtual const ComponentHandler* find_component(std::string_view domain) = 0;
  // The virtual host that serves a component domain, or null: what the
  // component sends leaves through that host's modules (federation).
  virtual HostContext* component_owner(std::string_view domain) = 0;
  // Deletes an account and all its data, telling its contacts
  // (src/xmpp/account_removal.hpp); `done` gets an empty string on success.
  virtual void delete_account(const std::string& host, const std::string& username,
                              std::function<void(std::string error)> done) = 0;
  // The worker's asynchronous DNS resolver (c-ares, `dns.*` options); null if
  // c-ares could not start (then only IP addresses can be reached).
  virtual net::Resolver* resolver() = 0;
  // State shared by every host's instance of a module on this worker (s2s:
  // one listener and one set of links for all local domains). Made by `make`
  // on first use, kept across reloads, destroyed with the worker before its
  // network loop.
  using SharedStateFactory = std::function<std::unique_ptr<ModuleState>()>;
  virtual ModuleState& shared_state(std::string_view key, const SharedStateFactory& make) = 0;
};

}  // namespace parley::xmpp
