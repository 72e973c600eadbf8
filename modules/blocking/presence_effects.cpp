// XEP-0191 §3.3 and §3.4: blocking a contact makes the user look offline to
// it (unavailable presence from each available resource); unblocking sends
// the user's current presence again. Only contacts allowed to see the user's
// presence (roster subscription from/both) are told anything, so blocking or
// unblocking a stranger reveals nothing.
#include "modules/blocking/presence_effects.hpp"
#include "store/pg_array.hpp"

#include "core/log.hpp"
#include "modules/blocking/jid_match.hpp"
#include "xmpp/router.hpp"
#include "xmpp/session_registry.hpp"

namespace parley::modules::blocking {

namespace {
constexpr store::PgStatement kSubscribedContacts{
    "blocking_subscribed_contacts",
    "SELECT contact FROM roster_items WHERE host = $1 AND username = $2 AND contact = ANY($3::text[]) "
    "AND subscription IN ('from', 'both')"};
}  // namespace

void announce_presence_change(const std::shared_ptr<Core>& core, const xmpp::Jid& user,
                              const std::vector<std::string>& jids, bool blocked) {
  if (jids.empty()) return;
  std::weak_ptr<Core> weak = core;
  core->ctx.database().execute(
      kSubscribedContacts, {user.domain(), user.node(), store::format_text_array(jids)},
      [weak, user, blocked](store::PgResult&& result) {
        std::shared_ptr<Core> core = weak.lock();
        if (!core || !result.ok) return;  // no roster table (roster disabled) or a reload: nothing to tell
        xmpp::SessionRegistry& sessions = core->ctx.host_context().services().sessions();
        for (const auto& row : result.rows) {
          if (!row[0]) continue;
          for (xmpp::Session* session : sessions.resources(user)) {
            if (!session->available() || !session->last_presence()) continue;
            xml::Element presence("presence", "jabber:client");
            if (!blocked) presence = *session->last_presence();
            if (blocked) presence.set_attr("type", "unavailable");
            presence.set_attr("from", session->jid().str());
            presence.set_attr("to", *row[0]);
            core->ctx.router().send_from_server(std::move(presence));
          }
        }
      });
}

}  // namespace parley::modules::blocking
