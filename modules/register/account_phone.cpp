// For signed-in users: their verified number (get) and a number change with
// verification of the new number (urn:parley:phone:0). Also the code sending
// shared with the sign-up flow.
#include "core/log.hpp"
#include "modules/register/phone.hpp"
#include "modules/register/register_state.hpp"
#include "xmpp/accounts.hpp"
#include "xmpp/jid.hpp"

namespace parley::modules::reg {

namespace {

using xmpp::errors::bad_request;
using xmpp::errors::conflict;
using xmpp::errors::not_acceptable;
using xmpp::errors::not_authorized;
using xmpp::errors::policy_violation;
using xmpp::errors::resource_constraint;

std::string minutes(int64_t seconds) { return std::to_string((seconds + 59) / 60) + " minutes"; }

std::string replace_all(std::string text, std::string_view from, std::string_view to) {
  for (size_t at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size())) {
    text.replace(at, from.size(), to);
  }
  return text;
}

Responder request_responder(const xmpp::IqRequest& request) {
  return {[request](const xml::Element& payload) {
            if (payload.name().empty()) {
              request.reply();
            } else {
              request.reply(payload);
            }
          },
          [request](xmpp::StanzaErrorCondition condition, std::string text) { request.error(condition, text); }};
}

std::string child_text(const xml::Element& parent, std::string_view name) {
  const xml::Element* child = parent.first_child(name, kPhoneNs);
  return child ? child->text() : std::string();
}

// <change><number/></change>: send a code to the new number.
void change_number(const std::shared_ptr<Shared>& shared, const xmpp::IqRequest& request, const Responder& responder) {
  std::string raw = child_text(request.payload(), "number");
  std::optional<std::string> number = phone::normalise(raw, shared->region);
  if (!number) return responder.error(not_acceptable, "'" + raw + "' is not a valid phone number");
  std::string username = request.from().node();
  std::weak_ptr<Shared> weak = shared;
  owners(*shared->db, shared->host, *number,
         [weak, number = *number, username, responder](std::optional<std::vector<std::string>> owned) {
           std::shared_ptr<Shared> s = weak.lock();
           if (!s) return;
           if (!owned) return responder.error(kTemporary, "the server cannot check the number now; try later");
           if (std::find(owned->begin(), owned->end(), username) != owned->end()) {
             return responder.error(conflict, "this is already your number");
           }
           if (s->one_account_per_number && !owned->empty()) {
             return responder.error(conflict, "this phone number already belongs to an account");
           }
           // The IP of the account's session is not known here; the account
           // stands in for it in the per-IP limit.
           send_code(s, number, "account:" + username, {"change", username, {}}, {}, responder,
                     [responder] { responder.ok(); });
         });
}

// <confirm><number/><code/></confirm>: the new number is verified.
void confirm_change(const std::shared_ptr<Shared>& shared, const xmpp::IqRequest& request,
                    const Responder& responder) {
  std::optional<std::string> number = phone::normalise(child_text(request.payload(), "number"), shared->region);
  std::string code = child_text(request.payload(), "code");
  if (!number || code.empty()) return responder.error(not_acceptable, "the phone number and the code are required");
  std::string username = request.from().node();
  std::weak_ptr<Shared> weak = shared;
  check(*shared->db, shared->host, *number, code, shared->limits.max_tries,
        [weak, number = *number, username, responder](CheckOutcome outcome) {
          std::shared_ptr<Shared> s = weak.lock();
          if (!s) return;
          if (outcome.status != CheckStatus::Verified) return answer_check_failure(outcome, responder);
          if (outcome.pending.purpose != "change" || outcome.pending.username != username) {
            return responder.error(not_authorized, "that code was not sent for a change of your number");
          }
          set_number(*s->db, s->host, username, number, [weak, username, responder](bool ok) {
            if (!ok) return responder.error(kTemporary, "the number could not be stored; try later");
            if (auto s = weak.lock()) s->log->info("register", 0, username, "@", s->host, " changed number");
            responder.ok();
          });
        });
}

}  // namespace

namespace {

std::string limit_text(const BeginOutcome& outcome) {
  switch (outcome.status) {
    case BeginStatus::Cooldown:
      return "a code was sent to this number moments ago; retry in " + std::to_string(outcome.retry_seconds) +
             " seconds";
    case BeginStatus::NumberLimit:
      return "too many codes for this number this hour; retry in " + minutes(outcome.retry_seconds);
    case BeginStatus::IpLimit:
      return "too many codes requested from your address this hour; retry in " + minutes(outcome.retry_seconds);
    case BeginStatus::HostLimit:
      return "this server sent too many codes this hour; retry in " + minutes(outcome.retry_seconds);
    default:
      return "the server cannot send a code now; try later";
  }
}

// The last steps of send_code: store the code, then send it.
void store_and_send(const std::shared_ptr<Shared>& shared, const std::string& number, const std::string& ip,
                    const Pending& pending, const Responder& responder, std::function<void()> sent) {
  std::string code = phone::make_code(shared->code_length);
  std::weak_ptr<Shared> weak = shared;
  store_code(*shared->db, shared->host, number, ip, pending, phone::hash_code(number, code), shared->limits,
             [weak, number, code, responder, sent = std::move(sent)](bool stored) {
               std::shared_ptr<Shared> s = weak.lock();
               if (!s) return;
               if (!stored) return responder.error(kTemporary, "the server cannot send a code now; try later");
               if (!s->gateway) {
                 cancel(*s->db, s->host, number);
                 return responder.error(kTemporary, "no SMS gateway is configured; try later");
               }
               std::string text = replace_all(replace_all(s->sms_text, "{code}", code), "{host}", s->host);
               s->gateway->send(number, text, [weak, number, responder, sent](sms::SendResult result) {
                 std::shared_ptr<Shared> s = weak.lock();
                 if (!s) return;
                 // Issue 4 security: the log names neither the code nor the whole number.
                 if (!result.ok) {
                   s->log->warn("register", 0, "SMS to ", phone::masked(number), " failed: ", result.detail);
                   cancel(*s->db, s->host, number);
                   return responder.error(kTemporary, "the SMS could not be sent; try again later");
                 }
                 s->log->info("register", 0, "code sent to ", phone::masked(number));
                 sent();
               });
             });
}

}  // namespace

void send_code(const std::shared_ptr<Shared>& shared, const std::string& number, const std::string& ip,
               const Pending& pending, const std::string& password, const Responder& responder,
               std::function<void()> sent) {
  std::weak_ptr<Shared> weak = shared;
  check_limits(
      *shared->db, shared->host, number, ip, shared->limits,
      [weak, number, ip, pending, password, responder, sent = std::move(sent)](BeginOutcome outcome) mutable {
        std::shared_ptr<Shared> s = weak.lock();
        if (!s) return;
        switch (outcome.status) {
          case BeginStatus::Started:
            break;
          case BeginStatus::Cooldown:
            return responder.error(resource_constraint, limit_text(outcome));
          case BeginStatus::Failed:
            return responder.error(kTemporary, limit_text(outcome));
          default:
            return responder.error(policy_violation, limit_text(outcome));
        }
        if (pending.purpose == "change") return store_and_send(s, number, ip, pending, responder, std::move(sent));
        s->accounts->derive_credentials(
            password, s->iterations,
            [weak, number, ip, pending, responder,
             sent = std::move(sent)](std::optional<xmpp::AccountCredentials> credentials) mutable {
              std::shared_ptr<Shared> s = weak.lock();
              if (!s) return;
              if (!credentials) {
                return responder.error(not_acceptable,
                                       "the password is empty or contains characters that are not allowed");
              }
              Pending with_keys = pending;
              with_keys.credentials = credentials->to_text();
              store_and_send(s, number, ip, with_keys, responder, std::move(sent));
            });
      });
}

void answer_check_failure(const CheckOutcome& outcome, const Responder& responder) {
  switch (outcome.status) {
    case CheckStatus::NoCode:
      return responder.error(not_authorized, "no code is pending for this number; ask for a new one");
    case CheckStatus::Expired:
      return responder.error(not_authorized, "the code has expired; ask for a new one");
    case CheckStatus::TooManyTries:
      return responder.error(policy_violation, "too many wrong codes; ask for a new one");
    case CheckStatus::Wrong:
      return responder.error(not_authorized, "wrong code; " + std::to_string(outcome.tries_left) + " tries left");
    default:
      return responder.error(kTemporary, "the server cannot check the code now; try later");
  }
}

void handle_phone(const std::shared_ptr<Shared>& shared, const xmpp::IqRequest& request) {
  Responder responder = request_responder(request);
  if (request.from().node().empty() || request.from().domain() != shared->host) {
    return responder.error(xmpp::errors::forbidden, "only this server's users have numbers here");
  }
  const xml::Element& payload = request.payload();
  bool set = request.stanza().attr("type") == "set";
  if (!set && payload.name() == "query") {
    std::weak_ptr<Shared> weak = shared;
    number_of(*shared->db, shared->host, request.from().node(), [responder](std::optional<std::string> number) {
      if (!number) return responder.error(kTemporary, "try later");
      xml::Element query("query", std::string(kPhoneNs));
      if (!number->empty()) query.append(xml::Element("number", std::string(kPhoneNs))).append_text(*number);
      responder.result(query);
    });
  } else if (set && payload.name() == "change") {
    change_number(shared, request, responder);
  } else if (set && payload.name() == "confirm") {
    confirm_change(shared, request, responder);
  } else {
    responder.error(bad_request, "expected <query/> (get), <change/> or <confirm/> (set)");
  }
}

}  // namespace parley::modules::reg
