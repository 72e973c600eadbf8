// The core's options (STYLE.md principle 7): each one declared once, with its
// type, default, bounds and documentation. conf/parley.toml and
// docs/CONFIGURATION.md are generated from this table (parleyctl config-doc).
#include "core/bootstrap.hpp"

namespace parley::core {

void declare_core_options(OptionRegistry& r) {
  r.add_section("server", "Process-wide settings.");
  r.add({"server.state_dir", OptionType::Path, "\"var\"", {}, {}, {},
         "Directory for runtime state: the embedded database, certificates, uploads. "
         "Relative paths are resolved against the directory of the config file.", false});
  r.add({"server.log_level", OptionType::String, "\"info\"", {}, {}, {"debug", "info", "warn", "error"},
         "Least severe log level written to standard error.", false});
  r.add({"server.modules", OptionType::StringList, "[\"disco\", \"ping\", \"time\", \"version\"]", {}, {}, {},
         "Modules enabled for a host (set it per host under [hosts.\"name\".server]).", true});

  r.add_section("database", "Where accounts and module data live (PostgreSQL).");
  r.add({"database.embedded", OptionType::Boolean, "true", {}, {}, {},
         "Run a private PostgreSQL cluster under the state dir (initdb on first start, Unix socket only). "
         "Set to false and give a dsn for a production database.", false});
  r.add({"database.dsn", OptionType::String, "\"\"", {}, {}, {},
         "libpq connection string used when embedded = false, e.g. \"host=/run/postgresql dbname=parley\".", false});
  r.add({"database.data_dir", OptionType::Path, "\"postgres\"", {}, {}, {},
         "Data directory of the embedded cluster, relative to the state dir.", false});

  r.add_section("tls", "Certificates, per host. TLS 1.2 and 1.3 only.");
  r.add({"tls.certificate", OptionType::Path, "\"\"", {}, {}, {},
         "PEM certificate chain for the host; empty means <state_dir>/certs/<host>.crt.", true});
  r.add({"tls.key", OptionType::Path, "\"\"", {}, {}, {},
         "PEM private key for the host; empty means <state_dir>/certs/<host>.key.", true});

  r.add_section("c2s", "Client connections (RFC 6120).");
  r.add({"c2s.interfaces", OptionType::StringList, "[\"0.0.0.0\", \"::\"]", {}, {}, {},
         "Addresses to listen on for clients.", false});
  r.add({"c2s.starttls_port", OptionType::Integer, "5222", 0, 65535, {},
         "Port for STARTTLS client connections; 0 disables it.", false});
  r.add({"c2s.direct_tls_port", OptionType::Integer, "5223", 0, 65535, {},
         "Port for direct TLS client connections (XEP-0368); 0 disables it.", false});
  r.add({"c2s.require_tls", OptionType::Boolean, "true", {}, {}, {},
         "Refuse authentication before TLS. Only turn off for local testing.", true});

  r.add_section("auth", "Authentication.");
  r.add({"auth.scram_iterations", OptionType::Integer, "10000", 4096, 1000000, {},
         "PBKDF2 iterations for newly stored SCRAM credentials (RFC 7677 asks for at least 4096).", false});

  r.add_section("limits", "Protection against abusive or broken peers.");
  r.add({"limits.max_stanza_bytes", OptionType::Size, "\"256KiB\"", 1024, {}, {},
         "Largest stanza accepted; larger ones end the stream with <policy-violation/>.", false});
  r.add({"limits.max_depth", OptionType::Integer, "64", 4, 10000, {},
         "Deepest element nesting inside a stanza.", false});
  r.add({"limits.max_attributes", OptionType::Integer, "64", 4, 10000, {},
         "Most attributes on one element.", false});
  r.add({"limits.max_output_buffer", OptionType::Size, "\"2MiB\"", 65536, {}, {},
         "Output queued for a client that does not read; past it the session is dropped.", false});
  r.add({"limits.auth_failures_per_ip", OptionType::Integer, "20", 1, 100000, {},
         "Failed authentications from one IP address within the window before further attempts are refused.",
         false});
  r.add({"limits.auth_failures_per_account", OptionType::Integer, "5", 1, 100000, {},
         "Failed authentications for one account within the window before further attempts are refused.", false});
  r.add({"limits.auth_failure_window", OptionType::Duration, "\"5m\"", 1, {}, {},
         "Window over which failed authentications are counted.", false});
}

OptionRegistry all_options(std::span<const xmpp::ModuleDefinition* const> modules) {
  OptionRegistry registry;
  declare_core_options(registry);
  for (const xmpp::ModuleDefinition* module : modules) {
    if (module->declare_options) module->declare_options(registry);
  }
  return registry;
}

}  // namespace parley::core
