#include "xmpp/module_api.hpp"

#include <algorithm>
#include <stdexcept>

#include "core/config.hpp"
#include "xmpp/router.hpp"

namespace parley::xmpp {

namespace {
std::string iq_key(IqType type, IqTarget target, std::string_view ns) {
  std::string key = type == IqType::Get ? "get " : "set ";
  key += target == IqTarget::Host ? "host " : "account ";
  key += ns;
  return key;
}
}  // namespace

IqRequest::IqRequest(Router& router, const xml::Element& stanza, Jid from, Jid to)
    : router_(&router), stanza_(stanza), from_(std::move(from)), to_(std::move(to)) {}

void IqRequest::reply() const {
  router_->send_from_server(make_iq_result(stanza_));
}

void IqRequest::reply(xml::Element payload) const {
  xml::Element result = make_iq_result(stanza_);
  result.append(std::move(payload));
  router_->send_from_server(std::move(result));
}

void IqRequest::error(StanzaErrorCondition condition, std::string_view text) const {
  router_->send_from_server(make_error_reply(stanza_, condition, text));
}

HostContext::HostContext(std::string name, Services& services)
    : name_(std::move(name)), services_(services) {}

// Modules go first, in reverse start order, while the tables they unregister
// from still exist.
HostContext::~HostContext() {
  while (!modules_.empty()) modules_.pop_back();
}

const IqHandler* HostContext::find_iq(IqType type, IqTarget target, std::string_view ns) const {
  auto it = iq_handlers_.find(iq_key(type, target, ns));
  return it == iq_handlers_.end() ? nullptr : &it->second;
}

void HostContext::start_module(const ModuleDefinition& definition) {
  auto context = std::make_unique<ModuleContext>(*this, std::string(definition.name));
  definition.start(*context);
  modules_.push_back(std::move(context));
  enabled_modules_.emplace_back(definition.name);
}

void HostContext::drop_carried_of_disabled() {
  std::erase_if(carried_, [this](const auto& entry) {
    return std::find(enabled_modules_.begin(), enabled_modules_.end(), entry.first) == enabled_modules_.end();
  });
}

ModuleContext::ModuleContext(HostContext& host, std::string module_name)
    : host_(host), name_(std::move(module_name)) {}

ModuleContext::~ModuleContext() {
  hook_registrations_.clear();
  http_routes_.clear();
  for (const std::string& domain : components_) host_.services().remove_component(domain);
  for (const std::string& key : iq_keys_) host_.iq_handlers_.erase(key);
  for (const auto& [target, feature] : features_) host_.disco_[HostContext::index(target)].features.erase(feature);
  for (const auto& [target, identity] : identities_)
    host_.disco_[HostContext::index(target)].identities.erase(identity);
  if (!features_.empty() || !identities_.empty()) ++host_.disco_generation_;
  for (const std::string& item : items_) host_.items_.erase(item);
  std::erase(host_.enabled_modules_, name_);
  states_.clear();
}

void ModuleContext::on_iq(IqType type, std::string_view ns, IqHandler handler, IqTarget target) {
  std::string key = iq_key(type, target, ns);
  if (host_.iq_handlers_.count(key)) {
    // Two modules claiming one namespace is a configuration mistake; say so at start.
    throw std::runtime_error("module " + name_ + ": " + key + " is already handled by another module");
  }
  host_.iq_handlers_[key] = std::move(handler);
  iq_keys_.push_back(std::move(key));
}

void ModuleContext::add_disco_feature(std::string feature, IqTarget target) {
  host_.disco_[HostContext::index(target)].features.insert(feature);
  ++host_.disco_generation_;
  features_.emplace_back(target, std::move(feature));
}

void ModuleContext::add_disco_identity(DiscoIdentity identity, IqTarget target) {
  host_.disco_[HostContext::index(target)].identities.insert(identity);
  ++host_.disco_generation_;
  identities_.emplace_back(target, std::move(identity));
}

void ModuleContext::add_disco_item(std::string jid) {
  host_.items_.insert(jid);
  items_.push_back(std::move(jid));
}

void ModuleContext::on_http(std::string prefix, std::function<void(std::shared_ptr<net::HttpExchange>)> handler) {
  http_routes_.push_back(host_.services().http_routes().add(std::move(prefix), std::move(handler)));
}

std::string ModuleContext::http_base_url() {
  std::string url = config().get_string("http.external_url", host());
  if (url.empty()) url = "https://" + host() + ":" + std::to_string(config().get_int("http.tls_port")) + "/";
  if (url.back() != '/') url += '/';
  return url;
}

void ModuleContext::serve_component(std::string domain, ComponentHandler handler) {
  if (host_.services().find_component(domain) || host_.services().find_host(domain)) {
    throw std::runtime_error("module " + name_ + ": " + domain + " is already served");
  }
  host_.services().add_component(domain, host_.name(), std::move(handler));
  components_.push_back(std::move(domain));
}

net::NetLoop& ModuleContext::net() { return host_.services().net(); }

Router& ModuleContext::router() { return host_.services().router(); }
store::PgClient& ModuleContext::database() { return host_.services().database(); }
core::Logger& ModuleContext::log() { return host_.services().log(); }
uv_loop_t* ModuleContext::loop() { return host_.services().loop(); }
const core::Config& ModuleContext::config() { return host_.services().config(); }

std::string ModuleContext::option_key(std::string_view name) const {
  std::string key = "modules.";
  key += name_;
  key += '.';
  key += name;
  return key;
}

bool ModuleContext::option_bool(std::string_view name) {
  return config().get_bool(option_key(name), host());
}
int64_t ModuleContext::option_int(std::string_view name) {
  return config().get_int(option_key(name), host());
}
const std::string& ModuleContext::option_string(std::string_view name) {
  return config().get_string(option_key(name), host());
}
uint64_t ModuleContext::option_size(std::string_view name) {
  return config().get_size(option_key(name), host());
}

}  // namespace parley::xmpp
