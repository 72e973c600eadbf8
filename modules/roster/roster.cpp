// RFC 6121 §2 roster management and XEP-0237 roster versioning. The module
// also runs the subscription state machine (subscription.cpp, RFC 6121 §3)
// and presence broadcast (presence.cpp, RFC 6121 §4), which need the roster.
#include "core/option.hpp"
#include "modules/roster/roster_state.hpp"
#include "xmpp/namespaces.hpp"
#include "xml/writer.hpp"
#include "xmpp/router.hpp"
#include "xmpp/session_registry.hpp"
#include "xmpp/stanza.hpp"

namespace parley::modules {

namespace roster {
namespace {
constexpr std::string_view kVersioningNs = "urn:xmpp:features:rosterver";
// RFC 6121 §2.3.3 lets the server limit names and groups; 1023 bytes like a JID part.
constexpr size_t kMaxTextBytes = 1023;

// The whole roster is what nearly every login asks for (RFC 6121 §2.1.3):
// its items are serialized once per roster version, and the result goes as
// bytes straight to the asking session.
void send_whole_roster(RosterState& state, const xmpp::IqRequest& request, Roster& roster, bool with_version) {
  if (roster.serialized_version != roster.version) {
    roster.serialized_items.clear();
    for (const auto& [contact, item] : roster.items) {
      if (item.visible()) xml::serialize(item.to_xml(), roster.serialized_items, kRosterNs);
    }
    roster.serialized_version = roster.version;
  }
  xmpp::Session* session = state.ctx.host_context().services().sessions().find(request.from());
  if (!session) return;  // gone meanwhile
  xml::Element result = xmpp::make_iq_result(request.stanza());
  result.set_attr("to", request.from().str());
  xml::Element query("query", std::string(kRosterNs));
  if (with_version) query.set_attr("ver", std::to_string(roster.version));
  std::string bytes;
  xml::write_open_tag(result, bytes, xmpp::ns::client);
  xml::write_open_tag(query, bytes, xmpp::ns::client);
  bytes += roster.serialized_items;
  xml::write_close_tag(query, bytes, xmpp::ns::client);
  xml::write_close_tag(result, bytes, xmpp::ns::client);
  session->send_serialized(bytes, nullptr);
}

void answer_get(RosterState& state, const xmpp::IqRequest& request, Roster& roster) {
  state.interested.insert(request.from().str());
  const std::string* ver = request.payload().find_attr("ver");
  // XEP-0237 §2.3: a client that is up to date gets an empty result.
  if (ver && *ver == std::to_string(roster.version)) {
    request.reply();
    return;
  }
  send_whole_roster(state, request, roster, ver != nullptr);
}

// RFC 6121 §2.3.3 and §2.5: what a roster set may contain.
bool validate_set(const xmpp::IqRequest& request, xmpp::Jid& contact) {
  const xml::Element& query = request.payload();
  const xml::Element* item = query.first_child("item", kRosterNs);
  if (query.element_count() != 1 || !item) {
    request.error(xmpp::errors::bad_request, "a roster set carries exactly one item");
    return false;
  }
  std::optional<xmpp::Jid> jid = xmpp::Jid::parse(item->attr("jid"));
  if (!jid) {
    request.error(xmpp::errors::jid_malformed, "the item's jid is not a valid JID");
    return false;
  }
  contact = jid->bare();
  if (item->attr("name").size() > kMaxTextBytes) {
    request.error(xmpp::errors::not_acceptable, "the item name is too long");
    return false;
  }
  std::set<std::string> seen;
  for (const xml::Element& group : item->children()) {
    if (group.name() != "group" || group.ns() != kRosterNs) continue;
    std::string name = group.text();
    if (name.empty()) {
      request.error(xmpp::errors::not_acceptable, "a group name must not be empty");
      return false;
    }
    if (name.size() > kMaxTextBytes) {
      request.error(xmpp::errors::not_acceptable, "a group name is too long");
      return false;
    }
    if (!seen.insert(name).second) {
      request.error(xmpp::errors::bad_request, "the same group is listed twice");
      return false;
    }
  }
  return true;
}

// RFC 6121 §2.5.2: removing an item cancels both directions of the subscription.
void cancel_subscriptions(RosterState& state, const xmpp::Jid& user, const RosterItem& item) {
  auto send = [&](std::string_view type) {
    xml::Element presence("presence", std::string(xmpp::ns::client));
    presence.set_attr("type", std::string(type));
    presence.set_attr("from", user.bare_str());
    presence.set_attr("to", item.contact);
    state.ctx.router().send_from_server(std::move(presence));
  };
  if (item.has_to() || item.ask) send("unsubscribe");
  if (item.has_from() || item.pending_in) {
    if (item.has_from()) {
      if (std::optional<xmpp::Jid> contact = xmpp::Jid::parse(item.contact)) send_unavailable(state, user, *contact);
    }
    send("unsubscribed");
  }
}

void remove_item(RosterState& state, const xmpp::Jid& user, Roster& roster, const RosterItem& item) {
  cancel_subscriptions(state, user, item);
  state.remove(user, roster, item.contact);
}

void answer_set(RosterState& state, const xmpp::IqRequest& request, const xml::Element& element,
                const xmpp::Jid& contact, Roster& roster) {
  const xmpp::Jid user = request.from().bare();
  auto existing = roster.items.find(contact.str());
  if (element.attr("subscription") == "remove") {
    if (existing == roster.items.end() || !existing->second.visible()) {
      request.error(xmpp::errors::item_not_found);  // RFC 6121 §2.5.3
      return;
    }
    remove_item(state, user, roster, existing->second);
    request.reply();
    return;
  }
  RosterItem item;
  if (existing != roster.items.end()) {
    item = existing->second;
  } else {
    item.contact = contact.str();
  }
  bool adding = existing == roster.items.end() || !existing->second.visible();
  if (adding && static_cast<int64_t>(roster.visible_count()) >= state.max_items) {
    request.error(xmpp::errors::not_acceptable,
                  "the roster is full (" + std::to_string(state.max_items) + " items at most)");
    return;
  }
  // RFC 6121 §2.1.2.5: 'subscription' and 'ask' from the client are ignored.
  item.name = std::string(element.attr("name"));
  item.groups.clear();
  for (const xml::Element& group : element.children()) {
    if (group.name() == "group" && group.ns() == kRosterNs) item.groups.push_back(group.text());
  }
  item.in_roster = true;
  state.store(user, roster, item);
  request.reply();
}

// A roster IQ for another account is someone pushing into it (RFC 6121 §2.1.6).
bool from_owner(const xmpp::IqRequest& request) {
  if (request.to().empty() || request.to() == request.from().bare()) return true;
  request.error(xmpp::errors::forbidden, "only the account's owner manages its roster");
  return false;
}
}  // namespace

void start_roster_iq(RosterState& state) {
  xmpp::ModuleContext& ctx = state.ctx;
  ctx.on_iq(
      xmpp::IqType::Get, kRosterNs,
      [&state](const xmpp::IqRequest& request) {
        if (!from_owner(request)) return;
        state.with_roster(request.from(), [&state, request](Roster* roster) {
          if (!roster) return request.error(xmpp::errors::internal_server_error);
          answer_get(state, request, *roster);
        });
      },
      xmpp::IqTarget::Account);
  ctx.on_iq(
      xmpp::IqType::Set, kRosterNs,
      [&state](const xmpp::IqRequest& request) {
        if (!from_owner(request)) return;
        xmpp::Jid contact;
        if (!validate_set(request, contact)) return;
        state.with_roster(request.from(), [&state, request, contact](Roster* roster) {
          if (!roster) return request.error(xmpp::errors::internal_server_error);
          answer_set(state, request, *request.payload().first_child("item", kRosterNs), contact, *roster);
        });
      },
      xmpp::IqTarget::Account);

  // A roster push sent to a resource by anyone but the account itself.
  ctx.on(xmpp::events::inbound, 100, [&state](xmpp::StanzaEvent& event) {
    const xmpp::RoutedStanza& s = event.stanza;
    if (s.kind != xmpp::StanzaKind::Iq || s.type != "set") return xmpp::HookResult::Pass;
    const xml::Element* query = s.element.first_child("query", kRosterNs);
    if (!query || s.to.is_bare() || s.from.empty() || s.from.bare() == s.to.bare()) return xmpp::HookResult::Pass;
    state.ctx.router().bounce(s, xmpp::errors::forbidden, "roster pushes come only from the account's server");
    return xmpp::HookResult::Handled;
  });

  // A deleted account leaves every contact's roster as if it had removed
  // them (RFC 6121 §2.5.2, XEP-0077 §3.2); its own rows go by cascade.
  ctx.on(xmpp::events::user_deleting, 0, [&state](xmpp::UserEvent& event) {
    xmpp::Jid user = *xmpp::Jid::parse(event.username + "@" + state.ctx.host());
    state.with_roster(user, [&state, user, hold = event.hold](Roster* roster) {
      if (!roster) return;
      for (const auto& [contact, item] : roster->items) cancel_subscriptions(state, user, item);
    });
    return xmpp::HookResult::Pass;
  });
  ctx.on(xmpp::events::user_deleted, 0, [&state](xmpp::UserEvent& event) {
    state.forget(event.username + "@" + state.ctx.host());
    return xmpp::HookResult::Pass;
  });

  // XEP-0237 §2.1: announce versioning once the client is authenticated.
  ctx.on(xmpp::events::stream_features, 0, [](xmpp::StreamFeaturesEvent& event) {
    if (event.authenticated) event.features.append(xml::Element("ver", std::string(kVersioningNs)));
    return xmpp::HookResult::Pass;
  });
}

namespace {
void declare_options(core::OptionRegistry& registry) {
  registry.add({.key = "modules.roster.max_items", .type = core::OptionType::Integer, .default_value = "1000",
                .min = 1, .max = 100000,
                .doc = "Roster items one account may keep; adding one more gets <not-acceptable/>.",
                .per_host = true});
  registry.add({.key = "modules.roster.offline_cache", .type = core::OptionType::Integer, .default_value = "256",
                .min = 0, .max = 10000000,
                .doc = "Rosters of accounts that went offline kept in memory (most recently used first), "
                       "so that a reconnecting client gets its roster without a database query. A cached roster "
                       "costs about 300 bytes per item.",
                .per_host = true});
}

void start(xmpp::ModuleContext& ctx) {
  RosterState& state = ctx.keep(std::make_unique<RosterState>(ctx));
  start_roster_iq(state);
  start_subscriptions(state);
  start_presence(state);
}
}  // namespace
}  // namespace roster

extern const xmpp::ModuleDefinition roster_module{
    "roster",
    "Contact lists, presence subscriptions and presence broadcast.",
    {"RFC 6121 §2", "RFC 6121 §3", "RFC 6121 §4", "XEP-0237"},
    roster::declare_options,
    roster::start};

}  // namespace parley::modules
