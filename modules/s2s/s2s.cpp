// Federation (RFC 6120 server-to-server, XEP-0178, XEP-0220, XEP-0368): stanzas for
// other domains leave over authenticated TLS links, and stanzas from other
// domains come in over links whose every 'from' is checked. The machinery is
// per worker (federation.*), shared by the local domains that enable it;
// this file declares the options and hooks each domain's outgoing traffic.
#include "core/option.hpp"
#include "modules/s2s/federation.hpp"
#include "xmpp/module_api.hpp"

namespace parley::modules {

namespace {

void declare_options(core::OptionRegistry& registry) {
  using core::OptionType;
  registry.add_section("modules.s2s",
                       "Federation with other XMPP domains. These settings are shared by every host that "
                       "enables the module; docs/FEDERATION.md explains DNS records and certificates.");
  registry.add({.key = "modules.s2s.port", .type = OptionType::Integer, .default_value = "5269", .min = 0,
                .max = 65535,
                .doc = "Port where other servers connect and negotiate STARTTLS (RFC 6120 §14.7); 0 disables "
                       "incoming links. Takes effect at the next start."});
  registry.add({.key = "modules.s2s.direct_tls_port", .type = OptionType::Integer, .default_value = "0",
                .min = 0, .max = 65535,
                .doc = "Port for direct TLS links from other servers (XEP-0368, announced by _xmpps-server SRV "
                       "records); 0 disables it."});
  registry.add({.key = "modules.s2s.bind_addresses", .type = OptionType::StringList,
                .default_value = "[\"0.0.0.0\", \"::\"]", .min = 1,
                .doc = "Addresses the server-to-server listeners bind to."});
  registry.add({.key = "modules.s2s.routes", .type = OptionType::StringList, .default_value = "[]",
                .doc = "Static routes, \"domain=address:port\" or \"domain=tls:address:port\" (direct TLS), with "
                       "an IP address (IPv6 in brackets). For private networks and tests."});
  registry.add({.key = "modules.s2s.ca_file", .type = OptionType::Path, .default_value = "\"\"",
                .doc = "PEM file of extra certificate authorities trusted for peer certificates, besides the "
                       "system trust store (a private CA for a private federation)."});
  registry.add({.key = "modules.s2s.default_policy", .type = OptionType::String,
                .default_value = "\"dialback\"", .choices = {"certificate", "dialback", "refuse"},
                .doc = "How peers authenticate: \"certificate\" requires a certificate valid for the peer's "
                       "domain (SASL EXTERNAL, RFC 6125, XEP-0178); \"dialback\" also accepts Server Dialback "
                       "(XEP-0220) from peers whose certificate does not verify; \"refuse\" does not federate."});
  registry.add({.key = "modules.s2s.domain_policies", .type = OptionType::StringList, .default_value = "[]",
                .doc = "Per-domain exceptions to default_policy: \"domain=certificate\", \"domain=dialback\" or "
                       "\"domain=refuse\"."});
  registry.add({.key = "modules.s2s.plaintext_domains", .type = OptionType::StringList, .default_value = "[]",
                .doc = "Legacy peers allowed to federate without TLS, in both directions (everyone else must use "
                       "TLS). Without TLS there is no certificate, so these peers authenticate by dialback: "
                       "their policy must be \"dialback\". Their traffic can be read and altered on the way."});
  registry.add({.key = "modules.s2s.bidi", .type = OptionType::Boolean, .default_value = "false",
                .doc = "Bidirectional links (XEP-0288): ask peers that offer it to send their stanzas on the "
                       "link we opened, and offer the same, so two servers need one TCP connection, not two."});
  registry.add({.key = "modules.s2s.max_links_per_ip", .type = OptionType::Integer, .default_value = "20",
                .min = 1, .max = 100'000,
                .doc = "Incoming links accepted at once from one IP address; more are closed on arrival."});
  registry.add({.key = "modules.s2s.queue_limit", .type = OptionType::Integer, .default_value = "500", .min = 1,
                .max = 100'000,
                .doc = "Stanzas held for a domain while its link comes up; more are answered with "
                       "<resource-constraint/>."});
  registry.add({.key = "modules.s2s.connect_timeout", .type = OptionType::Duration, .default_value = "\"30s\"",
                .min = 1'000, .max = 600'000,
                .doc = "Time a new link has to connect, encrypt and authenticate; then the stanzas waiting for "
                       "it are answered with <remote-server-timeout/>. Incoming links that have not authenticated "
                       "by then are closed with <connection-timeout/>."});
  registry.add({.key = "modules.s2s.idle_timeout", .type = OptionType::Duration, .default_value = "\"10m\"",
                .min = 0, .max = 86'400'000,
                .doc = "Links with no traffic for this long are closed (0 keeps them open)."});
  registry.add({.key = "modules.s2s.reconnect_backoff", .type = OptionType::Duration, .default_value = "\"5s\"",
                .min = 0, .max = 3'600'000,
                .doc = "After a link to a domain fails, stanzas for it are answered with "
                       "<remote-server-not-found/> for this long before a new attempt; the wait doubles with "
                       "each further failure, up to 64 times this value."});
  registry.add({.key = "modules.s2s.max_stanza_size", .type = OptionType::Size, .default_value = "\"512KiB\"",
                .min = 10'000, .max = 64 << 20,
                .doc = "Largest stanza accepted from another server; a larger one closes the link with "
                       "<policy-violation/>."});
  registry.add({.key = "modules.s2s.rate_limit", .type = OptionType::Integer, .default_value = "500", .min = 0,
                .max = 1'000'000,
                .doc = "Stanzas per second accepted on one incoming link; past it the server stops reading "
                       "from that link until the next second (0: no limit)."});
}

void start(xmpp::ModuleContext& ctx) {
  xmpp::Services& services = ctx.host_context().services();
  auto& federation = static_cast<s2s::Federation&>(
      services.shared_state("s2s", [&services] { return std::make_unique<s2s::Federation>(services); }));
  federation.attach_host(ctx.host());
  std::string host = ctx.host();
  ctx.on(xmpp::events::route_remote, 0, [&federation, host](xmpp::StanzaEvent& event) {
    // A component of this host (proxy.<host>) has links of its own: RFC 6120
    // §13.7 authenticates each sending domain, and peers check 'from'.
    const std::string& from = event.stanza.from.domain();
    federation.send(from != host && federation.serves(from) ? from : host, event.stanza.to.domain(),
                    std::move(event.stanza.element));
    return xmpp::HookResult::Handled;
  });
}

}  // namespace

extern const xmpp::ModuleDefinition s2s_module{
    "s2s", "Federation: links to and from other XMPP domains, authenticated by certificate.",
    {"RFC 6120 §13.7 (s2s)", "XEP-0178", "XEP-0185", "XEP-0220", "XEP-0288", "XEP-0368"}, declare_options, start};

}  // namespace parley::modules
