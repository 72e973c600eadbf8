// XEP-0065: SOCKS5 Bytestreams, the proxy side, as the component
// proxy.<host>. Clients discover it through the host's disco#items, ask it
// for its network address (§6.3.1), both connect to it with the stream's
// hash, and the initiator activates the stream (§6.3.3); the relay itself is
// relay.cpp. The offer between the two clients is an ordinary IQ that the
// router passes between them.
#include "core/config.hpp"
#include "core/log.hpp"
#include "core/option.hpp"
#include "modules/proxy65/relay.hpp"
#include "xmpp/module_api.hpp"
#include "xmpp/router.hpp"

namespace parley::modules {

namespace {

constexpr std::string_view kBytestreams = "http://jabber.org/protocol/bytestreams";
constexpr std::string_view kDiscoInfo = "http://jabber.org/protocol/disco#info";
constexpr std::string_view kDiscoItems = "http://jabber.org/protocol/disco#items";

void declare_options(core::OptionRegistry& registry) {
  registry.add_section("modules.proxy65", "SOCKS5 bytestreams proxy (XEP-0065) as the component proxy.<host>.");
  registry.add({.key = "modules.proxy65.port", .type = core::OptionType::Integer, .default_value = "7777",
                .min = 0, .max = 65535,
                .doc = "TCP port of the SOCKS5 listener (0 picks a free one). Give each host its own port.",
                .per_host = true});
  registry.add({.key = "modules.proxy65.bind_address", .type = core::OptionType::String,
                .default_value = "\"0.0.0.0\"", .doc = "Address the SOCKS5 listener binds to.", .per_host = true});
  registry.add({.key = "modules.proxy65.public_address", .type = core::OptionType::String, .default_value = "\"\"",
                .doc = "Host name or IP address clients are told to connect to; empty means the host's domain.",
                .per_host = true});
  registry.add({.key = "modules.proxy65.bandwidth", .type = core::OptionType::Size, .default_value = "\"0B\"",
                .doc = "Most bytes per second relayed in each direction of one transfer; 0 means no limit.",
                .per_host = true});
  registry.add({.key = "modules.proxy65.activation_timeout", .type = core::OptionType::Duration,
                .default_value = "\"60s\"", .min = 1'000, .max = 3'600'000,
                .doc = "A connection whose stream is not activated within this time is closed.", .per_host = true});
}

// The relay outlives a SIGHUP reload (ModuleContext::carried), so transfers
// in progress go on; it is replaced only when its address or port changed.
struct CarriedRelay {
  std::unique_ptr<proxy65::Relay> relay;
  std::string address;
  int64_t port = -1;
};

struct ProxyModule : xmpp::ModuleState {
  std::string host, jid, public_address;
  proxy65::Relay* relay = nullptr;
  xmpp::Router* router = nullptr;
};

xml::Element disco_info() {
  xml::Element query("query", std::string(kDiscoInfo));
  xml::Element& identity = query.append(xml::Element("identity", std::string(kDiscoInfo)));
  identity.set_attr("category", "proxy");
  identity.set_attr("type", "bytestreams");
  identity.set_attr("name", "SOCKS5 Bytestreams");
  for (std::string_view var : {kDiscoInfo, kBytestreams}) {
    query.append(xml::Element("feature", std::string(kDiscoInfo))).set_attr("var", std::string(var));
  }
  return query;
}

void activate(ProxyModule& proxy, const xmpp::IqRequest& iq, const xml::Element& query) {
  const xml::Element* target_element = query.first_child("activate", kBytestreams);
  std::string sid(query.attr("sid"));
  std::optional<xmpp::Jid> target = target_element ? xmpp::Jid::parse(target_element->text()) : std::nullopt;
  if (sid.empty() || !target) {
    iq.error(xmpp::errors::bad_request, "activation needs a sid and the target's JID");
    return;
  }
  // §6.3.3: the hash binds the stream to the requester (the IQ's sender) and target.
  switch (proxy.relay->activate(proxy65::stream_hash(sid, iq.from().str(), target->str()))) {
    case proxy65::ActivateResult::Activated:
      iq.reply();
      return;
    case proxy65::ActivateResult::NoSuchStream:
      iq.error(xmpp::errors::item_not_found, "no connection for that stream");
      return;
    case proxy65::ActivateResult::NotBothConnected:
      iq.error(xmpp::errors::not_acceptable, "the other party has not connected yet");
      return;
    case proxy65::ActivateResult::AlreadyActive:
      iq.error(xmpp::errors::not_acceptable, "that stream is already active");
      return;
  }
}

void component(ProxyModule& proxy, xmpp::RoutedStanza& s) {
  proxy.router->refuse_message(s);  // the proxy takes no messages
  if (s.kind != xmpp::StanzaKind::Iq || (s.type != "get" && s.type != "set")) return;
  s.element.set_attr("from", s.from.str());
  const xml::Element& payload = *s.element.first_child();
  xmpp::IqRequest iq(*proxy.router, s.element, s.from, s.to);
  bool query = payload.name() == "query";
  if (!s.to.is_domain()) {
    iq.error(xmpp::errors::service_unavailable);
  } else if (s.type == "get" && query && payload.ns() == kDiscoInfo) {
    iq.reply(disco_info());
  } else if (s.type == "get" && query && payload.ns() == kDiscoItems) {
    iq.reply(xml::Element("query", std::string(kDiscoItems)));
  } else if (query && payload.ns() == kBytestreams && s.from.domain() != proxy.host) {
    // §6.3.1: a proxy may serve its own users only; this one does.
    iq.error(xmpp::errors::forbidden, "this proxy serves accounts of " + proxy.host);
  } else if (s.type == "get" && query && payload.ns() == kBytestreams) {
    xml::Element answer("query", std::string(kBytestreams));
    xml::Element& host = answer.append(xml::Element("streamhost", std::string(kBytestreams)));
    host.set_attr("jid", proxy.jid);
    host.set_attr("host", proxy.public_address);
    host.set_attr("port", std::to_string(proxy.relay->port()));
    iq.reply(std::move(answer));
  } else if (s.type == "set" && query && payload.ns() == kBytestreams) {
    activate(proxy, iq, payload);
  } else {
    iq.error(xmpp::errors::service_unavailable);
  }
}

void start(xmpp::ModuleContext& ctx) {
  auto& proxy = ctx.keep(std::make_unique<ProxyModule>());
  proxy.host = ctx.host();
  proxy.jid = "proxy." + ctx.host();
  proxy.public_address = ctx.option_string("public_address");
  if (proxy.public_address.empty()) proxy.public_address = ctx.host();
  proxy.router = &ctx.router();
  uint64_t bandwidth = ctx.option_size("bandwidth");
  auto activation_timeout =
      static_cast<uint64_t>(ctx.config().get_duration("modules.proxy65.activation_timeout", ctx.host()).count());
  auto& carried = ctx.carried<CarriedRelay>();
  const std::string& address = ctx.option_string("bind_address");
  int64_t port = ctx.option_int("port");
  if (carried.relay && carried.address == address && carried.port == port) {
    carried.relay->set_limits(bandwidth, activation_timeout);
  } else {
    carried.relay.reset();  // its port is released before the new one is bound
    auto relay = std::make_unique<proxy65::Relay>(ctx.net(), bandwidth, activation_timeout);
    std::string error;
    if (!relay->listen(address, static_cast<uint16_t>(port), error)) {
      throw std::runtime_error("proxy65: cannot listen: " + error);
    }
    carried = CarriedRelay{std::move(relay), address, port};
    ctx.log().info("proxy65", 0, proxy.jid, " listening on port ", carried.relay->port());
  }
  proxy.relay = carried.relay.get();
  ctx.add_disco_item(proxy.jid);
  // The state outlives the component registration (kept first, dropped last).
  ctx.serve_component(proxy.jid, [&proxy](xmpp::RoutedStanza& s) { component(proxy, s); });
}

}  // namespace

extern const xmpp::ModuleDefinition proxy65_module{
    "proxy65", "SOCKS5 bytestreams proxy as the component proxy.<host>.", {"XEP-0065"}, declare_options, start};

}  // namespace parley::modules
