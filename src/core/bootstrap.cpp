#include "core/bootstrap.hpp"

#include <cstdlib>

#include "parley_build.hpp"

#include "core/log.hpp"
#include "store/migrations.hpp"
#include "store/pg_client.hpp"
#include "store/pg_sync.hpp"

namespace parley::core {

namespace {
std::filesystem::path schema_dir() {
  // PARLEY_SCHEMA_DIR lets an installed or relocated binary find the migrations.
  if (const char* env = std::getenv("PARLEY_SCHEMA_DIR")) return env;
  return PARLEY_DEFAULT_SCHEMA_DIR;
}
}  // namespace

OptionRegistry all_options(std::span<const xmpp::ModuleDefinition* const> modules) {
  OptionRegistry registry;
  register_core_options(registry);
  for (const xmpp::ModuleDefinition* module : modules) {
    if (module->declare_options) module->declare_options(registry);
  }
  return registry;
}

std::filesystem::path state_dir(const Config& config) {
  std::filesystem::path dir = config.get_path("server.state_dir");
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  return dir;
}

bool open_database(const Config& config, Logger& log, Database& database, std::string& error) {
  auto log_line = [&log](std::string_view line) { log.info("database", 0, line); };
  if (config.get_bool("database.embedded")) {
    state_dir(config);  // created if missing
    std::filesystem::path data_dir = config.get_path("database.data_dir");  // already under the state dir
    database.embedded = store::EmbeddedPostgres::start(data_dir, error, log_line);
    if (!database.embedded) return false;
    database.conninfo = database.embedded->conninfo();
  } else {
    database.conninfo = config.get_string("database.dsn");
    if (database.conninfo.empty()) {
      error = "database.embedded is false but database.dsn is empty";
      return false;
    }
  }
  store::PgSync sync(database.conninfo);
  if (!sync.connected()) {
    error = "cannot connect to the database: " + sync.connect_error();
    return false;
  }
  return store::apply_migrations(sync, schema_dir(), error, log_line);
}

std::filesystem::path certificate_path(const Config& config, const std::string& host) {
  std::filesystem::path configured = config.get_path("certificate", host);
  if (!configured.empty()) return configured;
  return config.get_path("server.state_dir") / "certs" / (host + ".crt");
}

std::filesystem::path key_path(const Config& config, const std::string& host) {
  std::filesystem::path configured = config.get_path("key", host);
  if (!configured.empty()) return configured;
  return config.get_path("server.state_dir") / "certs" / (host + ".key");
}

std::shared_ptr<net::TlsContextSet> load_tls(const Config& config, const net::TicketKeys& ticket_keys,
                                             std::string& error) {
  auto tls = std::make_shared<net::TlsContextSet>(ticket_keys);
  for (const std::string& host : config.hosts()) {
    std::string host_error;
    if (!tls->add_host(host, certificate_path(config, host), key_path(config, host), host_error)) {
      error = "host " + host + ": " + host_error;
      return nullptr;
    }
  }
  if (!config.hosts().empty()) tls->set_default_host(config.hosts().front());
  return tls;
}

}  // namespace parley::core
