// XEP-0077 for signed-in users: the registration get shows <registered/>
// (§3.1), a set with <remove/> cancels the registration (§3.2) through the
// core's account deletion, and a set with <username/> and <password/>
// changes the password (§3.3).
#include "core/log.hpp"
#include "modules/register/register_state.hpp"
#include "xmpp/accounts.hpp"
#include "xmpp/router.hpp"

namespace parley::modules::reg {

void handle_registered(const std::shared_ptr<Shared>& shared, xmpp::Services& services,
                       const xmpp::IqRequest& request) {
  const std::string username = request.from().node();
  if (username.empty() || request.from().domain() != shared->host) {
    return request.error(xmpp::errors::forbidden, "only this server's users are registered here");
  }
  const xml::Element& query = request.payload();
  if (request.stanza().attr("type") == "get") {
    xml::Element answer("query", std::string(kRegisterNs));
    answer.append(xml::Element("registered", std::string(kRegisterNs)));
    answer.append(xml::Element("username", std::string(kRegisterNs))).append_text(username);
    return request.reply(answer);
  }
  if (query.first_child("remove", kRegisterNs)) {
    // §3.2: the result goes out before the deletion ends the sessions.
    request.reply();
    std::weak_ptr<Shared> weak = shared;
    services.delete_account(shared->host, username, [weak, username](std::string error) {
      std::shared_ptr<Shared> s = weak.lock();
      if (s && !error.empty()) s->log->warn("register", 0, "cancelling ", username, ": ", error);
    });
    return;
  }
  const xml::Element* name = query.first_child("username", kRegisterNs);
  const xml::Element* password = query.first_child("password", kRegisterNs);
  if (!name || !password) {
    return request.error(xmpp::errors::bad_request, "expected <remove/>, or <username/> and <password/>");
  }
  // §3.3.1: a user changes only their own password.
  if (name->text() != username) return request.error(xmpp::errors::not_authorized, "that is not your username");
  std::weak_ptr<Shared> weak = shared;
  shared->accounts->set_password(shared->host, username, password->text(), shared->iterations,
                                 [request](xmpp::AccountWriteResult result) {
                                   switch (result.status) {
                                     case xmpp::AccountWriteStatus::Done:
                                       return request.reply();
                                     case xmpp::AccountWriteStatus::BadPassword:
                                       return request.error(xmpp::errors::not_acceptable, result.reason);
                                     default:
                                       return request.error(kTemporary, "the password could not be stored; try later");
                                   }
                                 });
}

}  // namespace parley::modules::reg
