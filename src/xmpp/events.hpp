#pragma once
// The events the core fires and modules hook (docs/MODULES.md lists them with
// what handling each one means). Event objects are mutable: a handler may
// change the stanza, or veto by returning Handled / clearing `allowed`.
#include <functional>
#include <chrono>
#include <memory>
#include <string>

#include "xml/element.hpp"
#include "xmpp/hook_bus.hpp"
#include "xmpp/jid.hpp"
#include "xmpp/namespaces.hpp"
#include "xmpp/session.hpp"
#include "xmpp/stanza.hpp"

namespace parley::xmpp {

class HostContext;

// A stanza on its way through the router, with its routing key computed once.
struct RoutedStanza {
  xml::Element element;
  StanzaKind kind;
  std::string type;  // effective type (RFC defaults applied)
  Jid from;
  Jid to;            // empty: addressed to the sender's own account (RFC 6120 §8.1.1.1)
  Session* origin = nullptr;  // the local session it came from, if any
  // Emitted by this server (Router::send_from_server), such as a message
  // routed again after its session ended: what it carries was checked when
  // it first came in from a client or a remote domain.
  bool from_server = false;
};

struct StanzaEvent {
  RoutedStanza& stanza;
  HostContext& host;
};

struct SessionEvent {
  Session& session;
  HostContext& host;
};

// user/creating may be vetoed: set allowed = false and give a reason.
// user/deleting runs while the account's rows still exist: a handler with
// asynchronous work to finish first (telling contacts, removing files)
// copies `hold` into that work and drops it when done; the rows are removed
// once every copy is gone.
struct UserEvent {
  HostContext& host;
  std::string username;
  bool allowed = true;
  std::string reason{};
  std::shared_ptr<void> hold{};
};

struct StreamFeaturesEvent {
  Session& session;
  xml::Element& features;
  bool authenticated;
  bool encrypted;  // TLS is in place on this stream
  // When SASL2 with Bind2 is offered: the list of features a client may
  // enable inside its bind request (XEP-0386 §3); else nullptr.
  xml::Element* bind2_inline = nullptr;

  // Lists `feature` (its namespace) for Bind2 requests, if Bind2 is offered.
  void offer_bind2_inline(std::string_view feature) const {
    if (!bind2_inline) return;
    bind2_inline->append(xml::Element("feature", std::string(ns::bind2))).set_attr("var", std::string(feature));
  }
};

// A Bind2 request (XEP-0386 §4) once its resource is bound, before the
// SASL2 success goes out: modules act on their inline elements in `request`
// and put their answers, if any, in `bound`.
struct Bind2RequestEvent {
  Session& session;
  HostContext& host;
  const xml::Element& request;
  xml::Element& bound;
};

// A top-level element of a bound client stream that is neither a stanza
// nor one the core negotiates (XEP-0352's <active/> and <inactive/>). The
// handler that takes it returns Handled; if none does, the stream ends with
// <unsupported-stanza-type/>.
struct StreamElementEvent {
  Session& session;
  HostContext& host;
  const xml::Element& element;
};

// An IQ a client sent before authenticating. RFC 6120 §4.9.3.12 closes such
// streams, but XEP-0077 in-band registration happens exactly there; a module
// that handles the IQ returns Handled, otherwise the stream is closed.
// `reply` may be called later (after a database round trip): it writes the
// answer if the stream is still open and does nothing otherwise.
struct UnauthenticatedIqEvent {
  HostContext& host;
  const xml::Element& iq;
  bool encrypted;
  std::string remote_ip;
  std::function<void(const xml::Element&)> reply;
  // Keeps the unauthenticated stream open this long from the call (beyond
  // c2s.negotiation_timeout), if it is still there: a handler calls it, now
  // or from a later callback, once the stream has a reason to wait, such as
  // an SMS code that was sent. Not when a request was refused: that would let
  // a client hold an unauthenticated connection with invalid requests.
  std::function<void(std::chrono::milliseconds)> keep_open;
};

namespace events {
// Every stanza a local session sends, after its from was stamped, before routing.
inline constexpr EventKey<StanzaEvent> outbound{"stanza/outbound"};
// Every stanza addressed to a local account or resource, before delivery.
inline constexpr EventKey<StanzaEvent> inbound{"stanza/inbound"};
// By stanza kind and target; unhandled ones get the core's RFC 6121 §8.5 treatment.
inline constexpr EventKey<StanzaEvent> message_to_bare{"message/bare"};
inline constexpr EventKey<StanzaEvent> message_to_full{"message/full"};
inline constexpr EventKey<StanzaEvent> message_to_host{"message/host"};
// A message for an account with no available resource (offline storage hooks here).
inline constexpr EventKey<StanzaEvent> message_offline{"message/offline"};
inline constexpr EventKey<StanzaEvent> presence_to_bare{"presence/bare"};
inline constexpr EventKey<StanzaEvent> presence_to_full{"presence/full"};
inline constexpr EventKey<StanzaEvent> presence_to_host{"presence/host"};
// Presence without 'to' from a local session (RFC 6121 §4.2, §4.4): broadcast.
inline constexpr EventKey<StanzaEvent> presence_broadcast{"presence/broadcast"};
// A stanza for a domain that is not served here (the s2s module hooks it).
inline constexpr EventKey<StanzaEvent> route_remote{"route/remote"};

inline constexpr EventKey<SessionEvent> session_bound{"session/bound"};
inline constexpr EventKey<SessionEvent> session_closed{"session/closed"};

inline constexpr EventKey<UserEvent> user_creating{"user/creating"};
inline constexpr EventKey<UserEvent> user_created{"user/created"};
inline constexpr EventKey<UserEvent> user_deleting{"user/deleting"};
inline constexpr EventKey<UserEvent> user_deleted{"user/deleted"};

inline constexpr EventKey<StreamFeaturesEvent> stream_features{"stream/features"};
inline constexpr EventKey<UnauthenticatedIqEvent> unauthenticated_iq{"iq/unauthenticated"};
inline constexpr EventKey<StreamElementEvent> stream_element{"stream/element"};
inline constexpr EventKey<Bind2RequestEvent> bind2_request{"bind2/request"};
}  // namespace events

}  // namespace parley::xmpp
