// The core's options (STYLE.md principle 7): each declared once with its type,
// default, bounds and documentation. conf/parley.toml and
// docs/CONFIGURATION.md are rendered from this table (parleyctl config-doc).
// Only options the code reads belong here.
#include "core/core_options.hpp"

namespace parley::core {

void register_core_options(OptionRegistry& registry) {
    registry.add_section("", "Top level. These keys may also be set inside each [hosts.\"name\"] table, "
                             "which is where they usually belong; a top-level value is the default for every host.");
    registry.add({.key = "certificate", .type = OptionType::Path, .default_value = "\"\"",
                  .doc = "PEM certificate chain for the host's domain (relative to the main configuration file's "
                         "directory): the host's certificate, then the intermediates to send with it (such as "
                         "Let's Encrypt's fullchain.pem), since no chain is built at handshake time; empty means "
                         "<server.state_dir>/certs/<host>.crt.",
                  .per_host = true});
    registry.add({.key = "key", .type = OptionType::Path, .default_value = "\"\"",
                  .doc = "PEM private key matching `certificate`; empty means <server.state_dir>/certs/<host>.key.",
                  .per_host = true});
    registry.add({.key = "modules_enabled", .type = OptionType::StringList,
                  .default_value = "[\"blocking\", \"carbons\", \"csi\", \"disco\", \"last\", \"offline\", \"ping\", "
                                   "\"private\", \"proxy65\", \"register\", \"roster\", \"time\", \"upload\", \"vcard\", "
                                   "\"version\"]",
                  .doc = "Modules enabled for the host, by name. A disabled module's namespaces get "
                         "service-unavailable and its disco features disappear.",
                  .per_host = true});

    registry.add_section("server", "Process-wide settings.");
    registry.add({.key = "server.state_dir", .type = OptionType::Path, .default_value = "\"var\"",
                  .doc = "Directory for the embedded database, certificates and other state "
                         "(relative to the main configuration file's directory). parleyd locks "
                         "parleyd.pid in it, which holds its pid: a second parleyd on the same "
                         "directory exits with an error."});
    registry.add({.key = "server.log_level", .type = OptionType::String, .default_value = "\"info\"",
                  .choices = {"debug", "info", "warn", "error"},
                  .doc = "Least severe level that is logged. Secrets (passwords, SASL payloads) are never logged."});
    registry.add({.key = "server.log_file", .type = OptionType::Path, .default_value = "\"\"",
                  .doc = "Log file; empty logs to standard error (relative to server.state_dir). SIGHUP "
                         "opens it again, so logrotate can move it away and then signal parleyd.",
                  .path_base = PathBase::StateDir});
    registry.add({.key = "server.shutdown_grace", .type = OptionType::Duration, .default_value = "\"3s\"",
                  .min = 0, .max = 600'000,
                  .doc = "On SIGTERM, how long clients get to close their streams before parleyd exits."});

    registry.add_section("database", "PostgreSQL storage. By default parleyd runs a private cluster "
                                     "under server.state_dir, reachable only by a Unix socket.");
    registry.add({.key = "database.embedded", .type = OptionType::Boolean, .default_value = "true",
                  .doc = "Run a private PostgreSQL cluster (initdb and pg_ctl) under server.state_dir."});
    registry.add({.key = "database.data_dir", .type = OptionType::Path, .default_value = "\"postgres\"",
                  .doc = "Data directory of the embedded cluster (relative to server.state_dir). Its log is "
                         "the file of the same name plus .log beside it (var/postgres.log); PostgreSQL keeps it "
                         "open, so rotate it with logrotate's copytruncate.",
                  .path_base = PathBase::StateDir});
    registry.add({.key = "database.dsn", .type = OptionType::String, .default_value = "\"\"",
                  .doc = "libpq connection string used when database.embedded is false, e.g. "
                         "\"host=/run/postgresql dbname=parley\". Use hostaddr= rather than a host name: "
                         "libpq resolves names with a blocking lookup."});

    registry.add_section("c2s", "Client-to-server listeners (RFC 6120).");
    registry.add({.key = "c2s.bind_addresses", .type = OptionType::StringList,
                  .default_value = "[\"0.0.0.0\", \"::\"]", .min = 1,
                  .doc = "Addresses the client listeners bind to. A port that another program (another "
                         "parleyd included) already listens on stops start-up with an error."});
    registry.add({.key = "c2s.starttls_port", .type = OptionType::Integer, .default_value = "5222",
                  .min = 0, .max = 65535,
                  .doc = "Port for connections that negotiate STARTTLS (RFC 6120 §5); 0 disables it."});
    registry.add({.key = "c2s.direct_tls_port", .type = OptionType::Integer, .default_value = "5223",
                  .min = 0, .max = 65535,
                  .doc = "Port for direct TLS connections (XEP-0368); 0 disables it."});
    registry.add({.key = "c2s.require_encryption", .type = OptionType::Boolean, .default_value = "true",
                  .doc = "Refuse authentication before TLS is established (RFC 6120 §5.3.1). "
                         "Only turn it off for local experiments.",
                  .per_host = true});
    registry.add({.key = "c2s.negotiation_timeout", .type = OptionType::Duration, .default_value = "\"30s\"",
                  .min = 1'000, .max = 600'000,
                  .doc = "Time a new connection has to finish TLS, SASL and resource binding; "
                         "then it gets <connection-timeout/>."});

    registry.add({.key = "c2s.stream_management", .type = OptionType::Boolean, .default_value = "true",
                  .doc = "Offer XEP-0198 stream management to clients: acknowledgements, without resumption. "
                         "When a session ends, the chat and normal messages its client did not acknowledge go "
                         "to offline storage if the account has no other available resource (otherwise the "
                         "sender of one addressed to that resource alone gets <recipient-unavailable/>), and "
                         "IQ requests it did not acknowledge are answered with <service-unavailable/>.",
                  .per_host = true});
    registry.add({.key = "c2s.sm_max_unacked", .type = OptionType::Integer, .default_value = "1000",
                  .min = 1, .max = 100'000,
                  .doc = "Stanzas a client with stream management may leave unacknowledged. Past this, a "
                         "request for acknowledgement that stays unanswered for c2s.ping_timeout ends the "
                         "session with <resource-constraint/>; past four times this, or sixteen times "
                         "limits.max_output_buffer in bytes, the client is dropped at once.",
                  .per_host = true});
    registry.add({.key = "c2s.ping_interval", .type = OptionType::Duration, .default_value = "\"60s\"",
                  .min = 1'000, .max = 86'400'000,
                  .doc = "After this long without input from a client, the server pings it (XEP-0199)."});
    registry.add({.key = "c2s.ping_timeout", .type = OptionType::Duration, .default_value = "\"30s\"",
                  .min = 1'000, .max = 3'600'000,
                  .doc = "A client that sends nothing for this long after a ping is considered gone: "
                         "its session ends with <connection-timeout/> and its contacts see it leave."});

    registry.add_section("dns", "Asynchronous DNS (c-ares), used to find other servers (RFC 6120 §3.2).");
    registry.add({.key = "dns.servers", .type = OptionType::StringList, .default_value = "[]",
                  .doc = "DNS servers to ask, \"192.0.2.53\" or \"192.0.2.53:5353\" or \"[2001:db8::53]:53\"; "
                         "empty uses /etc/resolv.conf."});
    registry.add({.key = "dns.timeout", .type = OptionType::Duration, .default_value = "\"3s\"",
                  .min = 100, .max = 60'000,
                  .doc = "How long one DNS query waits for an answer before it is retried (twice in all)."});

    registry.add_section("auth", "Authentication (RFC 6120 §6).");
    registry.add({.key = "auth.scram_iterations", .type = OptionType::Integer, .default_value = "10000",
                  .min = 4096, .max = 1'000'000,
                  .doc = "PBKDF2 iterations for newly stored SCRAM credentials (RFC 7677 asks for at least 4096)."});

    registry.add({.key = "auth.credential_cache", .type = OptionType::Integer, .default_value = "10000",
                  .min = 0, .max = 10'000'000,
                  .doc = "Accounts whose SCRAM credentials stay in memory (most recently used first), so that a "
                         "returning client's login needs no database query; 0 turns the cache off. Password "
                         "changes and deletions, parleyctl's included, drop an account from it at once."});

    registry.add({.key = "auth.fast_token_lifetime", .type = OptionType::Duration, .default_value = "\"14d\"",
                  .min = 0, .max = 365LL * 86'400'000,
                  .doc = "Lifetime of XEP-0484 FAST tokens: a client that logged in with its password may ask for "
                         "one and then log in with it in a single round trip (SASL2 with an HT-SHA-256 mechanism). "
                         "A token used in the second half of its life is replaced by a new one; a password change "
                         "revokes them all. 0 turns FAST off.",
                  .per_host = true});

    registry.add({.key = "auth.strict_channel_binding", .type = OptionType::Boolean, .default_value = "false",
                  .doc = "Refuse SCRAM when the client says it supports channel binding but did not use it ('y' flag) "
                         "although -PLUS is offered (RFC 5802 §6 downgrade protection). Off by default because clients "
                         "that only know tls-unique (which TLS 1.3 lacks), such as slixmpp 1.8, send 'y' and would be "
                         "refused.",
                  .per_host = true});

    registry.add_section("http", "The HTTP server inside parleyd (HTTP/1.1, keep-alive), used by modules such as "
                                 "upload (XEP-0363). HTTPS uses the hosts' certificates.");
    registry.add({.key = "http.bind_addresses", .type = OptionType::StringList,
                  .default_value = "[\"0.0.0.0\", \"::\"]", .min = 1,
                  .doc = "Addresses the HTTP listeners bind to."});
    registry.add({.key = "http.tls_port", .type = OptionType::Integer, .default_value = "5281",
                  .min = 0, .max = 65535,
                  .doc = "Port for HTTPS; 0 disables it."});
    registry.add({.key = "http.port", .type = OptionType::Integer, .default_value = "0",
                  .min = 0, .max = 65535,
                  .doc = "Port for plain HTTP, meant for a TLS-terminating reverse proxy on the same machine "
                         "(bind it to 127.0.0.1 then); 0 disables it."});
    registry.add({.key = "http.external_url", .type = OptionType::String, .default_value = "\"\"",
                  .doc = "Base URL clients use to reach this host's HTTP server, e.g. \"https://upload.example.org/\" "
                         "behind a reverse proxy; empty means https://<host>:<http.tls_port>/.",
                  .per_host = true});
    registry.add({.key = "http.max_header_size", .type = OptionType::Size, .default_value = "\"16KiB\"",
                  .min = 1024, .max = 1 << 20,
                  .doc = "Largest request line plus headers accepted; larger requests get 431."});
    registry.add({.key = "http.idle_timeout", .type = OptionType::Duration, .default_value = "\"60s\"",
                  .min = 1'000, .max = 3'600'000,
                  .doc = "An HTTP connection that neither sends nor takes a byte for this long is closed, and so is "
                         "one whose request head is not complete this long after its first byte."});

    registry.add_section("limits", "Resource limits against abuse (RFC 6120 §13.12).");
    registry.add({.key = "limits.max_stanza_bytes", .type = OptionType::Size, .default_value = "\"256KiB\"",
                  .min = 10'000, .max = 64 << 20,
                  .doc = "Largest stanza accepted; larger ones close the stream with <policy-violation/>."});
    registry.add({.key = "limits.max_xml_depth", .type = OptionType::Integer, .default_value = "64",
                  .min = 8, .max = 1024,
                  .doc = "Deepest element nesting accepted inside a stanza."});
    registry.add({.key = "limits.max_attributes", .type = OptionType::Integer, .default_value = "64",
                  .min = 4, .max = 1024,
                  .doc = "Most attributes accepted on one element."});
    registry.add({.key = "limits.max_output_buffer", .type = OptionType::Size, .default_value = "\"2MiB\"",
                  .min = 65'536,
                  .doc = "Output queued for a client that does not read; past it the client is dropped "
                         "(docs/ARCHITECTURE.md, back-pressure)."});
    registry.add({.key = "limits.max_connections_per_ip", .type = OptionType::Integer, .default_value = "100",
                  .min = 1, .max = 100'000,
                  .doc = "Concurrent client connections accepted from one IP address, counted separately for "
                         "XMPP and HTTP."});
    registry.add({.key = "limits.max_sessions_per_account", .type = OptionType::Integer, .default_value = "10",
                  .min = 1, .max = 1000,
                  .doc = "Concurrent resources one account may bind; one more gets <resource-constraint/>.",
                  .per_host = true});
    registry.add({.key = "limits.auth_failures_per_ip", .type = OptionType::Integer, .default_value = "20",
                  .min = 1, .max = 100'000,
                  .doc = "Failed authentications from one IP address within the window before further "
                         "attempts get <temporary-auth-failure/>."});
    registry.add({.key = "limits.auth_failures_per_account", .type = OptionType::Integer, .default_value = "5",
                  .min = 1, .max = 100'000,
                  .doc = "Failed authentications for one account within the window before further attempts "
                         "get <temporary-auth-failure/>."});
    registry.add({.key = "limits.auth_failure_window", .type = OptionType::Duration, .default_value = "\"5m\"",
                  .min = 1'000, .max = 86'400'000,
                  .doc = "Window over which failed authentications are counted."});
}

}  // namespace parley::core
