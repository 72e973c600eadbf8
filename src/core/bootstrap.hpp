#pragma once
// Start-up steps shared by parleyd and parleyctl: declaring every option
// (core and modules), loading the config, reaching the database (starting the
// embedded cluster when configured) and applying migrations, loading the TLS
// certificates. All of it blocking, before any loop runs.
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <variant>

#include "core/config.hpp"
#include "core/core_options.hpp"
#include "core/option.hpp"
#include "net/tls_context.hpp"
#include "store/embedded_postgres.hpp"
#include "xmpp/module_api.hpp"

namespace parley::core {

class Logger;

// The core's options (core_options.cpp) and every module's.
OptionRegistry all_options(std::span<const xmpp::ModuleDefinition* const> modules);

// The state dir, created if missing.
std::filesystem::path state_dir(const Config& config);

struct Database {
  std::unique_ptr<store::EmbeddedPostgres> embedded;  // set when database.embedded
  std::string conninfo;
};
// Starts (or reuses) the embedded cluster or takes the DSN, then applies the
// migrations. Returns false with a message on failure.
bool open_database(const Config& config, Logger& log, Database& database, std::string& error);

std::filesystem::path certificate_path(const Config& config, const std::string& host);
std::filesystem::path key_path(const Config& config, const std::string& host);
std::shared_ptr<net::TlsContextSet> load_tls(const Config& config, const net::TicketKeys& ticket_keys,
                                             std::string& error);

}  // namespace parley::core
