#include "modules/roster/roster_item.hpp"

namespace parley::modules::roster {

std::string_view subscription_name(Subscription s) {
  switch (s) {
    case Subscription::None: return "none";
    case Subscription::To: return "to";
    case Subscription::From: return "from";
    case Subscription::Both: return "both";
  }
  return "none";
}

std::optional<Subscription> parse_subscription(std::string_view s) {
  if (s == "none") return Subscription::None;
  if (s == "to") return Subscription::To;
  if (s == "from") return Subscription::From;
  if (s == "both") return Subscription::Both;
  return std::nullopt;
}

std::optional<SubscriptionType> parse_subscription_type(std::string_view s) {
  if (s == "subscribe") return SubscriptionType::Subscribe;
  if (s == "subscribed") return SubscriptionType::Subscribed;
  if (s == "unsubscribe") return SubscriptionType::Unsubscribe;
  if (s == "unsubscribed") return SubscriptionType::Unsubscribed;
  return std::nullopt;
}

void RosterItem::set_to(bool on) {
  bool from = has_from();
  subscription = on ? (from ? Subscription::Both : Subscription::To) : (from ? Subscription::From : Subscription::None);
}

void RosterItem::set_from(bool on) {
  bool to = has_to();
  subscription = on ? (to ? Subscription::Both : Subscription::From) : (to ? Subscription::To : Subscription::None);
}

bool RosterItem::visible() const {
  return in_roster || subscription != Subscription::None || ask || approved;
}

bool RosterItem::looks_like(const RosterItem& other) const {
  return visible() == other.visible() && contact == other.contact && name == other.name &&
         subscription == other.subscription && ask == other.ask && approved == other.approved &&
         groups == other.groups;
}

xml::Element RosterItem::to_xml(bool removed) const {
  xml::Element item("item", std::string(kRosterNs));
  item.set_attr("jid", contact);
  if (!name.empty()) item.set_attr("name", name);
  item.set_attr("subscription", removed ? std::string("remove") : std::string(subscription_name(subscription)));
  if (removed) return item;
  if (ask) item.set_attr("ask", "subscribe");
  if (approved) item.set_attr("approved", "true");
  for (const std::string& group : groups) {
    item.append(xml::Element("group", std::string(kRosterNs))).append_text(group);
  }
  return item;
}

Effect apply_outbound(RosterItem& item, SubscriptionType type) {
  Effect e;
  switch (type) {
    case SubscriptionType::Subscribe:
      // §3.1.2: pending-out unless already subscribed; routed either way.
      if (!item.has_to() && !item.ask) {
        item.ask = true;
        e.changed = true;
      }
      e.forward = true;
      break;
    case SubscriptionType::Subscribed:
      if (item.has_from()) break;  // nothing to approve
      if (item.pending_in) {
        // §3.1.5: approving a stored request.
        item.set_from(true);
        item.pending_in = false;
        item.approved = false;
        e.changed = e.forward = e.send_presence = true;
      } else if (!item.approved) {
        // §3.4: pre-approval, kept on the server and not routed.
        item.approved = true;
        e.changed = true;
      }
      break;
    case SubscriptionType::Unsubscribe:
      // §3.3.2: cancel our subscription (or our pending request); always routed.
      if (item.has_to() || item.ask) {
        item.set_to(false);
        item.ask = false;
        e.changed = true;
      }
      e.forward = true;
      break;
    case SubscriptionType::Unsubscribed:
      // §3.2.2: cancel the contact's subscription, deny a request or withdraw
      // a pre-approval; routed only when the contact had something to lose.
      e.forward = item.has_from() || item.pending_in;
      e.send_unavailable = item.has_from();
      if (item.has_from() || item.pending_in || item.approved) {
        item.set_from(false);
        item.pending_in = false;
        item.approved = false;
        e.changed = true;
      }
      break;
  }
  return e;
}

Effect apply_inbound(RosterItem& item, SubscriptionType type) {
  Effect e;
  switch (type) {
    case SubscriptionType::Subscribe:
      if (item.has_from()) {
        e.reply_subscribed = true;  // §3.1.3: already approved, answer for the user
      } else if (item.approved) {
        item.set_from(true);  // §3.4: pre-approved
        item.approved = false;
        e.changed = e.reply_subscribed = true;
      } else {
        if (!item.pending_in) {
          item.pending_in = true;
          e.changed = true;
        }
        e.forward = true;
      }
      break;
    case SubscriptionType::Subscribed:
      // §3.1.6: only an answer to our pending request counts.
      if (item.ask) {
        item.set_to(true);
        item.ask = false;
        e.changed = e.forward = true;
      }
      break;
    case SubscriptionType::Unsubscribe:
      // §3.3.3: the contact no longer wants our presence.
      if (item.has_from() || item.pending_in) {
        e.send_unavailable = item.has_from();
        item.set_from(false);
        item.pending_in = false;
        e.changed = e.forward = true;
      }
      break;
    case SubscriptionType::Unsubscribed:
      // §3.2.3: our subscription (or request) was cancelled or denied.
      if (item.has_to() || item.ask) {
        item.set_to(false);
        item.ask = false;
        e.changed = e.forward = true;
      }
      break;
  }
  return e;
}

}  // namespace parley::modules::roster
