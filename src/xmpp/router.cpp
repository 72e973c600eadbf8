#include "xmpp/router.hpp"

#include <algorithm>
#include <exception>

#include "core/log.hpp"
#include "xml/writer.hpp"
#include "xmpp/namespaces.hpp"
#include "xmpp/session_registry.hpp"

namespace parley::xmpp {

namespace {

// A session's stanzas carry the session's own JID as 'from' (already
// normalised); others have theirs parsed.
std::optional<RoutedStanza> make_routed(xml::Element element, Session* origin) {
  std::optional<StanzaKind> kind = stanza_kind(element);
  if (!kind) return std::nullopt;
  RoutedStanza s{std::move(element), *kind, {}, {}, {}, origin};
  s.type = std::string(effective_type(s.element, s.kind));
  if (origin) {
    s.from = origin->jid();
  } else if (auto from = Jid::parse(s.element.attr("from"))) {
    s.from = std::move(*from);
  }
  if (const std::string* to = s.element.find_attr("to")) {
    if (auto parsed = Jid::parse(*to)) s.to = std::move(*parsed);
  }
  return s;
}

bool is_subscription_type(std::string_view type) {
  return type == "subscribe" || type == "subscribed" || type == "unsubscribe" || type == "unsubscribed";
}

}  // namespace

Router::Router(Services& services) : services_(services) {}

void Router::route_from_session(Session& origin, xml::Element element) {
  bool has_to = element.find_attr("to") != nullptr;
  std::optional<RoutedStanza> parsed = make_routed(std::move(element), &origin);
  if (!parsed) return;
  RoutedStanza& s = *parsed;
  HostContext* sender_host = services_.find_host(origin.jid().domain());
  if (has_to && s.to.empty()) {
    // RFC 6120 §8.3.3.8: an unparseable 'to' is the sender's mistake.
    s.element.remove_attr("to");
    bounce(s, errors::jid_malformed, "the 'to' address is not a valid JID");
    return;
  }
  if (s.kind == StanzaKind::Iq && !valid_iq(s)) {
    bounce(s, errors::bad_request, "an IQ needs an id, a type, and get/set exactly one child");
    return;
  }
  if (sender_host && fire(events::outbound, s, *sender_host) == HookResult::Handled) return;

  if (s.to.empty()) {
    if (s.kind == StanzaKind::Presence) {
      // Undirected presence: the session's own availability (RFC 6121 §4.2, §4.5).
      update_session_presence(origin, s);
      if (sender_host) fire(events::presence_broadcast, s, *sender_host);
      return;
    }
    // RFC 6120 §10.3: no 'to' means the sender's own account handles it.
    s.to = origin.jid().bare();
  }
  route(s, sender_host);
}

void Router::send_from_server(xml::Element element) {
  std::optional<RoutedStanza> parsed = make_routed(std::move(element), nullptr);
  if (!parsed || parsed->to.empty()) return;
  parsed->from_server = true;
  const std::string& from = parsed->from.domain();
  HostContext* sender_host = services_.find_host(from);
  route(*parsed, sender_host ? sender_host : services_.component_owner(from));
}

void Router::route_from_remote(xml::Element element) {
  std::optional<RoutedStanza> parsed = make_routed(std::move(element), nullptr);
  if (!parsed) return;
  if (parsed->kind == StanzaKind::Iq && !valid_iq(*parsed)) {
    bounce(*parsed, errors::bad_request);
    return;
  }
  HostContext* host = services_.find_host(parsed->to.domain());
  if (!host && !services_.find_component(parsed->to.domain())) {
    bounce(*parsed, errors::item_not_found, "that domain is not served here");
    return;
  }
  route(*parsed, nullptr);
}

void Router::send_iq_from_server(xml::Element iq, IqCallback done) {
  std::string id = "parley-" + std::to_string(next_iq_id_++);
  iq.set_attr("id", id);
  pending_iqs_.emplace(std::move(id), std::move(done));
  send_from_server(std::move(iq));
}

bool Router::valid_iq(const RoutedStanza& s) const {
  if (s.element.attr("id").empty()) return false;
  if (s.type == "get" || s.type == "set") return s.element.element_count() == 1;
  if (s.type == "result") return s.element.element_count() <= 1;
  return s.type == "error";
}

void Router::route(RoutedStanza& s, HostContext* sender_host) {
  HostContext* host = services_.find_host(s.to.domain());
  if (!host) {
    if (const ComponentHandler* component = services_.find_component(s.to.domain())) {
      to_component(s, *component);
      return;
    }
    if (sender_host && fire(events::route_remote, s, *sender_host) == HookResult::Handled) return;
    bounce(s, errors::remote_server_not_found, "no route to that domain");
    return;
  }
  if (s.to.is_domain()) {
    to_host(s, *host);
  } else if (s.to.is_bare()) {
    to_bare(s, *host);
  } else {
    to_full(s, *host);
  }
}

// A component domain served by a module (proxy.<host>): the module sees the
// stanza as routed and answers it itself.
void Router::to_component(RoutedStanza& s, const ComponentHandler& component) {
  try {
    component(s);
  } catch (const std::exception& e) {
    services_.log().error("router", 0, "component ", s.to.domain(), " failed: ", e.what());
    bounce(s, errors::internal_server_error);
  }
}

HookResult Router::fire(EventKey<StanzaEvent> key, RoutedStanza& s, HostContext& host) {
  StanzaEvent event{s, host};
  try {
    return host.hooks().fire(key, event);
  } catch (const std::exception& e) {
    // STYLE.md principle 10: a failing handler costs one stanza, not the server.
    services_.log().error("router", 0, "handler for ", key.name, " failed: ", e.what());
    bounce(s, errors::internal_server_error);
    return HookResult::Handled;
  }
}

void Router::to_host(RoutedStanza& s, HostContext& host) {
  switch (s.kind) {
    case StanzaKind::Iq:
      if (s.type == "get" || s.type == "set") {
        iq_to_handler(s, host, IqTarget::Host);
      } else {
        answer_pending_iq(s);
      }
      return;
    case StanzaKind::Message:
      if (fire(events::message_to_host, s, host) == HookResult::Handled) return;
      refuse_message(s);
      return;
    case StanzaKind::Presence:
      fire(events::presence_to_host, s, host);
      return;
  }
}

void Router::iq_to_handler(RoutedStanza& s, HostContext& host, IqTarget target) {
  const xml::Element& payload = *s.element.first_child();
  IqType type = s.type == "get" ? IqType::Get : IqType::Set;
  const IqHandler* handler = host.find_iq(type, target, payload.ns());
  // An IQ the sender addressed to its own account may also be meant for the
  // server (clients omit 'to' for both): fall back to the host handlers.
  if (!handler && target == IqTarget::Account && s.origin && s.to == s.origin->jid().bare()) {
    handler = host.find_iq(type, IqTarget::Host, payload.ns());
  }
  if (!handler) {
    bounce(s, errors::service_unavailable);
    return;
  }
  try {
    (*handler)(IqRequest(*this, s.element, s.from, s.to));
  } catch (const std::exception& e) {
    services_.log().error("router", 0, "IQ handler for ", payload.ns(), " failed: ", e.what());
    bounce(s, errors::internal_server_error);
  }
}

bool Router::answer_pending_iq(RoutedStanza& s) {
  auto it = pending_iqs_.find(std::string(s.element.attr("id")));
  if (it == pending_iqs_.end()) return false;
  IqCallback done = std::move(it->second);
  pending_iqs_.erase(it);
  done(&s.element);
  return true;
}

void Router::to_bare(RoutedStanza& s, HostContext& host) {
  if (fire(events::inbound, s, host) == HookResult::Handled) return;
  switch (s.kind) {
    case StanzaKind::Iq:
      // RFC 6121 §8.5.1: the server answers IQs to a bare JID for the account.
      if (s.type == "get" || s.type == "set") {
        iq_to_handler(s, host, IqTarget::Account);
      } else {
        answer_pending_iq(s);
      }
      return;
    case StanzaKind::Message:
      if (fire(events::message_to_bare, s, host) == HookResult::Handled) return;
      message_to_bare(s, host);
      return;
    case StanzaKind::Presence:
      if (fire(events::presence_to_bare, s, host) == HookResult::Handled) return;
      presence_to_bare(s);
      return;
  }
}

// RFC 6121 §8.5.2: deliver to the available resources with non-negative
// priority — chat and headline to all of them, normal to those with the
// highest priority; with none, offline handling or an error.
void Router::message_to_bare(RoutedStanza& s, HostContext& host) {
  if (s.type == "error") return;
  if (s.type == "groupchat") {
    bounce(s, errors::service_unavailable);
    return;
  }
  std::string bytes;  // serialized once, for all recipients
  size_t delivered = for_each_bare_message_recipient(services_.sessions().resources(s.to), s.type, [&](Session* r) {
    if (bytes.empty()) bytes = xml::to_string(s.element, ns::client);
    r->send_serialized(bytes, &s.element);
  });
  if (delivered > 0) return;
  if (fire(events::message_offline, s, host) == HookResult::Handled) return;
  if (s.type != "headline") bounce(s, errors::service_unavailable);
}

// RFC 6121 §8.5.2.1.2: directed available/unavailable presence goes to all
// available resources; subscription handling and probes belong to modules.
void Router::presence_to_bare(RoutedStanza& s) {
  if (s.type != "available" && s.type != "unavailable") return;
  std::string bytes;
  for (Session* r : services_.sessions().resources(s.to)) {
    if (!r->available()) continue;
    if (bytes.empty()) bytes = xml::to_string(s.element, ns::client);
    r->send_serialized(bytes, &s.element);
  }
}

void Router::to_full(RoutedStanza& s, HostContext& host) {
  if (s.kind == StanzaKind::Presence && is_subscription_type(s.type)) {
    // RFC 6121 §3.1.3: subscription requests are between accounts.
    s.to = s.to.bare();
    to_bare(s, host);
    return;
  }
  if (fire(events::inbound, s, host) == HookResult::Handled) return;
  Session* session = services_.sessions().find(s.to);
  switch (s.kind) {
    case StanzaKind::Iq:
      if (session) {
        deliver(*session, s);
      } else if (s.type == "get" || s.type == "set") {
        bounce(s, errors::service_unavailable);  // RFC 6121 §8.5.3.2.3
      } else {
        answer_pending_iq(s);
      }
      return;
    case StanzaKind::Message:
      if (fire(events::message_to_full, s, host) == HookResult::Handled) return;
      if (session) {
        deliver(*session, s);
      } else if (s.type == "normal" || s.type == "chat") {
        message_to_bare(s, host);  // RFC 6121 §8.5.3.2.1: as if sent to the bare JID
      } else if (s.type == "groupchat") {
        bounce(s, errors::service_unavailable);
      }
      return;
    case StanzaKind::Presence:
      if (fire(events::presence_to_full, s, host) == HookResult::Handled) return;
      if (session) deliver(*session, s);
      return;
  }
}

void Router::deliver(Session& session, const RoutedStanza& s) {
  session.send(s.element);
}

void Router::update_session_presence(Session& origin, const RoutedStanza& s) {
  if (s.type == "available") {
    int priority = 0;
    if (const xml::Element* p = s.element.first_child("priority", ns::client)) {
      // RFC 6121 §4.7.2.3: an integer from -128 to +127.
      try {
        priority = std::clamp(std::stoi(p->text()), -128, 127);
      } catch (const std::exception&) {
        priority = 0;
      }
    }
    origin.set_presence(s.element, true, priority);
  } else if (s.type == "unavailable") {
    origin.set_presence(s.element, false, 0);
  }
}

void Router::refuse_message(const RoutedStanza& s) {
  if (s.kind == StanzaKind::Message && (s.type == "normal" || s.type == "chat")) bounce(s, errors::service_unavailable);
}

void Router::bounce(const RoutedStanza& s, StanzaErrorCondition condition, std::string_view text) {
  if (!takes_error_reply(s.kind, s.type)) return;
  xml::Element reply = make_error_reply(s.element, condition, text);
  if (s.origin && reply.attr("to").empty()) {
    reply.set_attr("to", s.origin->jid().str());
  }
  if (s.origin && s.to.empty()) {
    s.origin->send(reply);
    return;
  }
  send_from_server(std::move(reply));
}

}  // namespace parley::xmpp
