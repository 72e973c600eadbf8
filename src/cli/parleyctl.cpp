// parleyctl: administration of a Parley server from the shell.
// Every command takes --config FILE (default conf/parley.toml) and --help.
#include <termios.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <string>
#include <vector>

#include "core/bootstrap.hpp"
#include "core/config_doc.hpp"
#include "core/log.hpp"
#include "modules/builtin.hpp"
#include "net/certificate.hpp"
#include "parley_build.hpp"
#include "store/migrations.hpp"
#include "store/pg_client.hpp"
#include "store/pg_sync.hpp"
#include "xmpp/accounts.hpp"
#include "xmpp/jid.hpp"

namespace {

using namespace parley;

constexpr int kOk = 0;
constexpr int kFailed = 1;
constexpr int kUsage = 2;

struct Invocation {
  std::filesystem::path config = "conf/parley.toml";
  std::vector<std::string> args;  // positional words after the command
  bool help = false;
};

const char* const kUsageText =
    "usage: parleyctl [--config FILE] COMMAND [ARGS]\n"
    "\n"
    "Commands:\n"
    "  user add JID         create an account; the password is read from stdin\n"
    "                       (prompted for when stdin is a terminal)\n"
    "  user passwd JID      set a new password the same way\n"
    "  user del JID         delete an account and everything it owns; a running\n"
    "                       parleyd does it and tells the contacts\n"
    "  user list HOST       list the accounts of a host\n"
    "  check-config         load and validate the config, then exit\n"
    "  migrate              apply database migrations\n"
    "  cert HOST...         write a self-signed certificate for the hosts to the\n"
    "                       paths the config expects (certificate / key)\n"
    "  config-doc example   print a documented example config with every option\n"
    "  config-doc markdown  print the configuration reference in Markdown\n"
    "  version              print the version\n";
const char* const kUsageEnd =
    "\n"
    "Options: --config FILE (default conf/parley.toml), --help.\n"
    "Exit codes: 0 success, 1 the command failed, 2 bad usage or config.\n";

// What the built-in modules add to parleyctl (docs/MODULES.md).
std::string module_usage() {
  std::string out;
  for (const xmpp::ModuleDefinition* module : modules::builtin_modules()) {
    for (const xmpp::ModuleCommand& command : module->commands) out += command.usage;
    for (const xmpp::UserAddOption& option : module->user_add_options) out += option.usage;
  }
  return out;
}

const xmpp::UserAddOption* find_user_add_option(std::string_view flag) {
  for (const xmpp::ModuleDefinition* module : modules::builtin_modules()) {
    for (const xmpp::UserAddOption& option : module->user_add_options) {
      if (option.flag == flag) return &option;
    }
  }
  return nullptr;
}

std::optional<std::string> read_password() {
  std::string first;
  if (!isatty(STDIN_FILENO)) {
    if (!std::getline(std::cin, first)) return std::nullopt;
    return first;
  }
  termios saved{};
  tcgetattr(STDIN_FILENO, &saved);
  termios quiet = saved;
  quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
  tcsetattr(STDIN_FILENO, TCSANOW, &quiet);
  std::string second;
  std::cerr << "Password: " << std::flush;
  bool ok = static_cast<bool>(std::getline(std::cin, first));
  std::cerr << "\nAgain: " << std::flush;
  ok = ok && static_cast<bool>(std::getline(std::cin, second));
  std::cerr << "\n";
  tcsetattr(STDIN_FILENO, TCSANOW, &saved);
  if (!ok) return std::nullopt;
  if (first != second) {
    std::cerr << "parleyctl: the passwords differ\n";
    return std::nullopt;
  }
  return first;
}

class Context {
 public:
  explicit Context(const Invocation& invocation) : invocation_(invocation) {}

  // Loads the config; prints the error and returns false if it is invalid.
  bool load_config() {
    options_ = core::all_options(modules::builtin_modules());
    auto loaded = core::Config::load(invocation_.config, options_);
    if (auto* error = std::get_if<core::ConfigError>(&loaded)) {
      std::cerr << "parleyctl: " << error->str() << "\n";
      return false;
    }
    config_ = std::make_unique<core::Config>(std::move(std::get<core::Config>(loaded)));
    return true;
  }

  // Reaches the database (starting the embedded cluster if needed) with migrations applied.
  store::PgSync* database() {
    std::string error;
    if (!core::open_database(*config_, log_, database_, error)) {
      std::cerr << "parleyctl: database: " << error << "\n";
      return nullptr;
    }
    sync_ = std::make_unique<store::PgSync>(database_.conninfo);
    return sync_.get();
  }

  // Parses JID and checks that its domain is served here.
  std::optional<xmpp::Jid> account(const std::string& text) {
    std::optional<xmpp::Jid> jid = xmpp::Jid::parse(text);
    if (!jid || jid->node().empty() || !jid->resource().empty()) {
      std::cerr << "parleyctl: '" << text << "' is not an account JID (user@host)\n";
      return std::nullopt;
    }
    if (!config_->has_host(jid->domain())) {
      std::cerr << "parleyctl: host '" << jid->domain() << "' is not in " << invocation_.config.string() << "\n";
      return std::nullopt;
    }
    return jid;
  }

  const core::Config& config() const { return *config_; }
  const core::OptionRegistry& options() const { return options_; }
  // For module commands: the config, and the database when they ask for it.
  xmpp::CliContext cli() {
    return {*config_, [this] { return database(); }};
  }

 private:
  const Invocation& invocation_;
  core::OptionRegistry options_;
  std::unique_ptr<core::Config> config_;
  core::Logger log_{core::LogLevel::Warn};
  core::Database database_;
  std::unique_ptr<store::PgSync> sync_;
};

int report(const std::string& error, const std::string& success) {
  if (!error.empty()) {
    std::cerr << "parleyctl: " << error << "\n";
    return kFailed;
  }
  if (!success.empty()) std::cout << success << "\n";
  return kOk;
}

int user_command(Context& ctx, std::vector<std::string> args) {
  // Module options of `user add` (--phone NUMBER ...), applied with the account.
  std::vector<std::pair<const xmpp::UserAddOption*, std::string>> extras;
  for (size_t i = 2; args.size() >= 2 && args[0] == "add" && i < args.size(); ++i) {
    const xmpp::UserAddOption* option =
        args[i].rfind("--", 0) == 0 ? find_user_add_option(std::string_view(args[i]).substr(2)) : nullptr;
    if (!option || i + 1 >= args.size()) {
      std::cerr << "parleyctl: unknown option '" << args[i] << "' for user add, or it lacks its value\n";
      return kUsage;
    }
    extras.emplace_back(option, args[i + 1]);
    args.erase(args.begin() + static_cast<long>(i), args.begin() + static_cast<long>(i) + 2);
    --i;
  }
  if (args.size() != 2) {
    std::cerr << "usage: parleyctl user add|passwd|del JID, or parleyctl user list HOST\n";
    return kUsage;
  }
  const std::string& verb = args[0];
  if (!ctx.load_config()) return kUsage;
  if (verb == "list") {
    if (!ctx.config().has_host(args[1])) {
      std::cerr << "parleyctl: host '" << args[1] << "' is not configured\n";
      return kUsage;
    }
    store::PgSync* db = ctx.database();
    if (!db) return kFailed;
    std::vector<xmpp::account_admin::AccountListing> accounts;
    std::string error = xmpp::account_admin::list(*db, args[1], accounts);
    for (const auto& account : accounts) {
      std::cout << account.username << "@" << args[1] << (account.being_deleted ? " (being deleted)" : "") << "\n";
    }
    return report(error, {});
  }
  if (verb != "add" && verb != "passwd" && verb != "del") {
    std::cerr << "parleyctl: unknown user command '" << verb << "' (add, passwd, del, list)\n";
    return kUsage;
  }
  std::optional<xmpp::Jid> jid = ctx.account(args[1]);
  if (!jid) return kUsage;
  store::PgSync* db = ctx.database();
  if (!db) return kFailed;
  if (verb == "del") {
    bool deleted = false;
    std::string error =
        xmpp::account_admin::request_removal(*db, jid->domain(), jid->node(), std::chrono::seconds(10), deleted);
    return report(error, deleted ? "deleted " + jid->str()
                                 : jid->str() + " can no longer log in; parleyd is not running, and deletes it "
                                                "(telling its contacts) when it next starts");
  }
  std::optional<std::string> password = read_password();
  if (!password || password->empty()) {
    std::cerr << "parleyctl: no password given\n";
    return kUsage;
  }
  auto iterations = static_cast<uint32_t>(ctx.config().get_int("auth.scram_iterations"));
  if (verb == "add") {
    xmpp::CliContext cli = ctx.cli();
    auto also = [&]() -> std::string {
      for (const auto& [option, value] : extras) {
        std::string error = option->apply(cli, *db, jid->domain(), jid->node(), value);
        if (!error.empty()) return error;
      }
      return {};
    };
    return report(xmpp::account_admin::create(*db, jid->domain(), jid->node(), *password, iterations, also),
                  "created " + jid->str());
  }
  return report(xmpp::account_admin::set_password(*db, jid->domain(), jid->node(), *password, iterations),
                "password changed for " + jid->str());
}

int cert_command(Context& ctx, const std::vector<std::string>& hosts) {
  if (hosts.empty()) {
    std::cerr << "usage: parleyctl cert HOST...\n";
    return kUsage;
  }
  if (!ctx.load_config()) return kUsage;
  for (const std::string& host : hosts) {
    std::filesystem::path cert = core::certificate_path(ctx.config(), host);
    std::filesystem::path key = core::key_path(ctx.config(), host);
    std::error_code ec;
    std::filesystem::create_directories(cert.parent_path(), ec);
    std::filesystem::create_directories(key.parent_path(), ec);
    std::string error;
    if (!net::write_self_signed_certificate({host}, key, cert, error)) return report(error, {});
    std::cout << "wrote " << cert.string() << " and " << key.string() << "\n";
  }
  return kOk;
}

}  // namespace

int main(int argc, char** argv) {
  Invocation invocation;
  std::string command;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if ((arg == "--config" || arg == "-c") && i + 1 < argc) {
      invocation.config = argv[++i];
    } else if (arg == "--help" || arg == "-h") {
      invocation.help = true;
    } else if (command.empty()) {
      command = arg;
    } else {
      invocation.args.push_back(arg);
    }
  }
  if (invocation.help || command.empty() || command == "help") {
    std::cout << kUsageText << module_usage() << kUsageEnd;
    return command.empty() && !invocation.help ? kUsage : kOk;
  }
  Context ctx(invocation);
  if (command == "version") {
    std::cout << "parleyctl " << PARLEY_VERSION << "\n";
    return kOk;
  }
  if (command == "user") return user_command(ctx, invocation.args);
  if (command == "cert") return cert_command(ctx, invocation.args);
  if (command == "check-config") {
    if (!ctx.load_config()) return kUsage;
    std::cout << invocation.config.string() << ": OK (" << ctx.config().hosts().size() << " hosts)\n";
    return kOk;
  }
  if (command == "migrate") {
    if (!ctx.load_config()) return kUsage;
    return ctx.database() ? report({}, "database schema is up to date") : kFailed;
  }
  if (command == "config-doc") {
    std::string kind = invocation.args.empty() ? "example" : invocation.args[0];
    core::OptionRegistry options = core::all_options(modules::builtin_modules());
    if (kind == "example") {
      std::cout << core::render_example_config(options);
    } else if (kind == "markdown") {
      std::cout << core::render_config_reference_markdown(options);
    } else {
      std::cerr << "usage: parleyctl config-doc example|markdown\n";
      return kUsage;
    }
    return kOk;
  }
  for (const xmpp::ModuleDefinition* module : modules::builtin_modules()) {
    for (const xmpp::ModuleCommand& module_command : module->commands) {
      if (module_command.name != command) continue;
      if (!ctx.load_config()) return kUsage;
      xmpp::CliContext cli = ctx.cli();
      return module_command.run(cli, invocation.args);
    }
  }
  std::cerr << "parleyctl: unknown command '" << command << "' (try --help)\n";
  return kUsage;
}
