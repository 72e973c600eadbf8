#pragma once
// XML namespaces the core speaks. Modules keep their own namespaces to themselves.
#include <string_view>

namespace parley::xmpp::ns {
inline constexpr std::string_view client = "jabber:client";
inline constexpr std::string_view server = "jabber:server";
inline constexpr std::string_view streams = "http://etherx.jabber.org/streams";
inline constexpr std::string_view stream_errors = "urn:ietf:params:xml:ns:xmpp-streams";
inline constexpr std::string_view stanza_errors = "urn:ietf:params:xml:ns:xmpp-stanzas";
inline constexpr std::string_view tls = "urn:ietf:params:xml:ns:xmpp-tls";
inline constexpr std::string_view sasl = "urn:ietf:params:xml:ns:xmpp-sasl";
inline constexpr std::string_view bind = "urn:ietf:params:xml:ns:xmpp-bind";
inline constexpr std::string_view session = "urn:ietf:params:xml:ns:xmpp-session";
inline constexpr std::string_view sasl_channel_binding = "urn:xmpp:sasl-cb:0";  // XEP-0440
inline constexpr std::string_view sasl2 = "urn:xmpp:sasl:2";                     // XEP-0388
inline constexpr std::string_view bind2 = "urn:xmpp:bind:0";                     // XEP-0386
inline constexpr std::string_view fast = "urn:xmpp:fast:0";                      // XEP-0484
inline constexpr std::string_view sm = "urn:xmpp:sm:3";                         // XEP-0198
inline constexpr std::string_view xml = "http://www.w3.org/XML/1998/namespace";
}  // namespace parley::xmpp::ns
