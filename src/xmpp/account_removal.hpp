#pragma once
// Deleting an account while the server runs. RFC 6121 §2.5.2 and XEP-0077
// §3.2 want the contacts told, so deletion is a sequence the core drives and
// modules join:
//   1. the account's sessions end with a not-authorized stream error;
//   2. user/deleting fires while the account's rows still exist (the roster
//      module unsubscribes the contacts); a handler may hold the sequence
//      until its asynchronous work is done (UserEvent::hold);
//   3. the accounts row is deleted, and every module's rows with it (ON
//      DELETE CASCADE);
//   4. user/deleted fires.
// Requests come from modules (XEP-0077 cancellation) through
// Services::delete_account, and from parleyctl, which writes a row into
// account_deletions and NOTIFYs kDeletionChannel (schema/0009).
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <string_view>

namespace parley::xmpp {

class AccountStore;
class Services;

inline constexpr std::string_view kDeletionChannel = "parley_account_deletions";

class AccountRemoval {
 public:
  // Empty error: the account is gone.
  using Done = std::function<void(std::string error)>;

  AccountRemoval(Services& services, AccountStore& accounts) : services_(services), accounts_(accounts) {}
  ~AccountRemoval() { *alive_ = false; }
  AccountRemoval(const AccountRemoval&) = delete;
  AccountRemoval& operator=(const AccountRemoval&) = delete;

  void remove(const std::string& host, const std::string& username, Done done);

  // After each database (re)connection: LISTEN, then carry out the requests
  // that wait (parleyctl may have written them while the server was down).
  void on_database_connected();
  void on_notify(std::string_view channel);

 private:
  void take_requests();
  void delete_rows(const std::string& host, const std::string& username, Done done);

  Services& services_;
  AccountStore& accounts_;  // its cached credentials must go with the account
  std::set<std::string> in_progress_;  // bare JIDs
  // Database callbacks may outlive the worker's shutdown.
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace parley::xmpp
