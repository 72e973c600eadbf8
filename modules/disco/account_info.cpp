#include "modules/disco/account_info.hpp"

#include "modules/disco/info_query.hpp"
#include "store/pg_client.hpp"

namespace parley::modules::disco {

namespace {
// Whether the requester may see the account's presence (a roster row with
// subscription from/both); none for an account that does not exist.
constexpr store::PgStatement kMaySee{
    "disco_account_may_see",
    "SELECT EXISTS (SELECT 1 FROM roster_items WHERE host = $1 AND username = $2 AND contact = $3"
    " AND subscription IN ('from', 'both'))"};

xml::Element account_info(const xmpp::HostContext& host) {
  std::set<xmpp::DiscoIdentity> identities = host.disco_identities(xmpp::IqTarget::Account);
  identities.insert({"account", "registered", ""});
  std::set<std::string> features = host.disco_features(xmpp::IqTarget::Account);
  features.insert(std::string(kInfoNs));
  features.insert(std::string(kItemsNs));
  return info_query(identities, features);
}

// Prosody's rule: the user and those who see the user's presence get the
// answer; anyone else, and any JID without an account, service-unavailable,
// so that disco does not reveal which accounts exist.
void answer_if_allowed(xmpp::ModuleContext& ctx, const xmpp::IqRequest& request, xml::Element answer) {
  const xmpp::Jid& owner = request.to();
  if (request.from().bare() == owner) {
    request.reply(std::move(answer));
    return;
  }
  ctx.database().execute(kMaySee, {owner.domain(), owner.node(), request.from().bare_str()},
                         [request, answer = std::move(answer)](store::PgResult&& result) mutable {
                           if (!result.ok || result.size() != 1) {
                             request.error(xmpp::errors::internal_server_error);
                           } else if (result.at(0, 0) != "t") {
                             request.error(xmpp::errors::service_unavailable);
                           } else {
                             request.reply(std::move(answer));
                           }
                         });
}
}  // namespace

void serve_account_disco(xmpp::ModuleContext& ctx) {
  xmpp::HostContext& host = ctx.host_context();
  ctx.on_iq(
      xmpp::IqType::Get, kInfoNs,
      [&ctx, &host](const xmpp::IqRequest& request) {
        // No nodes yet: the account's PEP nodes would be listed here.
        if (!request.payload().attr("node").empty()) {
          request.error(xmpp::errors::item_not_found);
          return;
        }
        answer_if_allowed(ctx, request, account_info(host));
      },
      xmpp::IqTarget::Account);
  ctx.on_iq(
      xmpp::IqType::Get, kItemsNs,
      [&ctx](const xmpp::IqRequest& request) {
        answer_if_allowed(ctx, request, xml::Element("query", std::string(kItemsNs)));
      },
      xmpp::IqTarget::Account);
}

}  // namespace parley::modules::disco
