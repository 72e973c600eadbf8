// Sign-up with a phone number and an SMS code (issue 4): XEP-0077 in-band
// registration with XEP-0004 forms before authentication, password reset
// by the same flow, number change and contact discovery for signed-in users,
// and pluggable SMS gateways (sms/). docs/PROTOCOLS.md shows the exchanges.
#include "core/config.hpp"
#include "core/log.hpp"
#include "core/option.hpp"
#include "modules/register/cli.hpp"
#include "modules/register/phone.hpp"
#include "modules/register/register_state.hpp"
#include "xmpp/accounts.hpp"

namespace parley::modules {

namespace {

using core::OptionType;

void declare_options(core::OptionRegistry& r) {
  r.add_section("modules.register",
                "Sign-up with a phone number verified by an SMS code (XEP-0077), password reset, number change "
                "and contact discovery by phone number.");
  auto add = [&r](std::string name, OptionType type, std::string def, std::optional<int64_t> min,
                  std::optional<int64_t> max, std::vector<std::string> choices, std::string doc) {
    r.add({"modules.register." + name, type, std::move(def), min, max, std::move(choices), std::move(doc), true});
  };
  add("allow_registration", OptionType::Boolean, "false", {}, {}, {},
      "Whether new accounts may be created here with a phone number. Off by default: a public server should opt "
      "in knowingly (SMS cost, abuse). Password reset and number change work either way.");
  add("username", OptionType::String, "\"phone\"", {}, {}, {"phone", "choose"},
      "\"phone\": the account's localpart is its E.164 number, as Quicksy does; \"choose\": the form asks for a "
      "username.");
  add("default_region", OptionType::String, "\"US\"", {}, {}, {},
      "ISO 3166 region used to read numbers typed without a country code.");
  add("one_account_per_number", OptionType::Boolean, "true", {}, {}, {},
      "A verified number belongs to one account; signing up again with it resets that account's password.");
  add("code_length", OptionType::Integer, "6", 4, 10, {}, "Digits in a verification code.");
  add("code_ttl", OptionType::Duration, "\"10m\"", 60'000, 86'400'000, {}, "How long a code stays valid.");
  add("max_tries", OptionType::Integer, "5", 1, 20, {}, "Wrong codes allowed before the code is void.");
  add("resend_cooldown", OptionType::Duration, "\"60s\"", 0, 3'600'000, {},
      "Minimum time between two codes for the same number.");
  add("max_sms_per_number", OptionType::Integer, "5", 1, 1000, {}, "Codes sent to one number per hour.");
  add("max_sms_per_ip", OptionType::Integer, "10", 1, 100000, {}, "Codes requested from one IP address per hour.");
  add("max_sms_per_host", OptionType::Integer, "1000", 1, 10000000, {}, "Codes sent for this host per hour.");
  add("phonebook_daily_quota", OptionType::Integer, "2048", 1, 1000000, {},
      "Phone numbers one account may look up per UTC day.");
  add("sms_text", OptionType::String, "\"Your {host} code is {code}\"", {}, {}, {},
      "The SMS text; {code} and {host} are replaced.");
  add("sms_gateway", OptionType::String, "\"outbox\"", {}, {}, {"outbox", "http", "exec"},
      "How SMS are sent: \"outbox\" appends them to outbox_file (development), \"http\" posts them to http_url, "
      "\"exec\" runs exec_program.");
  r.add({"modules.register.outbox_file", OptionType::Path, "\"sms-outbox.txt\"", {}, {}, {},
         "outbox gateway: the file that receives one line per SMS (time, number, text).", true,
         core::PathBase::StateDir});
  add("http_url", OptionType::String, "\"\"", {}, {}, {}, "http gateway: the URL each SMS is POSTed to.");
  add("http_body", OptionType::String, "\"To={number}&Body={text}\"", {}, {}, {},
      "http gateway: the request body; {number} and {text} are replaced, encoded for http_content_type.");
  add("http_content_type", OptionType::String, "\"form\"", {}, {}, {"form", "json"},
      "http gateway: \"form\" (application/x-www-form-urlencoded) or \"json\".");
  add("http_headers", OptionType::StringList, "[]", {}, {}, {},
      "http gateway: extra headers, \"Name: value\", with {number} and {text} replaced.");
  add("http_auth", OptionType::String, "\"none\"", {}, {}, {"none", "basic", "bearer"},
      "http gateway: authentication.");
  add("http_username", OptionType::String, "\"\"", {}, {}, {}, "http gateway: user for basic authentication.");
  add("http_password", OptionType::String, "\"\"", {}, {}, {}, "http gateway: password for basic authentication.");
  add("http_token", OptionType::String, "\"\"", {}, {}, {}, "http gateway: token for bearer authentication.");
  add("http_timeout", OptionType::Duration, "\"10s\"", 100, 120'000, {}, "http gateway: timeout of one attempt.");
  add("http_retries", OptionType::Integer, "2", 0, 10, {},
      "http gateway: further attempts after a non-2xx answer or a timeout.");
  add("http_retry_delay", OptionType::Duration, "\"1s\"", 0, 10'000, {},
      "http gateway: pause before the first retry, doubled before each next one, each pause at most 30s (0: "
      "retry at once). A user whose SMS cannot be sent waits at most (http_retries + 1) x http_timeout plus "
      "these pauses for the error: 33s with the defaults (3 x 10s + 1s + 2s).");
  r.add({"modules.register.exec_program", OptionType::Path, "\"\"", {}, {}, {},
         "exec gateway: the program to run (no shell).", true});
  add("exec_args", OptionType::StringList, "[\"{number}\", \"{text}\"]", {}, {}, {},
      "exec gateway: its arguments; {number} and {text} are replaced.");
  add("exec_timeout", OptionType::Duration, "\"10s\"", 100, 120'000, {},
      "exec gateway: the program is killed, and the SMS counted as failed, after this long.");
}

void start(xmpp::ModuleContext& ctx) {
  auto& state = ctx.keep(std::make_unique<reg::RegisterState>());
  std::shared_ptr<reg::Shared> shared = state.shared;
  const core::Config& config = ctx.config();
  auto duration_s = [&](std::string_view name) {
    return config.get_duration("modules.register." + std::string(name), ctx.host()).count() / 1000;
  };
  shared->host = ctx.host();
  shared->allow_registration = ctx.option_bool("allow_registration");
  shared->username_mode = ctx.option_string("username");
  shared->region = ctx.option_string("default_region");
  shared->code_length = static_cast<int>(ctx.option_int("code_length"));
  shared->sms_text = ctx.option_string("sms_text");
  shared->one_account_per_number = ctx.option_bool("one_account_per_number");
  shared->phonebook_quota = ctx.option_int("phonebook_daily_quota");
  shared->iterations = static_cast<uint32_t>(config.get_int("auth.scram_iterations"));
  shared->limits = {duration_s("code_ttl"),           duration_s("resend_cooldown"),
                    ctx.option_int("max_sms_per_number"), ctx.option_int("max_sms_per_ip"),
                    ctx.option_int("max_sms_per_host"),   ctx.option_int("max_tries")};
  shared->db = &ctx.database();
  shared->accounts = &ctx.host_context().services().accounts();
  shared->services = &ctx.host_context().services();
  shared->log = &ctx.log();
  std::string error;
  shared->gateway = modules::sms::make_gateway(ctx.loop(), modules::sms::settings_from(config, ctx.host()), error);
  if (!shared->gateway) ctx.log().error("register", 0, ctx.host(), ": no SMS gateway: ", error);

  // XEP-0077 §4: the stream feature, offered only where registration may happen.
  ctx.on(xmpp::events::stream_features, 0, [shared](xmpp::StreamFeaturesEvent& event) {
    if (!event.authenticated && event.encrypted && shared->allow_registration) {
      event.features.append(xml::Element("register", std::string(reg::kRegisterFeature)));
    }
    return xmpp::HookResult::Pass;
  });
  ctx.on(xmpp::events::unauthenticated_iq, 0, [shared](xmpp::UnauthenticatedIqEvent& event) {
    return reg::handle_signup(shared, event);
  });
  // XEP-0077 §3.1-3.3 once signed in (an IQ without 'to' reaches the host
  // handlers too: the router falls back to them for the sender's own account).
  xmpp::Services& services = ctx.host_context().services();
  for (xmpp::IqType type : {xmpp::IqType::Get, xmpp::IqType::Set}) {
    ctx.on_iq(type, reg::kRegisterNs, [shared, &services](const xmpp::IqRequest& request) {
      reg::handle_registered(shared, services, request);
    });
  }
  ctx.add_disco_feature(std::string(reg::kRegisterNs));
  ctx.add_disco_feature(std::string(reg::kPhoneNs));
  ctx.add_disco_feature(std::string(reg::kPhonebookNs));
  for (xmpp::IqType type : {xmpp::IqType::Get, xmpp::IqType::Set}) {
    ctx.on_iq(type, reg::kPhoneNs, [shared](const xmpp::IqRequest& request) { reg::handle_phone(shared, request); });
  }
  ctx.on_iq(xmpp::IqType::Get, reg::kPhonebookNs,
            [shared](const xmpp::IqRequest& request) { reg::handle_phonebook(shared, request); });
  ctx.add_disco_feature(std::string(reg::kQuicksyNs));
  ctx.on_iq(xmpp::IqType::Get, reg::kQuicksyNs,
            [shared](const xmpp::IqRequest& request) { reg::handle_quicksy_phonebook(shared, request); });
}

}  // namespace

extern const xmpp::ModuleDefinition register_module{
    "register",
    "Sign-up with a phone number and an SMS code, password reset, number change, contact discovery.",
    {"XEP-0077", "XEP-0004"},
    declare_options,
    start,
    {{"sms", "  sms test NUMBER [HOST] send a test SMS through the host's gateway (module register)\n",
      reg::sms_command}},
    {{"phone", "  user add JID --phone NUMBER  also give the account its verified number (module register)\n",
      reg::apply_phone}}};

}  // namespace parley::modules
