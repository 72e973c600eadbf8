#pragma once
// The blocking module's per-host state: each online user's block list, held
// in memory while they have sessions (loaded once at session/bound), so
// enforcement costs no query per stanza (XEP-0191 §3).
#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "store/pg_client.hpp"
#include "xml/element.hpp"
#include "xmpp/jid.hpp"
#include "xmpp/module_api.hpp"

namespace parley::modules::blocking {

inline constexpr std::string_view kNs = "urn:xmpp:blocking";
inline constexpr std::string_view kErrorsNs = "urn:xmpp:blocking:errors";

inline constexpr store::PgStatement kLoad{
    "blocking_load", "SELECT jid FROM blocklist_items WHERE host = $1 AND username = $2"};
inline constexpr store::PgStatement kCheck{
    "blocking_check",
    "SELECT 1 FROM blocklist_items WHERE host = $1 AND username = $2 AND jid = ANY($3::text[]) LIMIT 1"};
inline constexpr store::PgStatement kBlock{
    "blocking_block",
    "INSERT INTO blocklist_items (host, username, jid) SELECT $1, $2, unnest($3::text[]) ON CONFLICT DO NOTHING"};
inline constexpr store::PgStatement kUnblock{
    "blocking_unblock", "DELETE FROM blocklist_items WHERE host = $1 AND username = $2 AND jid = ANY($3::text[])"};
inline constexpr store::PgStatement kUnblockAll{
    "blocking_unblock_all", "DELETE FROM blocklist_items WHERE host = $1 AND username = $2"};

// One account with at least one bound session.
struct UserList {
  uint64_t generation = 0;  // tells a stale load result from the current one
  bool loaded = false;
  std::set<std::string, std::less<>> items;
  // Resources that retrieved the list, by full JID, with their session id:
  // only they get pushes (XEP-0191 §3.3, §3.4).
  std::map<std::string, uint64_t> interested;
  // Stanzas the user sent before the list was loaded, replayed in order.
  std::vector<std::pair<xmpp::Jid, xml::Element>> held;
};

// The lists of users with live sessions, carried over a reload
// (ModuleContext::carried) with who asked for them.
struct OnlineLists {
  std::unordered_map<std::string, UserList> users;  // by bare JID
};

struct Core {
  explicit Core(xmpp::ModuleContext& context)
      : ctx(context), host(context.host()), users(context.carried<OnlineLists>().users) {}
  xmpp::ModuleContext& ctx;
  std::string host;
  int64_t max_items = 0;
  std::unordered_map<std::string, UserList>& users;
  uint64_t next_generation = 1;
  // Set while a stanza that already passed the (asynchronous) inbound check
  // is routed again, so that check lets it through once.
  bool reinjecting = false;

  UserList* find(const std::string& bare) {
    auto it = users.find(bare);
    return it == users.end() ? nullptr : &it->second;
  }
};

// Keeps the core alive with the module; callbacks hold weak pointers, so a
// database answer arriving after a reload finds nothing and does nothing.
struct Keeper : xmpp::ModuleState {
  std::shared_ptr<Core> core;
};

// enforcement.cpp: session hooks (load/drop lists) and stanza checks.
void start_enforcement(xmpp::ModuleContext& ctx, const std::shared_ptr<Core>& core);

}  // namespace parley::modules::blocking
