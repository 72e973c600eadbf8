#pragma once
// What the register module's handlers share for one host: its settings, the
// SMS gateway and the services. Kept by the module context; database and
// gateway callbacks hold a weak_ptr and do nothing once a reload (or the
// host's removal) has dropped it.
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "modules/register/sms/gateway.hpp"
#include "modules/register/verification_store.hpp"
#include "xml/element.hpp"
#include "xmpp/module_api.hpp"
#include "xmpp/stanza.hpp"

namespace parley::xmpp {
class AccountStore;
}

namespace parley::modules::reg {

inline constexpr std::string_view kRegisterNs = "jabber:iq:register";        // XEP-0077
inline constexpr std::string_view kRegisterFeature = "http://jabber.org/features/iq-register";
inline constexpr std::string_view kDataNs = "jabber:x:data";                 // XEP-0004
inline constexpr std::string_view kPhoneNs = "urn:parley:phone:0";           // number change
inline constexpr std::string_view kPhonebookNs = "urn:parley:phonebook:0";   // contact discovery
inline constexpr std::string_view kQuicksyNs = "im.quicksy.synchronization:0";  // Quicksy's discovery

struct Shared {
  std::string host;
  bool allow_registration = false;
  std::string username_mode;  // phone | choose
  std::string region;
  int code_length = 6;
  std::string sms_text;
  bool one_account_per_number = true;
  int64_t phonebook_quota = 2048;
  uint32_t iterations = 10000;
  Limits limits;
  std::unique_ptr<sms::Gateway> gateway;
  store::PgClient* db = nullptr;
  xmpp::AccountStore* accounts = nullptr;
  xmpp::Services* services = nullptr;
  core::Logger* log = nullptr;
};

struct RegisterState : xmpp::ModuleState {
  std::shared_ptr<Shared> shared = std::make_shared<Shared>();
};

// How a handler answers, for pre-authentication IQs (raw replies on the
// stream) and for IqRequests alike.
struct Responder {
  std::function<void(const xml::Element& payload)> result;  // payload may be empty-named: no payload
  std::function<void(xmpp::StanzaErrorCondition, std::string)> error;
  void ok() const { result(xml::Element("")); }
};

// The service-unavailable of a gateway or database failure: temporary, so
// type "wait" (RFC 6120 §8.3.2) rather than the condition's usual "cancel".
inline constexpr xmpp::StanzaErrorCondition kTemporary{"service-unavailable", xmpp::ErrorType::Wait};

// Checks the limits; then, for a sign-up or reset, derives the SCRAM keys
// from `password` (on the thread pool: only requests within the limits cost
// PBKDF2); then generates a code, stores it and sends the SMS. Finally
// `sent()` runs, or the responder gets the error.
void send_code(const std::shared_ptr<Shared>& shared, const std::string& number, const std::string& ip,
               const Pending& pending, const std::string& password, const Responder& responder,
               std::function<void()> sent);
// Maps a failed check to its stanza error.
void answer_check_failure(const CheckOutcome& outcome, const Responder& responder);

// The handlers (signup.cpp, account_phone.cpp, phonebook.cpp, registered.cpp).
xmpp::HookResult handle_signup(const std::shared_ptr<Shared>& shared, xmpp::UnauthenticatedIqEvent& event);
void handle_phone(const std::shared_ptr<Shared>& shared, const xmpp::IqRequest& request);
void handle_phonebook(const std::shared_ptr<Shared>& shared, const xmpp::IqRequest& request);
void handle_quicksy_phonebook(const std::shared_ptr<Shared>& shared, const xmpp::IqRequest& request);
void handle_registered(const std::shared_ptr<Shared>& shared, xmpp::Services& services,
                       const xmpp::IqRequest& request);

}  // namespace parley::modules::reg
