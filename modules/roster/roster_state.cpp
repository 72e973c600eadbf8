#include "modules/roster/roster_state.hpp"
#include "store/pg_array.hpp"

#include "core/log.hpp"
#include "store/pg_client.hpp"
#include "xml/writer.hpp"
#include "xmpp/namespaces.hpp"
#include "xmpp/session_registry.hpp"

namespace parley::modules::roster {

namespace {
// One query for the whole roster at login (issue 3); the account row makes
// an empty roster one row and a missing account no row.
constexpr store::PgStatement kLoad{
    "roster_load",
    "SELECT coalesce(v.version, 0), i.contact, i.name, i.subscription, i.ask, i.pending_in, i.approved, i.groups "
    "FROM accounts a "
    "LEFT JOIN roster_versions v ON v.host = a.host AND v.username = a.username "
    "LEFT JOIN roster_items i ON i.host = a.host AND i.username = a.username "
    "WHERE a.host = $1 AND a.username = $2"};
constexpr store::PgStatement kUpsertItem{
    "roster_upsert_item",
    "INSERT INTO roster_items (host, username, contact, name, subscription, ask, pending_in, approved, groups, version) "
    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) "
    "ON CONFLICT (host, username, contact) DO UPDATE SET name = EXCLUDED.name, "
    "subscription = EXCLUDED.subscription, ask = EXCLUDED.ask, pending_in = EXCLUDED.pending_in, "
    "approved = EXCLUDED.approved, groups = EXCLUDED.groups, version = EXCLUDED.version"};
constexpr store::PgStatement kDeleteItem{
    "roster_delete_item", "DELETE FROM roster_items WHERE host = $1 AND username = $2 AND contact = $3"};
constexpr store::PgStatement kWriteVersion{
    "roster_write_version",
    "INSERT INTO roster_versions (host, username, version) VALUES ($1, $2, $3) "
    "ON CONFLICT (host, username) DO UPDATE SET version = EXCLUDED.version"};

std::string boolean(bool b) { return b ? "true" : "false"; }
}  // namespace

size_t Roster::visible_count() const {
  size_t n = 0;
  for (const auto& [contact, item] : items) n += item.visible() ? 1 : 0;
  return n;
}

RosterState::RosterState(xmpp::ModuleContext& context)
    : ctx(context),
      max_items(context.option_int("max_items")),
      offline_cache_size(static_cast<size_t>(context.option_int("offline_cache"))),
      facts(context.carried<SessionFacts>()),
      interested(facts.interested),
      available(facts.available),
      directed(facts.directed) {}

RosterState::~RosterState() { *alive_ = false; }

void RosterState::with_roster(const xmpp::Jid& user, RosterFn fn) {
  std::string bare = user.bare_str();
  if (auto it = rosters_.find(bare); it != rosters_.end()) {
    fn(&it->second);
    forget_if_offline(bare);
    return;
  }
  std::vector<RosterFn>& waiting = loading_[bare];
  waiting.push_back(std::move(fn));
  if (waiting.size() > 1) return;  // a load is already on its way
  std::weak_ptr<bool> alive = alive_;
  ctx.database().execute(kLoad, {user.domain(), user.node()}, [this, alive, bare](store::PgResult&& result) {
    if (alive.expired() || !*alive.lock()) return;
    std::vector<RosterFn> callbacks = std::move(loading_[bare]);
    loading_.erase(bare);
    Roster* roster = nullptr;
    if (!result.ok) {
      log_failure("load", result);
    } else if (result.size() > 0) {
      roster = &rosters_[bare];
      *roster = Roster{};
      roster->version = std::stoll(result.at(0, 0).value_or("0"));
      for (const auto& row : result.rows) {
        if (!row.at(1)) continue;  // the LEFT JOIN's row of an empty roster
        RosterItem item;
        item.contact = *row[1];
        item.name = row[2].value_or("");
        item.in_roster = row[2].has_value();
        item.subscription = parse_subscription(row[3].value_or("none")).value_or(Subscription::None);
        item.ask = row[4] == "t";
        item.pending_in = row[5] == "t";
        item.approved = row[6] == "t";
        item.groups = store::parse_text_array(row[7].value_or("{}"));
        roster->items.emplace(item.contact, std::move(item));
      }
    }
    for (RosterFn& callback : callbacks) callback(roster);
    forget_if_offline(bare);
  });
}

void RosterState::forget_if_offline(const std::string& bare) {
  if (loading_.count(bare) || !rosters_.count(bare)) return;
  if (auto it = offline_position_.find(bare); it != offline_position_.end()) {
    offline_.erase(it->second);
    offline_position_.erase(it);
  }
  if (!ctx.host_context().services().sessions().resources(std::string_view(bare)).empty()) return;
  offline_.push_front(bare);
  offline_position_[bare] = offline_.begin();
  while (offline_.size() > offline_cache_size) forget(offline_.back());
}

void RosterState::forget(const std::string& bare) {
  if (auto it = offline_position_.find(bare); it != offline_position_.end()) {
    offline_.erase(it->second);
    offline_position_.erase(it);
  }
  rosters_.erase(bare);
}

void RosterState::log_failure(const char* what, const store::PgResult& result) {
  ctx.log().error("roster", 0, "roster ", what, " failed: ", result.error);
}

void RosterState::write_version(const xmpp::Jid& user, int64_t version) {
  std::weak_ptr<bool> alive = alive_;
  ctx.database().execute(kWriteVersion, {user.domain(), user.node(), std::to_string(version)},
                         [this, alive](store::PgResult&& result) {
                           if (!result.ok && !alive.expired() && *alive.lock()) log_failure("version write", result);
                         });
}

void RosterState::store(const xmpp::Jid& user, Roster& roster, const RosterItem& item) {
  bool was_visible = false;
  bool looks_unchanged = false;
  if (auto it = roster.items.find(item.contact); it != roster.items.end()) {
    was_visible = it->second.visible();
    looks_unchanged = it->second.looks_like(item);
  }
  if (!item.visible() && !item.pending_in) {
    // Nothing left worth a row (a denied request, say).
    if (roster.items.count(item.contact)) remove(user, roster, item.contact);
    return;
  }
  RosterItem& stored = roster.items[item.contact] = item;
  stored.in_roster = item.visible();
  // A change no client can see needs no new roster version (XEP-0237).
  int64_t version = looks_unchanged ? roster.version : ++roster.version;
  std::weak_ptr<bool> alive = alive_;
  std::optional<std::string> name;
  if (stored.in_roster) name = item.name;
  ctx.database().execute(kUpsertItem,
                         {user.domain(), user.node(), item.contact, name,
                          std::string(subscription_name(item.subscription)), boolean(item.ask),
                          boolean(item.pending_in), boolean(item.approved), store::format_text_array(item.groups),
                          std::to_string(version)},
                         [this, alive](store::PgResult&& result) {
                           if (!result.ok && !alive.expired() && *alive.lock()) log_failure("item write", result);
                         });
  // RFC 6121 §3.1.3: an inbound request that only sets pending-in is not
  // pushed; the client sees the subscribe stanza itself.
  if (looks_unchanged) return;
  write_version(user, version);
  if (item.visible()) {
    push(user, roster, item, false);
  } else if (was_visible) {
    push(user, roster, item, true);
  }
}

void RosterState::remove(const xmpp::Jid& user, Roster& roster, const std::string& contact) {
  auto it = roster.items.find(contact);
  if (it == roster.items.end()) return;
  RosterItem item = std::move(it->second);
  roster.items.erase(it);
  int64_t version = ++roster.version;
  std::weak_ptr<bool> alive = alive_;
  ctx.database().execute(kDeleteItem, {user.domain(), user.node(), contact}, [this, alive](store::PgResult&& result) {
    if (!result.ok && !alive.expired() && *alive.lock()) log_failure("item delete", result);
  });
  write_version(user, version);
  if (item.visible()) push(user, roster, item, true);
}

// RFC 6121 §2.1.6: one push per interested resource, each with its own 'to'.
void RosterState::push(const xmpp::Jid& user, const Roster& roster, const RosterItem& item, bool removed) {
  xml::Element iq("iq", std::string(xmpp::ns::client));
  iq.set_attr("type", "set");
  iq.set_attr("id", "push" + std::to_string(next_push_++));
  xml::Element& query = iq.append(xml::Element("query", std::string(kRosterNs)));
  query.set_attr("ver", std::to_string(roster.version));
  query.append(item.to_xml(removed));
  for (xmpp::Session* session : ctx.host_context().services().sessions().resources(user.bare())) {
    if (!interested.count(session->jid().str())) continue;
    iq.set_attr("to", session->jid().str());
    session->send(iq);
  }
}

void RosterState::deliver_to_available(const xmpp::Jid& user, const xml::Element& stanza) {
  std::string bytes;
  for (xmpp::Session* session : ctx.host_context().services().sessions().resources(user.bare())) {
    if (!session->available()) continue;
    if (bytes.empty()) bytes = xml::to_string(stanza, xmpp::ns::client);
    session->send_serialized(bytes, &stanza);
  }
}

}  // namespace parley::modules::roster
