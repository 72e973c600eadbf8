// XEP-0199: XMPP Ping — the server answers pings addressed to it.
#include "xmpp/module_api.hpp"

namespace parley::modules {

namespace {
constexpr std::string_view kPingNs = "urn:xmpp:ping";

void start(xmpp::ModuleContext& ctx) {
  ctx.add_disco_feature(std::string(kPingNs));
  ctx.on_iq(xmpp::IqType::Get, kPingNs, [](const xmpp::IqRequest& request) { request.reply(); });
}
}  // namespace

extern const xmpp::ModuleDefinition ping_module{
    "ping", "Answers XMPP pings sent to the server.", {"XEP-0199"}, nullptr, start};

}  // namespace parley::modules
