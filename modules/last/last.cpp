// XEP-0012: Last Activity — for a local account, how long ago its last
// session ended and the status of its last unavailable presence (§3,
// answered by the server for the bare JID); for the server, its uptime (§5).
#include <chrono>

#include "core/log.hpp"
#include "store/pg_client.hpp"
#include "xmpp/module_api.hpp"
#include "xmpp/session_registry.hpp"

namespace parley::modules {

namespace {
constexpr std::string_view kLastNs = "jabber:iq:last";

// Process start, not module start: a SIGHUP reload restarts modules but the
// server keeps running.
const std::chrono::steady_clock::time_point kProcessStart = std::chrono::steady_clock::now();

// Whether the account exists, whether the requester may see its presence
// (its roster row for the requester has subscription from/both, RFC 6121
// §3), and the stored logout.
constexpr store::PgStatement kLookup{
    "last_lookup",
    "SELECT EXISTS (SELECT 1 FROM accounts WHERE host = $1 AND username = $2),"
    " EXISTS (SELECT 1 FROM roster_items WHERE host = $1 AND username = $2 AND contact = $3"
    "         AND subscription IN ('from', 'both')),"
    " (SELECT floor(extract(epoch FROM now() - logout_at))::bigint FROM last_activity"
    "   WHERE host = $1 AND username = $2),"
    " (SELECT status FROM last_activity WHERE host = $1 AND username = $2)"};
constexpr store::PgStatement kStore{
    "last_store",
    "INSERT INTO last_activity (host, username, logout_at, status) VALUES ($1, $2, now(), $3)"
    " ON CONFLICT (host, username) DO UPDATE SET logout_at = now(), status = EXCLUDED.status"};

xml::Element last_query(int64_t seconds, std::string_view status = {}) {
  xml::Element query("query", std::string(kLastNs));
  query.set_attr("seconds", std::to_string(seconds));
  if (!status.empty()) query.append_text(status);
  return query;
}

// The status text of the session's last presence, if that was unavailable.
std::string logout_status(const xmpp::Session& session) {
  const std::optional<xml::Element>& presence = session.last_presence();
  if (!presence || presence->attr("type") != "unavailable") return {};
  const xml::Element* status = presence->first_child("status");
  return status ? status->text() : std::string();
}

struct Alive : xmpp::ModuleState {
  std::shared_ptr<bool> alive = std::make_shared<bool>(true);
  ~Alive() override { *alive = false; }
};

void answer_for_account(xmpp::ModuleContext& ctx, const std::shared_ptr<bool>& alive,
                        const xmpp::IqRequest& request) {
  const xmpp::Jid& user = request.to();
  bool self = request.from().bare() == user;
  std::weak_ptr<bool> weak = alive;
  xmpp::SessionRegistry& sessions = ctx.host_context().services().sessions();
  ctx.database().execute(kLookup, {user.domain(), user.node(), request.from().bare_str()},
                         [weak, request, self, &ctx, &sessions](store::PgResult&& result) {
    std::shared_ptr<bool> alive = weak.lock();
    if (!alive || !*alive) return;
    if (!result.ok || result.size() != 1) {
      ctx.log().error("last", 0, "last activity lookup failed: ", result.error);
      request.error(xmpp::errors::internal_server_error);
      return;
    }
    // RFC 6121 §8.5.1: an IQ to an account that does not exist.
    if (result.at(0, 0) != "t") {
      request.error(xmpp::errors::service_unavailable);
      return;
    }
    // XEP-0012 §3: only those allowed to see the user's presence may know.
    if (!self && result.at(0, 1) != "t") {
      request.error(xmpp::errors::forbidden);
      return;
    }
    // XEP-0012 §3: with an available resource the user is active now.
    for (xmpp::Session* session : sessions.resources(request.to())) {
      if (session->available()) {
        request.reply(last_query(0));
        return;
      }
    }
    if (!result.at(0, 2)) {
      request.error(xmpp::errors::item_not_found, "no logout recorded");
      return;
    }
    request.reply(last_query(std::max<int64_t>(0, std::stoll(*result.at(0, 2))), result.at(0, 3).value_or("")));
  });
}

void start(xmpp::ModuleContext& ctx) {
  auto& state = ctx.keep(std::make_unique<Alive>());
  std::shared_ptr<bool> alive = state.alive;
  ctx.add_disco_feature(std::string(kLastNs));

  // XEP-0012 §5: to a server, the seconds since it started.
  ctx.on_iq(xmpp::IqType::Get, kLastNs, [](const xmpp::IqRequest& request) {
    auto up = std::chrono::steady_clock::now() - kProcessStart;
    request.reply(last_query(std::chrono::duration_cast<std::chrono::seconds>(up).count()));
  });
  ctx.on_iq(
      xmpp::IqType::Get, kLastNs,
      [&ctx, alive](const xmpp::IqRequest& request) { answer_for_account(ctx, alive, request); },
      xmpp::IqTarget::Account);

  // The logout that counts is the end of the account's last session.
  ctx.on(xmpp::events::session_closed, 0, [&ctx](xmpp::SessionEvent& e) {
    const xmpp::Jid& jid = e.session.jid();
    if (!e.host.services().sessions().resources(jid.bare()).empty()) return xmpp::HookResult::Pass;
    ctx.database().execute(kStore, {jid.domain(), jid.node(), logout_status(e.session)},
                           [&log = ctx.log(), user = jid.bare_str()](store::PgResult&& result) {
      if (!result.ok) log.error("last", 0, "cannot store the logout of ", user, ": ", result.error);
    });
    return xmpp::HookResult::Pass;
  });
}
}  // namespace

extern const xmpp::ModuleDefinition last_module{
    "last", "Last activity of offline contacts and server uptime.", {"XEP-0012"}, nullptr, start};

}  // namespace parley::modules
