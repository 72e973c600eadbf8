// The roster module's pure logic: the subscription state machine (RFC 6121
// Appendix A) and item serialization.
#include <doctest/doctest.h>

#include "modules/roster/roster_item.hpp"

using namespace parley::modules::roster;

namespace {
RosterItem item(Subscription s, bool ask = false, bool pending_in = false, bool approved = false) {
  RosterItem i;
  i.contact = "c@example.org";
  i.subscription = s;
  i.ask = ask;
  i.pending_in = pending_in;
  i.approved = approved;
  return i;
}
}  // namespace

TEST_CASE("outbound subscribe sets pending-out and is routed (§3.1.2)") {
  RosterItem i = item(Subscription::None);
  Effect e = apply_outbound(i, SubscriptionType::Subscribe);
  CHECK(e.changed);
  CHECK(e.forward);
  CHECK(i.ask);
  RosterItem already = item(Subscription::Both);
  CHECK_FALSE(apply_outbound(already, SubscriptionType::Subscribe).changed);
}

TEST_CASE("outbound subscribed approves a pending request or pre-approves (§3.1.5, §3.4)") {
  RosterItem pending = item(Subscription::To, false, true);
  Effect e = apply_outbound(pending, SubscriptionType::Subscribed);
  CHECK(pending.subscription == Subscription::Both);
  CHECK_FALSE(pending.pending_in);
  CHECK(e.forward);
  CHECK(e.send_presence);
  RosterItem fresh = item(Subscription::None);
  e = apply_outbound(fresh, SubscriptionType::Subscribed);
  CHECK(fresh.approved);
  CHECK_FALSE(e.forward);
}

TEST_CASE("inbound subscribe: stored, auto-approved when pre-approved or already approved (§3.1.3)") {
  RosterItem none = item(Subscription::None);
  Effect e = apply_inbound(none, SubscriptionType::Subscribe);
  CHECK(none.pending_in);
  CHECK(e.forward);
  RosterItem pre = item(Subscription::To, false, false, true);
  e = apply_inbound(pre, SubscriptionType::Subscribe);
  CHECK(pre.subscription == Subscription::Both);
  CHECK_FALSE(pre.approved);
  CHECK(e.reply_subscribed);
  CHECK_FALSE(e.forward);
  RosterItem from = item(Subscription::From);
  e = apply_inbound(from, SubscriptionType::Subscribe);
  CHECK(e.reply_subscribed);
  CHECK_FALSE(e.changed);
}

TEST_CASE("inbound subscribed counts only with pending-out (§3.1.6)") {
  RosterItem asked = item(Subscription::From, true);
  CHECK(apply_inbound(asked, SubscriptionType::Subscribed).forward);
  CHECK(asked.subscription == Subscription::Both);
  RosterItem unasked = item(Subscription::None);
  Effect e = apply_inbound(unasked, SubscriptionType::Subscribed);
  CHECK_FALSE(e.changed);
  CHECK_FALSE(e.forward);
  CHECK(unasked.subscription == Subscription::None);
}

TEST_CASE("unsubscribe and unsubscribed take away one direction each (§3.2, §3.3)") {
  RosterItem both = item(Subscription::Both);
  apply_outbound(both, SubscriptionType::Unsubscribe);
  CHECK(both.subscription == Subscription::From);
  Effect e = apply_outbound(both, SubscriptionType::Unsubscribed);
  CHECK(both.subscription == Subscription::None);
  CHECK(e.send_unavailable);
  RosterItem other = item(Subscription::Both);
  e = apply_inbound(other, SubscriptionType::Unsubscribe);
  CHECK(other.subscription == Subscription::To);
  CHECK(e.send_unavailable);
  apply_inbound(other, SubscriptionType::Unsubscribed);
  CHECK(other.subscription == Subscription::None);
}

TEST_CASE("items serialize as RFC 6121 §2.1.2 says") {
  RosterItem i = item(Subscription::None, true, false, true);
  i.name = "C";
  i.groups = {"g"};
  parley::xml::Element e = i.to_xml();
  CHECK(e.attr("subscription") == "none");
  CHECK(e.attr("ask") == "subscribe");
  CHECK(e.attr("approved") == "true");
  CHECK(e.first_child("group")->text() == "g");
  CHECK(i.to_xml(true).attr("subscription") == "remove");
  CHECK(i.to_xml(true).element_count() == 0);
}
