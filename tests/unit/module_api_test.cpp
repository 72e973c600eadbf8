// The module API exercised by a small test module: registration, routing to
// it through the real router, fault isolation, and symmetric teardown.
#include <doctest/doctest.h>

#include <map>
#include <set>
#include <stdexcept>
#include <vector>

#include "core/config.hpp"
#include "core/log.hpp"
#include "net/net_loop.hpp"
#include "store/pg_client.hpp"
#include "xml/writer.hpp"
#include "xmpp/accounts.hpp"
#include "xmpp/module_api.hpp"
#include "xmpp/router.hpp"
#include "xmpp/session_registry.hpp"

using namespace parley;
using namespace parley::xmpp;

namespace {

// A client session that records what it is sent.
class RecordingSession : public Session {
 public:
  explicit RecordingSession(const char* jid) : Session(1) { set_jid(*Jid::parse(jid)); }
  void send(const xml::Element& stanza) override { sent.push_back(stanza); }
  void send_serialized(std::string_view bytes, const xml::Element*) override { serialized.emplace_back(bytes); }
  void close_with_stream_error(std::string_view, std::string_view) override {}
  std::vector<xml::Element> sent;
  std::vector<std::string> serialized;
};

// Just enough of a worker: one host, a session registry, a router. The
// database client is never started (the test module does not use it).
class TestServices : public Services {
 public:
  TestServices() : database_(uv_default_loop(), "dbname=unused"), router_(*this) {}
  Router& router() override { return router_; }
  store::PgClient& database() override { return database_; }
  core::Logger& log() override { return log_; }
  uv_loop_t* loop() override { return uv_default_loop(); }
  const core::Config& config() override { throw std::logic_error("the test module reads no options"); }
  HostContext* find_host(std::string_view domain) override { return domain == "test.example" ? host.get() : nullptr; }
  SessionRegistry& sessions() override { return sessions_; }
  net::Resolver* resolver() override { return nullptr; }
  ModuleState& shared_state(std::string_view, const SharedStateFactory&) override {
    throw std::logic_error("the test module shares no state");
  }
  AccountStore& accounts() override { throw std::logic_error("the test module creates no accounts"); }
  net::NetLoop& net() override { return net_; }
  net::HttpRoutes& http_routes() override { return http_routes_; }
  void add_component(std::string domain, std::string, ComponentHandler handler) override {
    components_[std::move(domain)] = std::move(handler);
  }
  void remove_component(std::string_view domain) override { components_.erase(std::string(domain)); }
  const ComponentHandler* find_component(std::string_view domain) override {
    auto it = components_.find(std::string(domain));
    return it == components_.end() ? nullptr : &it->second;
  }
  HostContext* component_owner(std::string_view domain) override {
    return find_component(domain) ? host.get() : nullptr;
  }
  void delete_account(const std::string&, const std::string&, std::function<void(std::string)> done) override {
    done("the test worker has no accounts");
  }
  std::unique_ptr<HostContext> host;

 private:
  net::NetLoop net_{uv_default_loop()};
  net::HttpRoutes http_routes_;
  std::map<std::string, ComponentHandler> components_;
  store::PgClient database_;
  core::Logger log_{core::LogLevel::Error};
  SessionRegistry sessions_;
  Router router_;
};

constexpr std::string_view kEchoNs = "urn:test:echo";
int messages_seen = 0;

// The test module: echoes IQ payloads, counts messages to the host, and
// throws on request to show fault isolation.
void start_echo(ModuleContext& ctx) {
  ctx.add_disco_feature(std::string(kEchoNs));
  ctx.add_disco_feature("urn:test:echo:account", IqTarget::Account);
  ctx.on_iq(IqType::Get, kEchoNs, [](const IqRequest& request) {
    if (request.payload().attr("fail") == "1") throw std::runtime_error("asked to fail");
    request.reply(request.payload());
  });
  ctx.on(events::message_to_host, 10, [](StanzaEvent&) {
    ++messages_seen;
    return HookResult::Handled;
  });
}
const ModuleDefinition echo_module{"echo", "test module", {}, nullptr, start_echo};

xml::Element iq_get(const char* payload_attr_fail) {
  xml::Element iq("iq", "jabber:client");
  iq.set_attr("type", "get");
  iq.set_attr("id", "q1");
  iq.set_attr("to", "test.example");
  iq.set_attr("from", "user@test.example/r");
  xml::Element& echo = iq.append(xml::Element("echo", std::string(kEchoNs)));
  echo.set_attr("fail", payload_attr_fail);
  return iq;
}

}  // namespace

TEST_CASE("a module registers, is routed to, is isolated when it throws, and unregisters") {
  TestServices services;
  services.host = std::make_unique<HostContext>("test.example", services);
  RecordingSession user("user@test.example/r");
  services.sessions().bind(user);
  user.set_presence(xml::Element("presence", "jabber:client"), true, 0);

  services.host->start_module(echo_module);
  CHECK(services.host->disco_features().count(std::string(kEchoNs)) == 1);
  // Announced for the accounts' bare JIDs only, not for the host.
  CHECK(services.host->disco_features(IqTarget::Account) == std::set<std::string>{"urn:test:echo:account"});
  CHECK(services.host->disco_features().count("urn:test:echo:account") == 0);
  CHECK(services.host->find_iq(IqType::Get, IqTarget::Host, kEchoNs));
  CHECK(services.host->enabled_modules() == std::vector<std::string>{"echo"});

  services.router().route_from_session(user, iq_get("0"));
  REQUIRE(user.sent.size() == 1);
  CHECK(xml::to_string(user.sent[0], "jabber:client") ==
        "<iq to='user@test.example/r' from='test.example' id='q1' type='result'><echo xmlns='urn:test:echo' "
        "fail='0'/></iq>");

  services.router().route_from_session(user, iq_get("1"));
  REQUIRE(user.sent.size() == 2);
  CHECK(user.sent[1].attr("type") == "error");
  CHECK(user.sent[1].first_child("error")->first_child("internal-server-error"));

  xml::Element message("message", "jabber:client");
  message.set_attr("to", "test.example");
  message.set_attr("from", "user@test.example/r");
  messages_seen = 0;
  services.router().route_from_session(user, message);
  CHECK(messages_seen == 1);
  CHECK(user.sent.size() == 2);  // handled by the module: no error back

  // Starting the same module twice claims the same IQ: refused loudly.
  CHECK_THROWS_AS(services.host->start_module(echo_module), std::runtime_error);

  // Dropping the host stops its modules: everything they registered goes.
  services.host = std::make_unique<HostContext>("test.example", services);
  CHECK_FALSE(services.host->find_iq(IqType::Get, IqTarget::Host, kEchoNs));
  CHECK(services.host->disco_features().empty());
  services.router().route_from_session(user, iq_get("0"));
  REQUIRE(user.sent.size() == 3);
  CHECK(user.sent[2].first_child("error")->first_child("service-unavailable"));
  services.router().route_from_session(user, message);
  CHECK(messages_seen == 1);
  services.sessions().unbind(user);
}

TEST_CASE("hook bus: priorities, Handled stops the chain, unregistering during a fire") {
  HookBus bus;
  constexpr EventKey<std::vector<int>> key{"test/event"};
  HookRegistration low = bus.on(key, 1, [](std::vector<int>& seen) {
    seen.push_back(1);
    return HookResult::Pass;
  });
  HookRegistration self_removing;
  self_removing = bus.on(key, 5, [&](std::vector<int>& seen) {
    seen.push_back(5);
    self_removing.reset();
    return HookResult::Pass;
  });
  HookRegistration high = bus.on(key, 9, [](std::vector<int>& seen) {
    seen.push_back(9);
    return seen.size() > 3 ? HookResult::Handled : HookResult::Pass;
  });
  std::vector<int> seen;
  CHECK(bus.fire(key, seen) == HookResult::Pass);
  CHECK(seen == std::vector<int>{9, 5, 1});
  CHECK(bus.fire(key, seen) == HookResult::Handled);  // 9 sees 4 entries and stops the chain
  CHECK(seen == std::vector<int>{9, 5, 1, 9});
  high.reset();
  seen.clear();
  CHECK(bus.fire(key, seen) == HookResult::Pass);
  CHECK(seen == std::vector<int>{1});
  low.reset();
  CHECK_FALSE(bus.has_handlers("test/event"));
}

TEST_CASE("a component domain served by a module gets its stanzas until the module stops") {
  TestServices services;
  services.host = std::make_unique<HostContext>("test.example", services);
  RecordingSession user("user@test.example/r");
  services.sessions().bind(user);
  static std::vector<std::string> seen;
  seen.clear();
  const ModuleDefinition component_module{"component", "test component", {}, nullptr, [](ModuleContext& ctx) {
                                            ctx.serve_component("comp.test.example", [](RoutedStanza& s) {
                                              seen.push_back(s.to.str() + " from " + s.from.str());
                                            });
                                          }};
  services.host->start_module(component_module);
  xml::Element message("message", "jabber:client");
  message.set_attr("to", "comp.test.example");
  services.router().route_from_session(user, message);
  message.set_attr("to", "room@comp.test.example/nick");
  services.router().route_from_session(user, message);
  CHECK(seen == std::vector<std::string>{"comp.test.example from user@test.example/r",
                                         "room@comp.test.example/nick from user@test.example/r"});
  CHECK(user.sent.empty());

  // A second module claiming the same domain is refused.
  CHECK_THROWS_AS(services.host->start_module(component_module), std::runtime_error);

  services.host = std::make_unique<HostContext>("test.example", services);
  message.set_attr("to", "comp.test.example");
  services.router().route_from_session(user, message);
  CHECK(seen.size() == 2);
  REQUIRE(user.sent.size() == 1);
  CHECK(user.sent[0].first_child("error")->first_child("remote-server-not-found"));
  services.sessions().unbind(user);
}
