#pragma once
// The roster module's state for one host: rosters of accounts with a bound
// session, cached and written through to PostgreSQL (schema/0002_roster.sql),
// and the per-session facts RFC 6121 asks the server to remember: who
// requested the roster (§2.1.6 "interested"), who sent initial presence
// (§4.2) and where directed presence went (§4.6).
#include <functional>
#include <list>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "modules/roster/roster_item.hpp"
#include "store/pg_result.hpp"
#include "xmpp/module_api.hpp"

namespace parley::modules::roster {

struct Roster {
  int64_t version = 0;
  std::map<std::string, RosterItem> items;  // by contact bare JID
  // The visible items as jabber:iq:roster children, for `serialized_version`.
  std::string serialized_items;
  int64_t serialized_version = -1;
  size_t visible_count() const;
};

// What the host's live sessions told the module; carried over a reload
// (ModuleContext::carried), since no query can rebuild it.
struct SessionFacts {
  std::unordered_set<std::string> interested;                          // full JIDs
  std::unordered_set<std::string> available;                           // sent initial presence
  std::unordered_map<std::string, std::set<std::string>> directed;     // full JID -> targets
};

class RosterState : public xmpp::ModuleState {
 public:
  explicit RosterState(xmpp::ModuleContext& ctx);
  ~RosterState() override;

  xmpp::ModuleContext& ctx;
  int64_t max_items;
  size_t offline_cache_size;

  // Runs `fn` with the account's roster, loading it with one query if it is
  // not cached; null when the account does not exist or the database failed.
  // Rosters of accounts without a bound session stay cached, the most
  // recently used `offline_cache_size` of them, so a reconnecting client
  // gets its roster without a query (every change goes through here, so the
  // cache cannot go stale).
  using RosterFn = std::function<void(Roster*)>;
  void with_roster(const xmpp::Jid& user, RosterFn fn);
  // Drops a cached roster (its account was deleted).
  void forget(const std::string& bare);

  // Writes the item (or its removal) with a new roster version and pushes it
  // to the interested resources (RFC 6121 §2.1.6).
  void store(const xmpp::Jid& user, Roster& roster, const RosterItem& item);
  void remove(const xmpp::Jid& user, Roster& roster, const std::string& contact);

  // Sends a stanza from the server to each available resource of `user`,
  // serialized once.
  void deliver_to_available(const xmpp::Jid& user, const xml::Element& stanza);

  SessionFacts& facts;
  std::unordered_set<std::string>& interested;
  std::unordered_set<std::string>& available;
  std::unordered_map<std::string, std::set<std::string>>& directed;

 private:
  void push(const xmpp::Jid& user, const Roster& roster, const RosterItem& item, bool removed);
  void write_version(const xmpp::Jid& user, int64_t version);
  void forget_if_offline(const std::string& bare);
  void log_failure(const char* what, const store::PgResult& result);

  std::unordered_map<std::string, Roster> rosters_;
  // Cached rosters of accounts with no session, least recently used last.
  std::list<std::string> offline_;
  std::unordered_map<std::string, std::list<std::string>::iterator> offline_position_;
  std::unordered_map<std::string, std::vector<RosterFn>> loading_;
  uint64_t next_push_ = 1;
  // Database callbacks may run after a reload stopped the module.
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

// Parts of the module, one file per concern (RFC 6121 §2, §3, §4).
void start_roster_iq(RosterState& state);
void start_subscriptions(RosterState& state);
void start_presence(RosterState& state);

// Sends each available resource's current presence (from that resource, to
// `to`), RFC 6121 §4.3.2 and §3.1.5.
void send_current_presence(RosterState& state, const xmpp::Jid& user, const xmpp::Jid& to);
// Unavailable presence from each available resource of `user` to `to` (§3.2.2).
void send_unavailable(RosterState& state, const xmpp::Jid& user, const xmpp::Jid& to);

}  // namespace parley::modules::roster
