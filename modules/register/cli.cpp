// parleyctl's part of the register module: `sms test NUMBER [HOST]` sends a
// test SMS through the host's configured gateway, and `user add JID --phone
// NUMBER` gives a new account its verified number.
#include <iostream>

#include "core/config.hpp"
#include "modules/register/cli.hpp"
#include "modules/register/phone.hpp"
#include "modules/register/sms/gateway.hpp"
#include "store/pg_sync.hpp"

namespace parley::modules::reg {

namespace {

std::string first_host(const core::Config& config) {
  std::vector<std::string> hosts = config.hosts();
  return hosts.empty() ? std::string() : hosts.front();
}

}  // namespace

int sms_command(xmpp::CliContext& cli, const std::vector<std::string>& args) {
  if (args.size() < 2 || args.size() > 3 || args[0] != "test") {
    std::cerr << "usage: parleyctl sms test NUMBER [HOST]\n";
    return 2;
  }
  std::string host = args.size() == 3 ? args[2] : first_host(cli.config);
  if (!cli.config.has_host(host)) {
    std::cerr << "parleyctl: host '" << host << "' is not configured\n";
    return 2;
  }
  std::optional<std::string> number =
      phone::normalise(args[1], cli.config.get_string("modules.register.default_region", host));
  if (!number) {
    std::cerr << "parleyctl: '" << args[1] << "' is not a valid phone number\n";
    return 2;
  }
  // The gateways run on a libuv loop, as in the server; this one is ours.
  uv_loop_t loop;
  uv_loop_init(&loop);
  sms::Settings settings = sms::settings_from(cli.config, host);
  std::string error;
  std::unique_ptr<sms::Gateway> gateway = sms::make_gateway(&loop, settings, error);
  std::optional<sms::SendResult> result;
  if (gateway) {
    gateway->send(*number, "Parley SMS gateway test for " + host,
                  [&result](sms::SendResult r) { result = std::move(r); });
    while (!result && uv_run(&loop, UV_RUN_ONCE) != 0) {
    }
    gateway.reset();
  }
  uv_run(&loop, UV_RUN_DEFAULT);  // lets the gateway's handles close
  uv_loop_close(&loop);
  if (!gateway && !error.empty()) {
    std::cerr << "parleyctl: " << error << "\n";
    return 1;
  }
  if (!result || !result->ok) {
    std::cerr << "parleyctl: the " << settings.kind << " gateway failed: " << (result ? result->detail : "no answer")
              << "\n";
    return 1;
  }
  std::cout << "sent a test SMS to " << *number << " through the " << settings.kind << " gateway";
  if (settings.kind == "outbox") std::cout << " (" << settings.outbox_file << ")";
  std::cout << "\n";
  return 0;
}

std::string apply_phone(xmpp::CliContext& cli, store::PgSync& db, const std::string& host,
                        const std::string& username, const std::string& value) {
  std::optional<std::string> number =
      phone::normalise(value, cli.config.get_string("modules.register.default_region", host));
  if (!number) return "'" + value + "' is not a valid phone number";
  if (cli.config.get_bool("modules.register.one_account_per_number", host)) {
    store::PgResult owner =
        db.exec("SELECT username FROM phone_numbers WHERE host = $1 AND number = $2", {host, *number});
    if (!owner.ok) return owner.error;
    if (!owner.rows.empty()) return *number + " already belongs to " + owner.rows[0][0].value_or("") + "@" + host;
  }
  store::PgResult inserted =
      db.exec("INSERT INTO phone_numbers (host, username, number) VALUES ($1, $2, $3)", {host, username, *number});
  return inserted.ok ? std::string() : inserted.error;
}

}  // namespace parley::modules::reg
