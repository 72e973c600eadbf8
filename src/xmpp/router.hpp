#pragma once
// Router: where every stanza goes (RFC 6120 §8, RFC 6121 §8.5). It computes
// the routing key once, lets modules hook each step on the recipient's (or for
// outbound, the sender's) host bus, and applies the RFC's default when no
// module handled the stanza. It is the one place that answers what nobody
// handled (STYLE.md principle 3). docs/ARCHITECTURE.md walks through it.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <string_view>
#include <unordered_map>

#include "xml/element.hpp"
#include "xmpp/events.hpp"
#include "xmpp/module_api.hpp"
#include "xmpp/session.hpp"

namespace parley::xmpp {

// RFC 6121 §8.5.2.1: a chat or normal message to a bare JID goes to the
// available resources with non-negative priority, a normal one only to those
// of the highest priority. Calls `visit(Session*)` for each and returns how
// many there were (none: offline handling). It runs for every message to a
// bare JID, so it allocates nothing.
template <class Visit>
size_t for_each_bare_message_recipient(std::span<Session* const> resources, std::string_view type, Visit&& visit) {
  int best = -1;
  for (Session* r : resources) {
    if (r->available() && r->priority() >= 0) best = std::max(best, r->priority());
  }
  size_t count = 0;
  if (best < 0) return count;
  for (Session* r : resources) {
    if (!r->available() || r->priority() < 0) continue;
    if (type == "normal" && r->priority() != best) continue;
    visit(r);
    ++count;
  }
  return count;
}

class Router {
 public:
  explicit Router(Services& services);

  // A stanza from a bound local session; the session has already stamped
  // 'from' with its full JID.
  void route_from_session(Session& origin, xml::Element stanza);
  // A stanza the server emits (IQ replies, pushes, bounces): 'from' is set.
  void send_from_server(xml::Element stanza);
  // A stanza that arrived over a link from another domain ('from' verified).
  void route_from_remote(xml::Element stanza);

  // An IQ get/set sent by the server; `done` gets the result or error stanza,
  // or nullptr when the recipient never answers (the session went away).
  using IqCallback = std::function<void(const xml::Element* response)>;
  void send_iq_from_server(xml::Element iq, IqCallback done);

  // A message nothing takes (a server, a component): chat and normal ones
  // get service-unavailable, the other types are dropped (RFC 6121 §8.5.1).
  void refuse_message(const RoutedStanza& stanza);
  // Answers `stanza` with an error, unless it is an error itself or an IQ
  // result (RFC 6120 §8.3.1, §8.2.3).
  void bounce(const RoutedStanza& stanza, StanzaErrorCondition condition, std::string_view text = {});

 private:
  void route(RoutedStanza& stanza, HostContext* sender_host);
  void to_component(RoutedStanza& stanza, const ComponentHandler& component);
  void to_host(RoutedStanza& stanza, HostContext& host);
  void to_bare(RoutedStanza& stanza, HostContext& host);
  void to_full(RoutedStanza& stanza, HostContext& host);
  void message_to_bare(RoutedStanza& stanza, HostContext& host);
  void presence_to_bare(RoutedStanza& stanza);
  void iq_to_handler(RoutedStanza& stanza, HostContext& host, IqTarget target);
  bool answer_pending_iq(RoutedStanza& stanza);
  HookResult fire(EventKey<StanzaEvent> key, RoutedStanza& stanza, HostContext& host);
  void deliver(Session& session, const RoutedStanza& stanza);
  void update_session_presence(Session& origin, const RoutedStanza& stanza);
  // RFC 6120 §8.2.3 and §8.1.3: id and child-count rules for IQs.
  bool valid_iq(const RoutedStanza& stanza) const;

  Services& services_;
  uint64_t next_iq_id_ = 1;
  std::unordered_map<std::string, IqCallback> pending_iqs_;
};

}  // namespace parley::xmpp
