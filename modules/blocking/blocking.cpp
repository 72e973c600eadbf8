// XEP-0191: Blocking Command — the user's block list (get, block, unblock,
// unblock all), pushed to the resources that retrieved it. Enforcement lives
// in enforcement.cpp, JID matching in jid_match.cpp.
#include <algorithm>

#include "core/log.hpp"
#include "store/pg_array.hpp"
#include "core/option.hpp"
#include "modules/blocking/blocking_state.hpp"
#include "modules/blocking/jid_match.hpp"
#include "modules/blocking/presence_effects.hpp"
#include "xmpp/session_registry.hpp"

namespace parley::modules::blocking {

namespace {

void declare_options(core::OptionRegistry& registry) {
  registry.add({.key = "modules.blocking.max_items", .type = core::OptionType::Integer, .default_value = "1000",
                .min = 1, .max = 100'000,
                .doc = "Most JIDs one account may block (XEP-0191); a block beyond it gets <policy-violation/>.",
                .per_host = true});
}

// A block-list change for every resource that retrieved the list
// (XEP-0191 §3.3, §3.4, §3.5): an IQ set carrying the request's payload.
void push(Core& core, UserList& list, const xml::Element& change) {
  static uint64_t counter = 0;
  xmpp::SessionRegistry& sessions = core.ctx.host_context().services().sessions();
  for (const auto& [full, session_id] : list.interested) {
    std::optional<xmpp::Jid> jid = xmpp::Jid::parse(full);
    xmpp::Session* session = jid ? sessions.find(*jid) : nullptr;
    if (!session || session->id() != session_id) continue;  // replaced by a resource that did not ask
    xml::Element iq("iq", "jabber:client");
    iq.set_attr("type", "set");
    iq.set_attr("id", "blocking-push-" + std::to_string(++counter));
    iq.set_attr("to", full);
    iq.append(change);
    session->send(iq);
  }
}

// The <item jid=''/> children of a block or unblock, normalised
// (RFC 7622); nullopt (after answering) when one is invalid.
std::optional<std::vector<std::string>> parse_items(Core& core, const xmpp::IqRequest& request) {
  std::vector<std::string> jids;
  for (const xml::Element& item : request.payload().children()) {
    if (item.name() != "item" || item.ns() != kNs) continue;
    std::optional<xmpp::Jid> jid = xmpp::Jid::parse(item.attr("jid"));
    if (!jid) {
      request.error(xmpp::errors::jid_malformed, "not a valid JID: " + std::string(item.attr("jid")));
      return std::nullopt;
    }
    // Blocking one's own server would cut the account off from it (pushes,
    // bounces, its own services); the issue asks for a clear refusal.
    if (jid->is_domain() && jid->domain() == core.host) {
      request.error(xmpp::errors::not_acceptable, "you cannot block your own server");
      return std::nullopt;
    }
    if (std::find(jids.begin(), jids.end(), jid->str()) == jids.end()) jids.push_back(jid->str());
  }
  return jids;
}

xml::Element list_payload(std::string_view name, const std::vector<std::string>& jids) {
  xml::Element payload{std::string(name), std::string(kNs)};
  for (const std::string& jid : jids) payload.append(xml::Element("item", std::string(kNs))).set_attr("jid", jid);
  return payload;
}

// The request comes from a local account of this host; its list is loaded
// because enforcement holds what the user sends until it is.
UserList* requester_list(Core& core, const xmpp::IqRequest& request) {
  const xmpp::Jid& from = request.from();
  if (from.node().empty() || from.domain() != core.host) {
    request.error(xmpp::errors::not_allowed, "only this server's users have a block list here");
    return nullptr;
  }
  UserList* list = core.find(from.bare_str());
  if (!list || !list->loaded) {
    request.error(xmpp::errors::internal_server_error, "the block list is not loaded");
    return nullptr;
  }
  return list;
}

void on_get(Core& core, const xmpp::IqRequest& request) {
  UserList* list = requester_list(core, request);
  if (!list) return;
  if (xmpp::Session* session = core.ctx.host_context().services().sessions().find(request.from())) {
    list->interested[request.from().str()] = session->id();
  }
  request.reply(list_payload("blocklist", {list->items.begin(), list->items.end()}));
}

// Block and unblock share their tail: write, then update the cache, answer
// and push the change only once it is stored.
void apply(const std::shared_ptr<Core>& core, const xmpp::IqRequest& request, const store::PgStatement& statement,
           store::PgParams params, bool block, std::vector<std::string> jids, bool all) {
  std::weak_ptr<Core> weak = core;
  std::string key = request.from().bare_str();
  core->ctx.database().execute(statement, std::move(params),
                               [weak, request, key, block, jids = std::move(jids), all](store::PgResult&& result) {
    std::shared_ptr<Core> core = weak.lock();
    if (!core) return;
    if (!result.ok) {
      core->ctx.log().error("blocking", 0, "cannot store the block list of ", key, ": ", result.error);
      request.error(xmpp::errors::internal_server_error);
      return;
    }
    UserList* list = core->find(key);
    std::vector<std::string> changed = jids;
    if (all && list) changed.assign(list->items.begin(), list->items.end());
    if (list) {
      if (all) {
        list->items.clear();
      } else {
        for (const std::string& jid : jids) block ? (void)list->items.insert(jid) : (void)list->items.erase(jid);
      }
    }
    request.reply();
    if (list) push(*core, *list, list_payload(block ? "block" : "unblock", jids));
    announce_presence_change(core, request.from().bare(), changed, block);
  });
}

void on_block(const std::shared_ptr<Core>& core, const xmpp::IqRequest& request) {
  UserList* list = requester_list(*core, request);
  if (!list) return;
  std::optional<std::vector<std::string>> jids = parse_items(*core, request);
  if (!jids) return;
  if (jids->empty()) {
    request.error(xmpp::errors::bad_request, "a block needs at least one item");  // XEP-0191 §3.3
    return;
  }
  size_t added = 0;
  for (const std::string& jid : *jids) added += list->items.count(jid) ? 0 : 1;
  if (static_cast<int64_t>(list->items.size() + added) > core->max_items) {
    request.error(xmpp::errors::policy_violation,
                  "a block list holds at most " + std::to_string(core->max_items) + " items");
    return;
  }
  const xmpp::Jid& user = request.from();
  store::PgParams params{user.domain(), user.node(), store::format_text_array(*jids)};
  apply(core, request, kBlock, std::move(params), true, std::move(*jids), false);
}

void on_unblock(const std::shared_ptr<Core>& core, const xmpp::IqRequest& request) {
  if (!requester_list(*core, request)) return;
  std::optional<std::vector<std::string>> jids = parse_items(*core, request);
  if (!jids) return;
  const xmpp::Jid& user = request.from();
  if (jids->empty()) {
    // XEP-0191 §3.5: an unblock without items empties the list.
    apply(core, request, kUnblockAll, {user.domain(), user.node()}, false, {}, true);
    return;
  }
  store::PgParams params{user.domain(), user.node(), store::format_text_array(*jids)};
  apply(core, request, kUnblock, std::move(params), false, std::move(*jids), false);
}

void start(xmpp::ModuleContext& ctx) {
  auto& keeper = ctx.keep(std::make_unique<Keeper>());
  keeper.core = std::make_shared<Core>(ctx);
  keeper.core->max_items = ctx.option_int("max_items");
  std::shared_ptr<Core> core = keeper.core;
  Core* c = core.get();
  std::weak_ptr<Core> weak = core;

  ctx.add_disco_feature(std::string(kNs));
  ctx.on_iq(xmpp::IqType::Get, kNs, [c](const xmpp::IqRequest& request) {
    if (request.payload().name() != "blocklist") {
      request.error(xmpp::errors::bad_request);
      return;
    }
    on_get(*c, request);
  });
  ctx.on_iq(xmpp::IqType::Set, kNs, [weak](const xmpp::IqRequest& request) {
    std::shared_ptr<Core> core = weak.lock();
    if (!core) return;
    if (request.payload().name() == "block") {
      on_block(core, request);
    } else if (request.payload().name() == "unblock") {
      on_unblock(core, request);
    } else {
      request.error(xmpp::errors::bad_request);
    }
  });
  start_enforcement(ctx, core);
}

}  // namespace

}  // namespace parley::modules::blocking

namespace parley::modules {

extern const xmpp::ModuleDefinition blocking_module{"blocking", "Lets users block JIDs and enforces their block lists.",
                                                    {"XEP-0191"}, blocking::declare_options, blocking::start};

}  // namespace parley::modules
