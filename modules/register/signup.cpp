// XEP-0077 in-band registration with XEP-0004 forms, before authentication,
// in two steps on the same namespace (docs/PROTOCOLS.md):
//   1. get -> form (phone, [username], password); set with it -> the server
//      sends a code by SMS and answers with a second form (phone, code);
//   2. set with that form -> the account is created (or, when the number
//      already belongs to an account, that account's password is reset).
// The second step carries the number, so it may come on a new stream.
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
using xmpp::errors::not_allowed;

std::map<std::string, std::string> submitted_fields(const xml::Element& query) {
  std::map<std::string, std::string> fields;
  const xml::Element* form = query.first_child("x", kDataNs);
  if (!form) return fields;
  for (const xml::Element& field : form->children()) {
    if (field.name() != "field" || field.ns() != kDataNs) continue;
    const xml::Element* value = field.first_child("value", kDataNs);
    fields[std::string(field.attr("var"))] = value ? value->text() : std::string();
  }
  return fields;
}

xml::Element& add_field(xml::Element& form, std::string var, std::string type, std::string label, bool required,
                        std::string value = {}) {
  xml::Element& field = form.append(xml::Element("field", std::string(kDataNs)));
  field.set_attr("var", std::move(var));
  field.set_attr("type", std::move(type));
  if (!label.empty()) field.set_attr("label", std::move(label));
  if (required) field.append(xml::Element("required", std::string(kDataNs)));
  if (!value.empty()) field.append(xml::Element("value", std::string(kDataNs))).append_text(value);
  return field;
}

// A <query/> holding a data form, with plain <instructions/> for clients
// without XEP-0004 support (XEP-0077 §6).
xml::Element form_query(std::string_view title, std::string_view instructions, xml::Element** form_out) {
  xml::Element query("query", std::string(kRegisterNs));
  query.append(xml::Element("instructions", std::string(kRegisterNs))).append_text(instructions);
  xml::Element& form = query.append(xml::Element("x", std::string(kDataNs)));
  form.set_attr("type", "form");
  form.append(xml::Element("title", std::string(kDataNs))).append_text(title);
  form.append(xml::Element("instructions", std::string(kDataNs))).append_text(instructions);
  add_field(form, "FORM_TYPE", "hidden", {}, false, std::string(kRegisterNs));
  *form_out = &form;
  return query;
}

xml::Element signup_form(const Shared& shared) {
  xml::Element* form = nullptr;
  xml::Element query = form_query(
      "Sign up with your phone number",
      "Enter your phone number and a password; we will send you a code by SMS. With a number that already has an "
      "account, this resets its password.",
      &form);
  add_field(*form, "phone", "text-single", "Phone number", true);
  if (shared.username_mode == "choose") add_field(*form, "username", "text-single", "Username", false);
  add_field(*form, "password", "text-private", "Password", true);
  return query;
}

xml::Element code_form(const std::string& number) {
  xml::Element* form = nullptr;
  xml::Element query = form_query("Enter the code", "We sent a code by SMS to " + number + "; enter it here.", &form);
  add_field(*form, "phone", "hidden", {}, false, number);
  add_field(*form, "code", "text-single", "Code", true);
  return query;
}

Responder stream_responder(const xmpp::UnauthenticatedIqEvent& event) {
  return {[reply = event.reply, iq = event.iq](const xml::Element& payload) {
            xml::Element result = xmpp::make_iq_result(iq);
            if (!payload.name().empty()) result.append(payload);
            reply(result);
          },
          [reply = event.reply, iq = event.iq](xmpp::StanzaErrorCondition condition, std::string text) {
            reply(xmpp::make_error_reply(iq, condition, text));
          }};
}

// Step 1, decided: a code for `pending`, and the second form.
void start_verification(const std::shared_ptr<Shared>& shared, const std::string& number, const std::string& ip,
                        const std::string& password, const Pending& pending, const Responder& responder) {
  send_code(shared, number, ip, pending, password, responder,
            [responder, number] { responder.result(code_form(number)); });
}

void request_code(const std::shared_ptr<Shared>& shared, const std::map<std::string, std::string>& fields,
                  const std::string& ip, const Responder& responder) {
  auto field = [&fields](const char* name) {
    auto it = fields.find(name);
    return it == fields.end() ? std::string() : it->second;
  };
  std::string raw_phone = field("phone"), password = field("password"), chosen = field("username");
  if (raw_phone.empty() || password.empty()) {
    responder.error(not_acceptable, "the phone number and the password are required");
    return;
  }
  std::optional<std::string> number = phone::normalise(raw_phone, shared->region);
  if (!number) {
    responder.error(not_acceptable, "'" + raw_phone + "' is not a valid phone number");
    return;
  }
  if (shared->username_mode == "phone") {
    chosen = *number;
  } else if (!chosen.empty()) {
    std::optional<xmpp::Jid> jid = xmpp::Jid::make(chosen, shared->host, {});
    if (!jid) {
      responder.error(not_acceptable, "'" + chosen + "' is not a valid username");
      return;
    }
    chosen = jid->node();
  }
  std::weak_ptr<Shared> weak = shared;
  owners(*shared->db, shared->host, *number,
         [weak, number = *number, chosen, ip, password, responder](std::optional<std::vector<std::string>> owned) {
           std::shared_ptr<Shared> s = weak.lock();
           if (!s) return;
           if (!owned) return responder.error(kTemporary, "the server cannot check the number now; try later");
           bool chosen_owns = std::find(owned->begin(), owned->end(), chosen) != owned->end();
           if (s->one_account_per_number && !owned->empty()) {
             // The number has its account: this is a password reset of it.
             if (s->username_mode == "phone" || chosen.empty() || chosen == owned->front()) {
               return start_verification(s, number, ip, password, {"reset", owned->front(), {}}, responder);
             }
             return responder.error(conflict, "this phone number already belongs to an account");
           }
           if (chosen_owns) return start_verification(s, number, ip, password, {"reset", chosen, {}}, responder);
           if (!s->allow_registration) return responder.error(not_allowed, "registration is disabled on this server");
           if (chosen.empty()) return responder.error(not_acceptable, "a username is required");
           auto checked = [weak, number, chosen, ip, password, responder](std::optional<bool> exists) {
             std::shared_ptr<Shared> s = weak.lock();
             if (!s) return;
             if (!exists) return responder.error(kTemporary, "the server cannot check the username now; try later");
             if (*exists) return responder.error(conflict, "that username is taken");
             start_verification(s, number, ip, password, {"register", chosen, {}}, responder);
           };
           s->accounts->exists(s->host, chosen, checked);
         });
}

void finish_signup(const std::shared_ptr<Shared>& shared, const std::string& number, const Pending& pending,
                   const Responder& responder) {
  std::optional<xmpp::AccountCredentials> credentials = xmpp::AccountCredentials::from_text(pending.credentials);
  if (!credentials) return responder.error(xmpp::errors::internal_server_error, {});
  std::weak_ptr<Shared> weak = shared;
  if (pending.purpose == "reset") {
    shared->accounts->set_credentials(shared->host, pending.username, *credentials,
                                      [weak, responder](xmpp::AccountWriteResult result) {
                                        std::shared_ptr<Shared> s = weak.lock();
                                        if (!s) return;
                                        if (result.status == xmpp::AccountWriteStatus::Done) return responder.ok();
                                        if (result.status == xmpp::AccountWriteStatus::NoSuchAccount) {
                                          return responder.error(xmpp::errors::item_not_found, "the account is gone");
                                        }
                                        responder.error(kTemporary, "the password could not be stored; try later");
                                      });
    return;
  }
  shared->accounts->create(
      shared->host, pending.username, *credentials,
      [weak, number, username = pending.username, responder](xmpp::AccountWriteResult result) {
        std::shared_ptr<Shared> s = weak.lock();
        if (!s) return;
        switch (result.status) {
          case xmpp::AccountWriteStatus::Done:
            break;
          case xmpp::AccountWriteStatus::Exists:
            return responder.error(conflict, "that username is taken");
          case xmpp::AccountWriteStatus::Vetoed:
            return responder.error(not_allowed, result.reason.empty() ? "registration refused" : result.reason);
          default:
            // The code is spent: the user starts again.
            return responder.error(kTemporary, "the account could not be created; please sign up again");
        }
        s->log->info("register", 0, "account ", username, "@", s->host, " created for ", phone::masked(number));
        responder.ok();
      },
      // Issue 4: the account exists with its verified number or not at all.
      {set_number_command(shared->host, pending.username, number)});
}

void confirm_code(const std::shared_ptr<Shared>& shared, const std::map<std::string, std::string>& fields,
                  const Responder& responder) {
  auto phone_field = fields.find("phone");
  std::string code = fields.at("code");
  std::optional<std::string> number =
      phone::normalise(phone_field == fields.end() ? std::string() : phone_field->second, shared->region);
  if (!number || code.empty()) return responder.error(not_acceptable, "the phone number and the code are required");
  std::weak_ptr<Shared> weak = shared;
  check(*shared->db, shared->host, *number, code, shared->limits.max_tries,
        [weak, number = *number, responder](CheckOutcome outcome) {
          std::shared_ptr<Shared> s = weak.lock();
          if (!s) return;
          if (outcome.status != CheckStatus::Verified) return answer_check_failure(outcome, responder);
          if (outcome.pending.purpose == "change") {
            return responder.error(bad_request, "that code confirms a number change; send it while signed in");
          }
          finish_signup(s, number, outcome.pending, responder);
        });
}

}  // namespace

xmpp::HookResult handle_signup(const std::shared_ptr<Shared>& shared, xmpp::UnauthenticatedIqEvent& event) {
  const xml::Element* query = event.iq.first_child("query", kRegisterNs);
  if (!query) return xmpp::HookResult::Pass;
  Responder responder = stream_responder(event);
  // Issue 4 security: codes and passwords never cross an unencrypted stream.
  if (!event.encrypted) {
    responder.error(xmpp::errors::policy_violation, "in-band registration needs TLS; use STARTTLS first");
    return xmpp::HookResult::Handled;
  }
  if (event.iq.attr("type") == "get") {
    responder.result(signup_form(*shared));
    return xmpp::HookResult::Handled;
  }
  std::map<std::string, std::string> fields = submitted_fields(*query);
  if (fields.empty()) {
    responder.error(bad_request, "submit the data form (XEP-0004) this server returns for a registration get");
  } else if (fields.count("code")) {
    confirm_code(shared, fields, responder);
  } else {
    // Once the SMS is sent, the user reads it and types the code on this
    // stream, which stays open while the code is valid.
    Responder on_sent = responder;
    on_sent.result = [result = responder.result, keep_open = event.keep_open,
                      ttl = std::chrono::seconds(shared->limits.ttl_seconds)](const xml::Element& payload) {
      keep_open(ttl);
      result(payload);
    };
    request_code(shared, fields, event.remote_ip, on_sent);
  }
  return xmpp::HookResult::Handled;
}

}  // namespace parley::modules::reg
