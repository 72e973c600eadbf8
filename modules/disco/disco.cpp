// XEP-0030: Service Discovery — what this host is and which features its
// enabled modules registered. Items come from modules that add components.
// XEP-0115: the same information hashed into a caps stream feature. The
// accounts' own disco#info and #items: account_info.cpp.
#include "modules/disco/account_info.hpp"
#include "modules/disco/caps.hpp"
#include "modules/disco/info_query.hpp"
#include "xmpp/module_api.hpp"

namespace parley::modules {

namespace {
using disco::kInfoNs;
using disco::kItemsNs;

void start(xmpp::ModuleContext& ctx) {
  ctx.add_disco_identity({"server", "im", "Parley"});
  ctx.add_disco_feature(std::string(kInfoNs));
  ctx.add_disco_feature(std::string(kItemsNs));
  xmpp::HostContext& host = ctx.host_context();
  auto caps = std::make_shared<disco::CapsVerCache>(host);

  ctx.on_iq(xmpp::IqType::Get, kInfoNs, [&host, caps](const xmpp::IqRequest& request) {
    // The only node the server answers for is its caps node (XEP-0115 §6.2).
    std::string_view node = request.payload().attr("node");
    if (!node.empty() && node != std::string(disco::kCapsNode) + "#" + caps->ver()) {
      request.error(xmpp::errors::item_not_found);
      return;
    }
    xml::Element query = disco::info_query(host.disco_identities(), host.disco_features());
    if (!node.empty()) query.set_attr("node", std::string(node));
    request.reply(std::move(query));
  });

  ctx.on(xmpp::events::stream_features, 0, [caps](xmpp::StreamFeaturesEvent& event) {
    xml::Element& c = event.features.append(xml::Element("c", std::string(disco::kCapsNs)));
    c.set_attr("hash", "sha-1");
    c.set_attr("node", std::string(disco::kCapsNode));
    c.set_attr("ver", caps->ver());
    return xmpp::HookResult::Pass;
  });

  ctx.on_iq(xmpp::IqType::Get, kItemsNs, [&host](const xmpp::IqRequest& request) {
    xml::Element query("query", std::string(kItemsNs));
    for (const std::string& item : host.disco_items()) {
      query.append(xml::Element("item", std::string(kItemsNs))).set_attr("jid", item);
    }
    request.reply(std::move(query));
  });

  disco::serve_account_disco(ctx);
}
}  // namespace

extern const xmpp::ModuleDefinition disco_module{
    "disco", "Service discovery: the host's identity, features and items.", {"XEP-0030"}, nullptr, start};

}  // namespace parley::modules
