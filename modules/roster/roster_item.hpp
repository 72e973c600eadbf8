#pragma once
// One roster item (RFC 6121 §2.1.2) with its subscription state (RFC 6121 §3,
// Appendix A), and the pure transitions of the subscription state machine.
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "xml/element.hpp"

namespace parley::modules::roster {

inline constexpr std::string_view kRosterNs = "jabber:iq:roster";

enum class Subscription { None, To, From, Both };
std::string_view subscription_name(Subscription);
std::optional<Subscription> parse_subscription(std::string_view);

struct RosterItem {
  std::string contact;  // bare JID, normalised
  std::string name;
  Subscription subscription = Subscription::None;
  bool ask = false;         // pending-out
  bool pending_in = false;  // an inbound subscribe waiting for an answer
  bool approved = false;    // pre-approval (RFC 6121 §3.4)
  std::vector<std::string> groups;
  // False for a row that only records a stored inbound request: RFC 6121
  // §3.1.3 keeps it without adding an item to the roster. Stored as a NULL name.
  bool in_roster = true;

  bool has_to() const { return subscription == Subscription::To || subscription == Subscription::Both; }
  bool has_from() const { return subscription == Subscription::From || subscription == Subscription::Both; }
  void set_to(bool on);
  void set_from(bool on);
  // Whether the item belongs in roster results and pushes.
  bool visible() const;
  // Whether a client would see the same item in both (pending_in, which
  // clients never see, may differ).
  bool looks_like(const RosterItem& other) const;
  // <item/> as in RFC 6121 §2.1.2; `removed` gives subscription='remove'.
  xml::Element to_xml(bool removed = false) const;
};

enum class SubscriptionType { Subscribe, Subscribed, Unsubscribe, Unsubscribed };
std::optional<SubscriptionType> parse_subscription_type(std::string_view);

// What a subscription stanza does besides changing the item.
struct Effect {
  bool changed = false;  // store and push the item
  // Outbound: route the stanza to the contact. Inbound: deliver it to the user.
  bool forward = false;
  bool reply_subscribed = false;  // inbound subscribe answered by the server (§3.1.3)
  bool send_presence = false;     // outbound subscribed: send current presence (§3.1.5)
  bool send_unavailable = false;  // the contact lost the right to see presence (§3.2.2)
};

// The user sent `type` to the contact the item is about (RFC 6121 §3.x.2).
Effect apply_outbound(RosterItem& item, SubscriptionType type);
// The contact sent `type` to the user who owns the item (RFC 6121 §3.x.3).
Effect apply_inbound(RosterItem& item, SubscriptionType type);



}  // namespace parley::modules::roster
