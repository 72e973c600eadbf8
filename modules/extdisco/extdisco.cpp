// XEP-0215: External Service Discovery — where the host's STUN and TURN
// server is, with short-lived TURN credentials, so that clients can set up
// audio and video calls (Jingle) across NATs. The credentials follow the
// TURN REST API convention that coturn's `use-auth-secret` checks: username
// "<expiry>:<user>", password base64(HMAC-SHA1(shared secret, username)).
#include <chrono>
#include <ctime>
#include <vector>

#include "core/base64.hpp"
#include "core/config.hpp"
#include "core/datetime.hpp"
#include "core/option.hpp"
#include "xmpp/module_api.hpp"
#include "xmpp/sasl/scram_crypto.hpp"

namespace parley::modules {

namespace {
constexpr std::string_view kNs = "urn:xmpp:extdisco:2";

void declare_options(core::OptionRegistry& registry) {
  registry.add_section("modules.extdisco", "External service discovery (XEP-0215): the STUN/TURN server for calls.");
  registry.add({.key = "modules.extdisco.turn_host", .type = core::OptionType::String, .default_value = "\"\"",
                .doc = "Host name or address of the STUN/TURN server (such as coturn) that clients use for calls; "
                       "empty announces no services.",
                .per_host = true});
  registry.add({.key = "modules.extdisco.turn_port", .type = core::OptionType::Integer, .default_value = "3478",
                .min = 1, .max = 65535, .doc = "Its STUN/TURN port, UDP and TCP.", .per_host = true});
  registry.add({.key = "modules.extdisco.turn_tls_port", .type = core::OptionType::Integer, .default_value = "0",
                .min = 0, .max = 65535, .doc = "Its TURN-over-TLS port (`turns`); 0 announces none.", .per_host = true});
  registry.add({.key = "modules.extdisco.secret", .type = core::OptionType::String, .default_value = "\"\"",
                .doc = "The secret shared with the TURN server (coturn's `static-auth-secret` with "
                       "`use-auth-secret`); empty announces STUN only, since TURN needs credentials.",
                .per_host = true});
  registry.add({.key = "modules.extdisco.credential_ttl", .type = core::OptionType::Duration,
                .default_value = "\"1d\"", .min = 60'000, .max = 30LL * 86'400'000,
                .doc = "How long the TURN credentials handed to a client stay valid.", .per_host = true});
}

struct Settings {
  std::string host;
  int64_t port = 0;
  int64_t tls_port = 0;
  std::string secret;
  int64_t ttl_s = 0;
};

struct Service {
  std::string_view type, transport;
  int64_t port;
};

// What the host offers: STUN always, TURN over UDP and TCP (and TLS) only
// with a secret to make credentials from.
std::vector<Service> services_of(const Settings& s) {
  std::vector<Service> services{{"stun", "udp", s.port}};
  if (s.secret.empty()) return services;
  services.push_back({"turn", "udp", s.port});
  services.push_back({"turn", "tcp", s.port});
  if (s.tls_port != 0) services.push_back({"turns", "tcp", s.tls_port});
  return services;
}

xml::Element service_element(const Settings& s, const Service& service, const std::string& user) {
  xml::Element e("service", std::string(kNs));
  e.set_attr("type", std::string(service.type));
  e.set_attr("host", s.host);
  e.set_attr("port", std::to_string(service.port));
  e.set_attr("transport", std::string(service.transport));
  if (service.type == "stun") return e;
  const std::time_t expires = std::time(nullptr) + s.ttl_s;
  const std::string username = std::to_string(expires) + ":" + user;
  e.set_attr("username", username);
  e.set_attr("password",
             core::base64_encode(xmpp::sasl::scram_hmac(xmpp::sasl::ScramHash::Sha1, s.secret, username)));
  e.set_attr("expires", core::xep0082_datetime(expires));
  e.set_attr("restricted", "1");  // XEP-0215 §4: the credentials are short-lived
  return e;
}

// XEP-0215 §3.1 (<services/>, optionally of one type) and §3.3
// (<credentials/> for one service, by host and type).
void answer(const Settings& s, const std::string& local_host, const xmpp::IqRequest& request) {
  // TURN credentials cost the server's relay bandwidth: for local users only.
  if (request.from().domain() != local_host || request.from().node().empty()) {
    request.error(xmpp::errors::forbidden, "services are for this server's own users");
    return;
  }
  const xml::Element& asked = request.payload();
  const std::string user = request.from().bare_str();
  xml::Element reply(asked.name(), std::string(kNs));
  if (asked.name() == "services") {
    std::string_view type = asked.attr("type");
    if (!type.empty()) reply.set_attr("type", std::string(type));
    if (s.host.empty()) return request.reply(std::move(reply));
    for (const Service& service : services_of(s)) {
      if (type.empty() || service.type == type) reply.append(service_element(s, service, user));
    }
    return request.reply(std::move(reply));
  }
  if (asked.name() == "credentials") {
    const xml::Element* wanted = asked.first_child("service", kNs);
    if (!wanted || wanted->attr("host").empty() || wanted->attr("type").empty()) {
      request.error(xmpp::errors::bad_request, "expected <service host='…' type='…'/>");
      return;
    }
    for (const Service& service : services_of(s)) {
      if (s.host.empty() || wanted->attr("host") != s.host || wanted->attr("type") != service.type) continue;
      reply.append(service_element(s, service, user));
    }
    if (reply.element_count() == 0) return request.error(xmpp::errors::item_not_found);
    return request.reply(std::move(reply));
  }
  request.error(xmpp::errors::bad_request, "expected <services/> or <credentials/>");
}

void start(xmpp::ModuleContext& ctx) {
  Settings settings;
  settings.host = ctx.option_string("turn_host");
  settings.port = ctx.option_int("turn_port");
  settings.tls_port = ctx.option_int("turn_tls_port");
  settings.secret = ctx.option_string("secret");
  settings.ttl_s = ctx.config().get_duration("modules.extdisco.credential_ttl", ctx.host()).count() / 1000;
  ctx.add_disco_feature(std::string(kNs));
  ctx.on_iq(xmpp::IqType::Get, kNs, [settings, host = ctx.host()](const xmpp::IqRequest& request) {
    answer(settings, host, request);
  });
}
}  // namespace

extern const xmpp::ModuleDefinition extdisco_module{
    "extdisco", "Tells clients where the STUN/TURN server for calls is, with short-lived TURN credentials.",
    {"XEP-0215"}, declare_options, start};

}  // namespace parley::modules
