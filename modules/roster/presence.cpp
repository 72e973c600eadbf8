// RFC 6121 §4: presence. Initial presence probes the contacts the user is
// subscribed to and is broadcast to those allowed to see it; later presence
// is broadcast the same way; unavailable presence (sent, or on session end)
// also ends directed presence (§4.6). Each broadcast is serialized once and
// only the 'to' address is spliced in per contact.
#include "core/log.hpp"
#include "modules/roster/roster_state.hpp"
#include "xml/writer.hpp"
#include "xmpp/namespaces.hpp"
#include "xmpp/router.hpp"
#include "xmpp/session_registry.hpp"

namespace parley::modules::roster {

namespace {

xmpp::SessionRegistry& sessions(RosterState& state) { return state.ctx.host_context().services().sessions(); }

bool is_local(RosterState& state, const xmpp::Jid& jid) {
  return state.ctx.host_context().services().find_host(jid.domain()) != nullptr;
}

// `bytes` is "<presence ..." without 'to'; the address is inserted after the
// name. Bare JIDs cannot hold quotes or '&' (RFC 7622 §3.3.1), escaped anyway.
std::string with_to(const std::string& bytes, const std::string& to) {
  constexpr size_t kNameEnd = sizeof("<presence") - 1;
  std::string out = bytes.substr(0, kNameEnd);
  out += " to='";
  xml::escape_attr(to, out);
  out += '\'';
  out.append(bytes, kNameEnd);
  return out;
}

// Sends `presence` (from set, no 'to') to every contact and to the user's
// own available resources (RFC 6121 §4.2.2, §4.4.2).
void broadcast(RosterState& state, const xmpp::Jid& user, xml::Element presence,
               const std::vector<xmpp::Jid>& contacts) {
  presence.remove_attr("to");
  std::string bytes = xml::to_string(presence, xmpp::ns::client);
  for (const xmpp::Jid& contact : contacts) {
    if (!is_local(state, contact)) {
      xml::Element copy = presence;
      copy.set_attr("to", contact.str());
      state.ctx.router().send_from_server(std::move(copy));
      continue;
    }
    std::string addressed;
    for (xmpp::Session* session : sessions(state).resources(contact)) {
      if (!session->available()) continue;
      if (addressed.empty()) addressed = with_to(bytes, contact.str());
      session->send_serialized(addressed, &presence);
    }
  }
  std::string own;
  for (xmpp::Session* session : sessions(state).resources(user)) {
    if (!session->available()) continue;
    if (own.empty()) own = with_to(bytes, user.str());
    session->send_serialized(own, &presence);
  }
}

std::vector<xmpp::Jid> subscribers(const Roster& roster) {
  std::vector<xmpp::Jid> out;
  for (const auto& [contact, item] : roster.items) {
    if (!item.has_from()) continue;
    if (std::optional<xmpp::Jid> jid = xmpp::Jid::parse(contact)) out.push_back(std::move(*jid));
  }
  return out;
}

// §4.2.2 and §4.3: what a newly available resource is owed — the current
// presence of the contacts it is subscribed to (answered from the session
// registry for local contacts, probed for remote ones), and the stored
// subscription requests (§3.1.3).
void initial_presence(RosterState& state, const xmpp::Jid& full, const Roster& roster) {
  xmpp::Session* session = sessions(state).find(full);
  if (!session) return;
  for (const auto& [contact, item] : roster.items) {
    std::optional<xmpp::Jid> jid = xmpp::Jid::parse(contact);
    if (!jid) continue;
    if (item.has_to()) {
      if (is_local(state, *jid)) {
        for (xmpp::Session* r : sessions(state).resources(*jid)) {
          if (!r->available() || !r->last_presence()) continue;
          xml::Element copy = *r->last_presence();
          copy.set_attr("from", r->jid().str());
          copy.set_attr("to", full.str());
          session->send(copy);
        }
      } else {
        xml::Element probe("presence", std::string(xmpp::ns::client));
        probe.set_attr("type", "probe");
        probe.set_attr("from", full.bare_str());
        probe.set_attr("to", contact);
        state.ctx.router().send_from_server(std::move(probe));
      }
    }
    if (item.pending_in) {
      xml::Element request("presence", std::string(xmpp::ns::client));
      request.set_attr("type", "subscribe");
      request.set_attr("from", contact);
      request.set_attr("to", full.bare_str());
      session->send(request);
    }
  }
}

// Unavailable presence from one resource: to the contacts, the user's other
// resources and whoever got directed presence from it (§4.5.2, §4.6.3).
void went_unavailable(RosterState& state, const xmpp::Jid& full, xml::Element presence) {
  std::set<std::string> directed;
  if (auto it = state.directed.find(full.str()); it != state.directed.end()) {
    directed = std::move(it->second);
    state.directed.erase(it);
  }
  state.with_roster(full, [&state, full, presence = std::move(presence), directed](Roster* roster) mutable {
    std::vector<xmpp::Jid> contacts;
    if (roster) contacts = subscribers(*roster);
    for (const xmpp::Jid& c : contacts) directed.erase(c.str());
    for (const std::string& target : directed) {
      if (std::optional<xmpp::Jid> jid = xmpp::Jid::parse(target)) {
        xml::Element copy = presence;
        copy.set_attr("to", jid->str());
        state.ctx.router().send_from_server(std::move(copy));
      }
    }
    broadcast(state, full.bare(), std::move(presence), contacts);
  });
}

}  // namespace

void send_current_presence(RosterState& state, const xmpp::Jid& user, const xmpp::Jid& to) {
  for (xmpp::Session* r : sessions(state).resources(user.bare())) {
    if (!r->available() || !r->last_presence()) continue;
    xml::Element copy = *r->last_presence();
    copy.set_attr("from", r->jid().str());
    copy.set_attr("to", to.str());
    state.ctx.router().send_from_server(std::move(copy));
  }
}

void send_unavailable(RosterState& state, const xmpp::Jid& user, const xmpp::Jid& to) {
  for (xmpp::Session* r : sessions(state).resources(user.bare())) {
    if (!r->available()) continue;
    xml::Element presence("presence", std::string(xmpp::ns::client));
    presence.set_attr("type", "unavailable");
    presence.set_attr("from", r->jid().str());
    presence.set_attr("to", to.str());
    state.ctx.router().send_from_server(std::move(presence));
  }
}

void start_presence(RosterState& state) {
  xmpp::ModuleContext& ctx = state.ctx;

  // The router already recorded the session's availability and priority.
  ctx.on(xmpp::events::presence_broadcast, 0, [&state](xmpp::StanzaEvent& event) {
    const xmpp::RoutedStanza& s = event.stanza;
    xmpp::Jid full = s.from;
    if (s.type == "unavailable") {
      state.available.erase(full.str());
      went_unavailable(state, full, s.element);
      return xmpp::HookResult::Pass;
    }
    if (s.type != "available") return xmpp::HookResult::Pass;
    bool initial = state.available.insert(full.str()).second;
    xml::Element presence = s.element;
    state.with_roster(full, [&state, full, initial, presence = std::move(presence)](Roster* roster) mutable {
      if (!roster) return;
      broadcast(state, full.bare(), std::move(presence), subscribers(*roster));
      if (initial) initial_presence(state, full, *roster);
    });
    return xmpp::HookResult::Pass;
  });

  // §4.6: directed presence is remembered per session until it is ended.
  ctx.on(xmpp::events::outbound, 40, [&state](xmpp::StanzaEvent& event) {
    const xmpp::RoutedStanza& s = event.stanza;
    if (s.kind != xmpp::StanzaKind::Presence || s.to.empty() || !s.origin) return xmpp::HookResult::Pass;
    if (s.type == "available") {
      state.directed[s.from.str()].insert(s.to.str());
    } else if (s.type == "unavailable") {
      if (auto it = state.directed.find(s.from.str()); it != state.directed.end()) it->second.erase(s.to.str());
    }
    return xmpp::HookResult::Pass;
  });

  // §4.3.2: probes are answered for contacts allowed to see the presence.
  ctx.on(xmpp::events::presence_to_bare, 40, [&state](xmpp::StanzaEvent& event) {
    const xmpp::RoutedStanza& s = event.stanza;
    if (s.type != "probe") return xmpp::HookResult::Pass;
    xmpp::Jid user = s.to.bare();
    xmpp::Jid prober = s.from;
    if (prober.empty()) return xmpp::HookResult::Handled;
    state.with_roster(user, [&state, user, prober](Roster* roster) {
      if (!roster) return;
      auto it = roster->items.find(prober.bare_str());
      if (it == roster->items.end() || !it->second.has_from()) return;
      bool any = false;
      for (xmpp::Session* r : sessions(state).resources(user)) any = any || r->available();
      if (any) {
        send_current_presence(state, user, prober);
      } else {
        xml::Element presence("presence", std::string(xmpp::ns::client));
        presence.set_attr("type", "unavailable");
        presence.set_attr("from", user.str());
        presence.set_attr("to", prober.str());
        state.ctx.router().send_from_server(std::move(presence));
      }
    });
    return xmpp::HookResult::Handled;
  });

  // §4.5.2: a session that ends while available (clean close, TCP reset,
  // timeout) is announced as unavailable by the server. The session's own
  // flag is asked, not our set, so sessions older than a reload count too.
  ctx.on(xmpp::events::session_closed, 0, [&state](xmpp::SessionEvent& event) {
    const xmpp::Jid& full = event.session.jid();
    state.interested.erase(full.str());
    state.available.erase(full.str());
    if (!event.session.available()) {
      state.directed.erase(full.str());
      return xmpp::HookResult::Pass;
    }
    xml::Element presence("presence", std::string(xmpp::ns::client));
    presence.set_attr("type", "unavailable");
    presence.set_attr("from", full.str());
    went_unavailable(state, full, std::move(presence));
    return xmpp::HookResult::Pass;
  });
}

}  // namespace parley::modules::roster
