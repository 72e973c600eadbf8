#include "xmpp/account_removal.hpp"

#include <vector>

#include "core/log.hpp"
#include "store/pg_client.hpp"
#include "xmpp/accounts.hpp"
#include "xmpp/events.hpp"
#include "xmpp/module_api.hpp"
#include "xmpp/session_registry.hpp"

namespace parley::xmpp {

namespace {
constexpr store::PgStatement kDeleteAccount{
    "account_delete", "DELETE FROM accounts WHERE host = $1 AND username = $2 RETURNING 1"};
constexpr store::PgStatement kPendingRequests{
    "account_deletions_pending", "SELECT host, username FROM account_deletions ORDER BY requested_at"};
}  // namespace

void AccountRemoval::remove(const std::string& host, const std::string& username, Done done) {
  std::string bare = username + "@" + host;
  HostContext* context = services_.find_host(host);
  if (context == nullptr) return done("the host " + host + " is not served here");
  if (!in_progress_.insert(bare).second) return done("the account is already being deleted");
  services_.log().info("accounts", 0, "deleting ", bare);
  accounts_.forget(bare);

  // 1. The registry changes as sessions close, so walk a copy.
  std::span<Session* const> live = services_.sessions().resources(std::string_view(bare));
  std::vector<Session*> sessions(live.begin(), live.end());
  for (Session* session : sessions) session->close_with_stream_error("not-authorized", "the account was deleted");

  // 2. The rows go when the last holder lets go of the event.
  std::weak_ptr<bool> alive = alive_;
  auto continue_deletion = [this, alive, host, username, done = std::move(done)](void*) mutable {
    if (alive.expired() || !*alive.lock()) return;
    delete_rows(host, username, std::move(done));
  };
  UserEvent event{.host = *context, .username = username};
  event.hold = std::shared_ptr<void>(nullptr, std::move(continue_deletion));
  context->hooks().fire(events::user_deleting, event);
}

void AccountRemoval::delete_rows(const std::string& host, const std::string& username, Done done) {
  std::weak_ptr<bool> alive = alive_;
  services_.database().execute(
      kDeleteAccount, {host, username}, [this, alive, host, username, done = std::move(done)](store::PgResult&& r) {
        if (alive.expired() || !*alive.lock()) return;
        std::string bare = username + "@" + host;
        in_progress_.erase(bare);
        accounts_.forget(bare);  // a login during the deletion may have cached it again
        if (!r.ok) {
          services_.log().error("accounts", 0, "deleting ", bare, " failed: ", r.error);
          return done("the database failed: " + r.error);
        }
        if (r.size() == 0) return done("no such account");
        services_.log().info("accounts", 0, "deleted ", bare);
        // 4. The host may have been replaced by a reload meanwhile.
        if (HostContext* context = services_.find_host(host)) {
          UserEvent event{.host = *context, .username = username};
          context->hooks().fire(events::user_deleted, event);
        }
        done({});
      });
}

void AccountRemoval::on_database_connected() {
  services_.database().query("LISTEN " + std::string(kDeletionChannel), {}, [](store::PgResult&&) {});
  take_requests();
}

void AccountRemoval::on_notify(std::string_view channel) {
  if (channel == kDeletionChannel) take_requests();
}

void AccountRemoval::take_requests() {
  std::weak_ptr<bool> alive = alive_;
  services_.database().execute(kPendingRequests, {}, [this, alive](store::PgResult&& result) {
    if (alive.expired() || !*alive.lock() || !result.ok) return;
    for (const auto& row : result.rows) {
      if (!row[0] || !row[1] || services_.find_host(*row[0]) == nullptr) continue;  // another server's host
      if (in_progress_.count(*row[1] + "@" + *row[0])) continue;
      remove(*row[0], *row[1], [](std::string) {});
    }
  });
}

}  // namespace parley::xmpp
