// XEP-0191 §3.3 enforcement: what a blocked entity sends never reaches the
// user, and what the user sends to a blocked entity is refused. Lists of
// online users are checked in memory; for an account with no loaded list
// (offline, or its list still loading) the check is one query.
#include "core/log.hpp"
#include "store/pg_array.hpp"
#include "modules/blocking/blocking_state.hpp"
#include "modules/blocking/jid_match.hpp"
#include "xmpp/router.hpp"
#include "xmpp/session_registry.hpp"

namespace parley::modules::blocking {

namespace {

using xmpp::HookResult;

// XEP-0191 §3.3: the user's server answers a blocked sender's messages and
// IQ get/set with <service-unavailable/> (as if the user did not exist) and
// drops everything else, presence included.
void refuse_inbound(Core& core, const xml::Element& stanza, xmpp::StanzaKind kind, const std::string& type) {
  if (type == "error") return;
  bool answer = kind == xmpp::StanzaKind::Message || (kind == xmpp::StanzaKind::Iq && (type == "get" || type == "set"));
  if (!answer) return;
  core.ctx.router().send_from_server(xmpp::make_error_reply(stanza, xmpp::errors::service_unavailable));
}

// XEP-0191 §3.3: a stanza the user addresses to a blocked entity gets
// <not-acceptable/> with the application condition <blocked/>.
void refuse_outbound(xmpp::RoutedStanza& s) {
  if (!xmpp::takes_error_reply(s.kind, s.type) || !s.origin) return;
  constexpr xmpp::StanzaErrorCondition kNotAcceptable{"not-acceptable", xmpp::ErrorType::Cancel};
  xml::Element reply = xmpp::make_error_reply(s.element, kNotAcceptable);
  if (xml::Element* error = reply.first_child("error")) error->append(xml::Element("blocked", std::string(kErrorsNs)));
  s.origin->send(reply);
}

void load(const std::shared_ptr<Core>& core, const xmpp::Jid& bare) {
  UserList& list = core->users[bare.str()];
  list.generation = core->next_generation++;
  std::weak_ptr<Core> weak = core;
  core->ctx.database().execute(kLoad, {bare.domain(), bare.node()},
                               [weak, key = bare.str(), generation = list.generation](store::PgResult&& result) {
    std::shared_ptr<Core> core = weak.lock();
    if (!core) return;
    UserList* list = core->find(key);
    if (!list || list->generation != generation) return;  // the user left meanwhile
    if (!result.ok) {
      // Fail open rather than hold the user's stanzas forever; logged loudly.
      core->ctx.log().error("blocking", 0, "cannot load the block list of ", key, ": ", result.error,
                            "; not enforced for this login");
    }
    for (const auto& row : result.rows) {
      if (row.at(0)) list->items.insert(*row.at(0));
    }
    list->loaded = true;
    // Replay what the user sent while the list was loading, in order; a
    // session may have gone since, so it is looked up again by JID.
    std::vector<std::pair<xmpp::Jid, xml::Element>> held = std::move(list->held);
    list->held.clear();
    for (auto& [from, stanza] : held) {
      if (xmpp::Session* session = core->ctx.host_context().services().sessions().find(from)) {
        core->ctx.router().route_from_session(*session, std::move(stanza));
      }
    }
  });
}

// Inbound stanza for an account whose list is not in memory: ask the
// database, then either refuse it or route it again past this check.
void check_in_database(const std::shared_ptr<Core>& core, const xmpp::RoutedStanza& s) {
  std::weak_ptr<Core> weak = core;
  xmpp::Jid user = s.to.bare();
  core->ctx.database().execute(
      kCheck, {user.domain(), user.node(), store::format_text_array(match_candidates(s.from))},
      [weak, stanza = s.element, kind = s.kind, type = s.type](store::PgResult&& result) mutable {
        std::shared_ptr<Core> core = weak.lock();
        if (!core) return;
        if (result.ok && result.size() > 0) {
          refuse_inbound(*core, stanza, kind, type);
          return;
        }
        if (!result.ok) core->ctx.log().error("blocking", 0, "block check failed: ", result.error);
        core->reinjecting = true;
        core->ctx.router().send_from_server(std::move(stanza));
        core->reinjecting = false;
      });
}

}  // namespace

void start_enforcement(xmpp::ModuleContext& ctx, const std::shared_ptr<Core>& core) {
  Core* c = core.get();
  std::weak_ptr<Core> weak = core;

  // After a reload: a load the previous instance started will never answer
  // this one, so ask again (the stanzas held meanwhile stay queued).
  for (auto& [bare, list] : c->users) {
    if (std::optional<xmpp::Jid> jid = xmpp::Jid::parse(bare); jid && !list.loaded) load(core, *jid);
  }

  ctx.on(xmpp::events::session_bound, 0, [weak](xmpp::SessionEvent& e) {
    std::shared_ptr<Core> core = weak.lock();
    if (!core) return HookResult::Pass;
    xmpp::Jid bare = e.session.jid().bare();
    if (!core->find(bare.str())) load(core, bare);
    return HookResult::Pass;
  });

  ctx.on(xmpp::events::session_closed, 0, [c](xmpp::SessionEvent& e) {
    std::string bare = e.session.jid().bare_str();
    UserList* list = c->find(bare);
    if (!list) return HookResult::Pass;
    if (e.host.services().sessions().resources(bare).empty()) {
      c->users.erase(bare);
    } else {
      list->interested.erase(e.session.jid().str());
    }
    return HookResult::Pass;
  });

  // High priority: a blocked stanza must not reach any other module (offline
  // storage, subscription handling) either.
  ctx.on(xmpp::events::inbound, 1000, [c, weak](xmpp::StanzaEvent& e) {
    xmpp::RoutedStanza& s = e.stanza;
    if (c->reinjecting) {
      c->reinjecting = false;
      return HookResult::Pass;
    }
    if (s.from.empty() || s.to.node().empty()) return HookResult::Pass;
    if (s.from.bare() == s.to.bare()) return HookResult::Pass;  // the user's own resources
    if (s.from.is_domain() && s.from.domain() == c->host) return HookResult::Pass;  // our own server
    UserList* list = c->find(s.to.bare_str());
    if (list && list->loaded) {
      if (!is_blocked(list->items, s.from)) return HookResult::Pass;
      refuse_inbound(*c, s.element, s.kind, s.type);
      return HookResult::Handled;
    }
    if (std::shared_ptr<Core> core = weak.lock()) check_in_database(core, s);
    return HookResult::Handled;
  });

  ctx.on(xmpp::events::outbound, 1000, [c](xmpp::StanzaEvent& e) {
    xmpp::RoutedStanza& s = e.stanza;
    if (!s.origin) return HookResult::Pass;
    UserList* list = c->find(s.from.bare_str());
    if (!list) return HookResult::Pass;
    if (!list->loaded) {
      // Everything the user sends waits for the list (block-list IQs too, so
      // they see it), and is replayed in order once it is loaded.
      list->held.emplace_back(s.from, std::move(s.element));
      return HookResult::Handled;
    }
    if (s.to.empty() || !is_blocked(list->items, s.to)) return HookResult::Pass;
    refuse_outbound(s);
    return HookResult::Handled;
  });
}

}  // namespace parley::modules::blocking
