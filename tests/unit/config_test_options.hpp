#pragma once
// A fixed option table for the loader tests, so they do not change whenever
// the real core table (src/core/core_options.cpp) does.
#include "core/option.hpp"


inline void register_test_options(parley::core::OptionRegistry& registry) {
    using namespace parley::core;
    registry.add_section("", "Top level. These keys may also be set inside each [hosts.\"name\"] table, "
                             "which is where they usually belong; a top-level value is the default for every host.");
    registry.add({.key = "certificate", .type = OptionType::Path, .default_value = "\"\"",
                  .doc = "PEM certificate chain for the host's domain; empty means no TLS for this host "
                         "(relative to the main configuration file's directory).",
                  .per_host = true});
    registry.add({.key = "key", .type = OptionType::Path, .default_value = "\"\"",
                  .doc = "PEM private key matching `certificate` (relative to the main configuration file's directory).",
                  .per_host = true});
    registry.add({.key = "modules_enabled", .type = OptionType::StringList, .default_value = "[]",
                  .doc = "Modules enabled for the host, by name (e.g. \"ping\", \"roster\").",
                  .per_host = true});

    registry.add_section("server", "Process-wide settings.");
    registry.add({.key = "server.state_dir", .type = OptionType::Path, .default_value = "\"var\"",
                  .doc = "Directory for the embedded database and other state "
                         "(relative to the main configuration file's directory)."});
    registry.add({.key = "server.log_level", .type = OptionType::String, .default_value = "\"info\"",
                  .choices = {"debug", "info", "warn", "error"},
                  .doc = "Least severe level that is logged."});
    registry.add({.key = "server.log_file", .type = OptionType::Path, .default_value = "\"\"",
                  .doc = "Log file; empty logs to standard error (relative to server.state_dir).",
                  .path_base = PathBase::StateDir});
    registry.add({.key = "server.shutdown_grace", .type = OptionType::Duration, .default_value = "\"5s\"",
                  .min = 0, .max = 600'000,
                  .doc = "How long sessions get to close cleanly on shutdown."});

    registry.add_section("database", "PostgreSQL storage. By default parleyd runs a private cluster "
                                     "under server.state_dir, reachable only by a Unix socket.");
    registry.add({.key = "database.embedded", .type = OptionType::Boolean, .default_value = "true",
                  .doc = "Run a private PostgreSQL cluster (initdb and pg_ctl) under server.state_dir."});
    registry.add({.key = "database.dsn", .type = OptionType::String, .default_value = "\"\"",
                  .doc = "libpq connection string used when database.embedded is false."});
    registry.add({.key = "database.connections", .type = OptionType::Integer, .default_value = "4",
                  .min = 1, .max = 256,
                  .doc = "Database connections per worker."});

    registry.add_section("c2s", "Client-to-server listeners (RFC 6120).");
    registry.add({.key = "c2s.bind_addresses", .type = OptionType::StringList,
                  .default_value = "[\"0.0.0.0\", \"::\"]", .min = 1,
                  .doc = "Addresses the client listeners bind to."});
    registry.add({.key = "c2s.starttls_port", .type = OptionType::Integer, .default_value = "5222",
                  .min = 1, .max = 65535,
                  .doc = "Port for connections that negotiate STARTTLS (RFC 6120 §5)."});
    registry.add({.key = "c2s.direct_tls_port", .type = OptionType::Integer, .default_value = "5223",
                  .min = 0, .max = 65535,
                  .doc = "Port for direct TLS connections (XEP-0368); 0 disables it."});
    registry.add({.key = "c2s.require_encryption", .type = OptionType::Boolean, .default_value = "true",
                  .doc = "Refuse authentication before TLS is established (RFC 6120 §5.3.1).", .per_host = true});
    registry.add({.key = "c2s.negotiation_timeout", .type = OptionType::Duration, .default_value = "\"30s\"",
                  .min = 1'000, .max = 600'000,
                  .doc = "Time a new connection has to finish TLS, SASL and resource binding."});
    registry.add({.key = "c2s.idle_timeout", .type = OptionType::Duration, .default_value = "\"10m\"",
                  .min = 10'000, .max = 86'400'000,
                  .doc = "An authenticated session that sends nothing for this long is closed."});

    registry.add_section("limits", "Resource limits against abuse (RFC 6120 §13.12).");
    registry.add({.key = "limits.max_stanza_bytes", .type = OptionType::Size, .default_value = "\"256KiB\"",
                  .min = 10'000, .max = 64 << 20,
                  .doc = "Largest stanza accepted; larger ones close the stream with <policy-violation/>.",
                  .per_host = true});
    registry.add({.key = "limits.max_xml_depth", .type = OptionType::Integer, .default_value = "64",
                  .min = 8, .max = 1024,
                  .doc = "Deepest element nesting accepted inside a stanza."});
    registry.add({.key = "limits.c2s_bytes_per_second", .type = OptionType::Size, .default_value = "\"64KiB\"",
                  .min = 1024,
                  .doc = "Read rate per client connection; reading pauses above it.", .per_host = true});
    registry.add({.key = "limits.max_connections_per_ip", .type = OptionType::Integer, .default_value = "100",
                  .min = 1, .max = 100'000,
                  .doc = "Concurrent connections accepted from one IP address."});
    registry.add({.key = "limits.max_sessions_per_account", .type = OptionType::Integer, .default_value = "10",
                  .min = 1, .max = 1000,
                  .doc = "Concurrent resources one account may bind.", .per_host = true});
}

