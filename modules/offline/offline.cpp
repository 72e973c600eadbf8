// XEP-0160: Best Practices for Handling Offline Messages. A chat or normal
// message for an existing account with no available resource is stored in
// PostgreSQL with an XEP-0203 delay stamp and delivered, in order, on the
// account's next available presence.
#include <ctime>
#include <memory>
#include <unordered_set>

#include "core/datetime.hpp"
#include "core/option.hpp"
#include "modules/offline/offline_store.hpp"
#include "xml/writer.hpp"
#include "xmpp/module_api.hpp"
#include "xmpp/namespaces.hpp"
#include "xmpp/router.hpp"
#include "xmpp/session_registry.hpp"

namespace parley::modules {

namespace {
constexpr std::string_view kDelayNs = "urn:xmpp:delay";

struct OfflineState : xmpp::ModuleState {
  int64_t max_messages = 0;
  // Sessions already available with a non-negative priority: only the change
  // into that state triggers delivery, not every later status update.
  std::unordered_set<uint64_t> receiving;
};

void declare_options(core::OptionRegistry& registry) {
  registry.add_section("modules.offline", "Offline message storage (XEP-0160).");
  registry.add({"modules.offline.max_messages", core::OptionType::Integer, "1000", 1, 1000000, {},
                "How many offline messages one account may have stored; further messages are refused with a "
                "resource-constraint error, so the sender knows they were not kept.",
                true});
}

// XEP-0160 §3: only normal and chat messages are stored; headline messages
// are dropped and groupchat/error never get here (RFC 6121 §8.5.2.1.1).
xmpp::HookResult store(xmpp::ModuleContext& ctx, OfflineState& state, xmpp::StanzaEvent& event) {
  const xmpp::RoutedStanza& s = event.stanza;
  if (s.type != "normal" && s.type != "chat") return xmpp::HookResult::Pass;

  std::string stamp = core::xep0082_datetime(std::time(nullptr));
  xml::Element stored = s.element;
  // A message delivered from storage before, which a session then never
  // acknowledged (XEP-0198), comes back with its first stamp: it keeps it.
  const xml::Element* earlier = stored.first_child("delay", kDelayNs);
  if (!earlier || earlier->attr("from") != ctx.host()) {
    xml::Element& delay = stored.append(xml::Element("delay", std::string(kDelayNs)));
    delay.set_attr("from", ctx.host());
    delay.set_attr("stamp", stamp);
  }

  // The worker owns the router and the database client; a database callback
  // only runs while the client (hence the worker) exists, so the router may
  // be used from it even after this module was stopped by a reload.
  xmpp::Router& router = ctx.router();
  offline::store_message(
      ctx.database(), ctx.host(), s.to.node(), stamp, xml::to_string(stored, xmpp::ns::client), state.max_messages,
      [&router, original = s.element](offline::StoreOutcome outcome) {
        switch (outcome) {
          case offline::StoreOutcome::Stored:
            return;
          case offline::StoreOutcome::NoSuchAccount:
            // What the router answers for an unknown account (RFC 6121 §8.5.2.2.1).
            router.send_from_server(make_error_reply(original, xmpp::errors::service_unavailable));
            return;
          case offline::StoreOutcome::MailboxFull:
            router.send_from_server(make_error_reply(original, xmpp::errors::resource_constraint,
                                                     "the recipient's offline mailbox is full"));
            return;
          case offline::StoreOutcome::Failed:
            router.send_from_server(make_error_reply(original, xmpp::errors::internal_server_error,
                                                     "the message could not be stored for the offline recipient"));
            return;
        }
      });
  return xmpp::HookResult::Handled;
}

// XEP-0160 §4: on available presence with non-negative priority (the
// resources RFC 6121 §8.5.2.1.1 delivers bare-JID messages to), send what was
// stored, oldest first, and forget it.
void deliver(xmpp::ModuleContext& ctx, const xmpp::Jid& full) {
  xmpp::Services& services = ctx.host_context().services();
  std::string host = ctx.host();
  std::string username = full.node();
  // As in store(): the worker (services) outlives every database callback.
  offline::take_messages(ctx.database(), host, username,
                         [&services, full, host, username](std::vector<offline::StoredMessage> messages) {
                           if (messages.empty()) return;
                           // The session may have gone, or become unavailable, during the round trip.
                           xmpp::Session* session = services.sessions().find(full);
                           if (!session || !session->available() || session->priority() < 0) {
                             offline::put_back(services.database(), services.log(), host, username, messages);
                             return;
                           }
                           for (const offline::StoredMessage& m : messages) session->send_serialized(m.stanza, nullptr);
                         });
}

void start(xmpp::ModuleContext& ctx) {
  ctx.add_disco_feature("msgoffline");  // XEP-0160 §5
  auto& state = ctx.keep(std::make_unique<OfflineState>());
  state.max_messages = ctx.option_int("max_messages");

  ctx.on(xmpp::events::message_offline, 0,
         [&ctx, &state](xmpp::StanzaEvent& event) { return store(ctx, state, event); });

  // The router has updated the session's availability before this fires.
  // High priority and always Pass: a presence module that handles the
  // broadcast must not keep the stored messages from being delivered.
  ctx.on(xmpp::events::presence_broadcast, 100, [&ctx, &state](xmpp::StanzaEvent& event) {
    xmpp::Session* session = event.stanza.origin;
    if (!session) return xmpp::HookResult::Pass;
    if (!session->available() || session->priority() < 0) {
      state.receiving.erase(session->id());
    } else if (state.receiving.insert(session->id()).second) {
      deliver(ctx, session->jid());
    }
    return xmpp::HookResult::Pass;
  });

  ctx.on(xmpp::events::session_closed, 0, [&state](xmpp::SessionEvent& event) {
    state.receiving.erase(event.session.id());
    return xmpp::HookResult::Pass;
  });
}
}  // namespace

extern const xmpp::ModuleDefinition offline_module{
    "offline", "Stores messages for users who are offline and delivers them when they come online.",
    {"XEP-0160", "XEP-0203"}, declare_options, start};

}  // namespace parley::modules
