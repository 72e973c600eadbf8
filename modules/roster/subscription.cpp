// RFC 6121 §3: presence subscriptions. A subscription stanza a user sends is
// applied to the user's roster, stamped with the user's bare JID and routed;
// to a local contact it comes back as presence/bare on the contact's host,
// where the contact's side of the state machine runs (roster_item.cpp).
#include "modules/roster/roster_state.hpp"
#include "xmpp/namespaces.hpp"
#include "xmpp/router.hpp"
#include "xmpp/session_registry.hpp"

namespace parley::modules::roster {

namespace {

xml::Element subscription_stanza(std::string_view type, const xmpp::Jid& from, const xmpp::Jid& to) {
  xml::Element presence("presence", std::string(xmpp::ns::client));
  presence.set_attr("type", std::string(type));
  presence.set_attr("from", from.bare_str());
  presence.set_attr("to", to.bare_str());
  return presence;
}

RosterItem new_item(const xmpp::Jid& contact, bool in_roster) {
  RosterItem item;
  item.contact = contact.str();
  item.in_roster = in_roster;
  return item;
}

// §3.1.2, §3.2.2, §3.3.2, §3.4: the user's side, then on to the contact.
void outbound(RosterState& state, xmpp::RoutedStanza& s, SubscriptionType type) {
  xmpp::Jid user = s.from.bare();
  xmpp::Jid contact = s.to.bare();
  // §3.1.2: the stanza leaves with bare JIDs and keeps only the fields the
  // contact needs (a status text, say), not the sender's resource.
  xml::Element stanza = s.element;
  stanza.set_attr("from", user.str());
  stanza.set_attr("to", contact.str());
  state.with_roster(user, [&state, user, contact, type, stanza = std::move(stanza)](Roster* roster) mutable {
    if (!roster) return;
    auto it = roster->items.find(contact.str());
    bool exists = it != roster->items.end();
    if (!exists && (type == SubscriptionType::Unsubscribe || type == SubscriptionType::Unsubscribed)) {
      // Nothing on our side; the contact's server may still hold state.
      state.ctx.router().send_from_server(std::move(stanza));
      return;
    }
    RosterItem item = exists ? it->second : new_item(contact, true);
    Effect effect = apply_outbound(item, type);
    if (effect.changed || !exists) state.store(user, *roster, item);
    if (effect.send_unavailable) send_unavailable(state, user, contact);
    if (effect.forward) state.ctx.router().send_from_server(std::move(stanza));
    if (effect.send_presence) send_current_presence(state, user, contact);
  });
}

// §3.1.3, §3.1.6, §3.2.3, §3.3.3: the contact's side, for a local user.
void inbound(RosterState& state, const xmpp::RoutedStanza& s, SubscriptionType type) {
  xmpp::Jid user = s.to.bare();
  xmpp::Jid contact = s.from.bare();
  xml::Element stanza = s.element;
  stanza.set_attr("from", contact.str());
  stanza.set_attr("to", user.str());
  state.with_roster(user, [&state, user, contact, type, stanza = std::move(stanza)](Roster* roster) {
    if (!roster) return;  // no such account: dropped (RFC 6121 §3.1.3 allows silence)
    auto it = roster->items.find(contact.str());
    bool exists = it != roster->items.end();
    if (!exists && type != SubscriptionType::Subscribe) return;  // §3.1.6, §3.2.3, §3.3.3: ignored
    RosterItem item = exists ? it->second : new_item(contact, false);
    Effect effect = apply_inbound(item, type);
    if (effect.changed) state.store(user, *roster, item);
    // Delivered to the available resources; a subscribe nobody sees stays
    // pending and is delivered on the next initial presence (presence.cpp).
    if (effect.forward) state.deliver_to_available(user, stanza);
    if (effect.reply_subscribed) {
      state.ctx.router().send_from_server(subscription_stanza("subscribed", user, contact));
    }
    if (effect.send_unavailable) send_unavailable(state, user, contact);
  });
}

}  // namespace

void start_subscriptions(RosterState& state) {
  xmpp::ModuleContext& ctx = state.ctx;
  ctx.on(xmpp::events::outbound, 50, [&state](xmpp::StanzaEvent& event) {
    xmpp::RoutedStanza& s = event.stanza;
    if (s.kind != xmpp::StanzaKind::Presence) return xmpp::HookResult::Pass;
    std::optional<SubscriptionType> type = parse_subscription_type(s.type);
    if (!type) return xmpp::HookResult::Pass;
    if (s.to.empty()) {
      // RFC 6121 §3.1.1: a subscription request names its contact.
      state.ctx.router().bounce(s, xmpp::errors::jid_malformed, "a subscription stanza needs a 'to' address");
      return xmpp::HookResult::Handled;
    }
    if (s.to.bare() == s.from.bare()) {
      state.ctx.router().bounce(s, xmpp::errors::not_acceptable, "an account cannot subscribe to itself");
      return xmpp::HookResult::Handled;
    }
    outbound(state, s, *type);
    return xmpp::HookResult::Handled;
  });

  ctx.on(xmpp::events::presence_to_bare, 50, [&state](xmpp::StanzaEvent& event) {
    const xmpp::RoutedStanza& s = event.stanza;
    std::optional<SubscriptionType> type = parse_subscription_type(s.type);
    if (!type) return xmpp::HookResult::Pass;
    if (s.from.empty() || s.from.bare() == s.to.bare()) return xmpp::HookResult::Handled;
    inbound(state, s, *type);
    return xmpp::HookResult::Handled;
  });
}

}  // namespace parley::modules::roster
