// XEP-0313 Message Archive Management for accounts: the server keeps each
// user's one-to-one messages, sent and received, so that every device can
// fetch the conversation, including what arrived while it was off and
// another device was on (which offline storage does not keep). Messages the
// user receives carry the archive's id (XEP-0359 <stanza-id/>), which
// clients page from when they catch up.
#include <openssl/rand.h>

#include <algorithm>
#include <memory>

#include "core/config.hpp"
#include "core/hex.hpp"
#include "core/log.hpp"
#include "core/option.hpp"
#include "modules/mam/archive_query.hpp"
#include "modules/mam/archive_store.hpp"
#include "xml/writer.hpp"
#include "xmpp/module_api.hpp"
#include "xmpp/namespaces.hpp"
#include "xmpp/router.hpp"
#include "xmpp/session_registry.hpp"

namespace parley::modules::mam {

namespace {

constexpr std::string_view kNs = "urn:xmpp:mam:2";
constexpr std::string_view kSidNs = "urn:xmpp:sid:0";          // XEP-0359
constexpr std::string_view kForwardNs = "urn:xmpp:forward:0";  // XEP-0297
constexpr std::string_view kDelayNs = "urn:xmpp:delay";        // XEP-0203
constexpr std::string_view kHintsNs = "urn:xmpp:hints";        // XEP-0334
constexpr std::string_view kDataNs = "jabber:x:data";
constexpr std::string_view kRsmNs = "http://jabber.org/protocol/rsm";

void declare_options(core::OptionRegistry& registry) {
  registry.add_section("modules.mam", "Message archives (XEP-0313).");
  registry.add({.key = "modules.mam.max_page", .type = core::OptionType::Integer, .default_value = "100", .min = 1,
                .max = 1000,
                .doc = "The most messages one archive query returns; a client asking for more (or not saying) gets "
                       "this many and pages on.",
                .per_host = true});
  registry.add({.key = "modules.mam.expire_after", .type = core::OptionType::Duration, .default_value = "\"365d\"",
                .min = 0,
                .doc = "Archived messages are deleted this long after they were archived; 0 keeps them until the "
                       "account is deleted.",
                .per_host = true});
  registry.add({.key = "modules.mam.cleanup_interval", .type = core::OptionType::Duration,
                .default_value = "\"1h\"", .min = 1'000, .max = 86'400'000,
                .doc = "How often expired archived messages are removed."});
}

// XEP-0313 §5.1.1 leaves what to archive to the server: the one-to-one
// messages a user reads (chat or normal, with a body), unless the sender
// asked for them not to be kept (XEP-0334).
bool archivable(const xmpp::RoutedStanza& s) {
  if (s.kind != xmpp::StanzaKind::Message || (s.type != "chat" && s.type != "normal")) return false;
  const xml::Element& m = s.element;
  if (!m.first_child("body", xmpp::ns::client)) return false;
  return !m.first_child("no-store", kHintsNs) && !m.first_child("no-permanent-store", kHintsNs);
}

std::string new_stanza_id() {
  unsigned char raw[12];
  if (RAND_bytes(raw, sizeof raw) != 1) throw std::runtime_error("the CSPRNG failed");
  return core::hex_encode(std::string_view(reinterpret_cast<const char*>(raw), sizeof raw));
}

class Archive {
 public:
  explicit Archive(xmpp::ModuleContext& ctx)
      : ctx_(ctx), max_page_(static_cast<size_t>(ctx.option_int("max_page"))) {}

  // What a local user sends goes into the sender's archive.
  void sent(const xmpp::RoutedStanza& s) {
    if (!s.origin || !archivable(s) || s.to.empty() || s.from.bare_view() == s.to.bare_view()) return;
    keep(s.from.node(), new_stanza_id(), s.to, s.element);
  }

  // What a local user receives goes into the recipient's archive, and
  // reaches the user with the archive's id.
  void received(xmpp::RoutedStanza& s) {
    if (s.kind != xmpp::StanzaKind::Message) return;
    std::string owner = s.to.bare_str();
    auto ours = [&owner](const xml::Element& c) {
      return c.name() == "stanza-id" && c.ns() == kSidNs && c.attr("by") == owner;
    };
    // A message the server routes again (stream management, when a session
    // ended before its client acknowledged it) was archived the first time.
    if (s.from_server && std::any_of(s.element.children().begin(), s.element.children().end(), ours)) return;
    // XEP-0359 §5: any other id in our name is a forgery.
    s.element.remove_children_if(ours);
    if (!archivable(s) || s.from.empty() || s.from.bare_view() == s.to.bare_view()) return;
    std::string id = new_stanza_id();
    xml::Element& sid = s.element.append(xml::Element("stanza-id", std::string(kSidNs)));
    sid.set_attr("id", id);
    sid.set_attr("by", owner);
    keep(s.to.node(), id, s.from, s.element);
  }

  void query(const xmpp::IqRequest& request) {
    const xml::Element& payload = request.payload();
    if (payload.name() == "prefs") {
      prefs(request);
      return;
    }
    if (payload.name() != "query") {
      request.error(xmpp::errors::bad_request, "expected <query/> or <prefs/>");
      return;
    }
    if (!own_archive(request)) return;
    if (request.stanza().attr("type") == "get") {
      request.reply(search_form());  // XEP-0313 §4.1.6: the fields a query may use
      return;
    }
    QueryError error{xmpp::errors::bad_request, {}};
    std::optional<ArchiveQuery> q = parse_archive_query(payload, max_page_, error);
    if (!q) {
      request.error(error.condition, error.text);
      return;
    }
    xmpp::Services& services = ctx_.host_context().services();
    read_page(ctx_.database(), ctx_.host(), request.from().node(), *q,
              [&services, request, query_id = q->query_id](Page page) {
                if (!page.ok) {
                  request.error(xmpp::errors::internal_server_error, "the archive could not be read");
                  return;
                }
                if (page.unknown_id) {
                  request.error(xmpp::errors::item_not_found, "no such id in this archive");
                  return;
                }
                // XEP-0313 §4.2: the results, then the IQ result that ends them.
                xmpp::Session* session = services.sessions().find(request.from());
                if (!session) return;
                for (const ArchivedMessage& m : page.messages) {
                  session->send_serialized(result_message(request.from().str(), query_id, m), nullptr);
                }
                request.reply(fin(page));
              });
  }

 private:
  void keep(const std::string& username, std::string stanza_id, const xmpp::Jid& with, const xml::Element& stanza) {
    ArchiveEntry entry{ctx_.host(), username, std::move(stanza_id), with.bare_str(), with.str(),
                       xml::to_string(stanza)};
    core::Logger& log = ctx_.log();  // the worker's: it outlives every database callback
    archive(ctx_.database(), entry, [&log, who = username + "@" + ctx_.host()](bool ok) {
      if (!ok) log.error("mam", 0, "a message for the archive of ", who, " was not archived");
    });
  }

  // XEP-0313 §4.1: only the account itself reads its archive.
  static bool own_archive(const xmpp::IqRequest& request) {
    if (request.from().bare_view() == request.to().bare_view() || request.to().empty()) return true;
    request.error(xmpp::errors::forbidden, "an archive is read by its owner only");
    return false;
  }

  // Archiving preferences (XEP-0313 §6) are fixed here: everything is kept.
  void prefs(const xmpp::IqRequest& request) {
    if (!own_archive(request)) return;
    if (request.stanza().attr("type") == "set") {
      request.error(xmpp::errors::feature_not_implemented, "this server archives every conversation");
      return;
    }
    xml::Element prefs("prefs", std::string(kNs));
    prefs.set_attr("default", "always");
    prefs.append(xml::Element("always", std::string(kNs)));
    prefs.append(xml::Element("never", std::string(kNs)));
    request.reply(std::move(prefs));
  }

  static xml::Element search_form() {
    xml::Element query("query", std::string(kNs));
    xml::Element& form = query.append(xml::Element("x", std::string(kDataNs)));
    form.set_attr("type", "form");
    xml::Element& type = form.append(xml::Element("field", std::string(kDataNs)));
    type.set_attr("var", "FORM_TYPE");
    type.set_attr("type", "hidden");
    type.append(xml::Element("value", std::string(kDataNs))).append_text(kNs);
    for (auto [var, field_type] : {std::pair{"with", "jid-single"}, {"start", "text-single"}, {"end", "text-single"},
                                   {"after-id", "text-single"}, {"before-id", "text-single"}}) {
      xml::Element& field = form.append(xml::Element("field", std::string(kDataNs)));
      field.set_attr("var", var);
      field.set_attr("type", field_type);
    }
    return query;
  }

  // <message to><result queryid id><forwarded><delay/>the archived message</forwarded></result></message>,
  // written around the stored bytes without parsing them.
  static std::string result_message(const std::string& to, const std::string& query_id, const ArchivedMessage& m) {
    xml::Element message("message", std::string(xmpp::ns::client));
    message.set_attr("to", to);
    xml::Element result("result", std::string(kNs));
    if (!query_id.empty()) result.set_attr("queryid", query_id);
    result.set_attr("id", m.stanza_id);
    xml::Element forwarded("forwarded", std::string(kForwardNs));
    xml::Element delay("delay", std::string(kDelayNs));
    delay.set_attr("stamp", m.stamp);
    std::string out;
    xml::write_open_tag(message, out, xmpp::ns::client);
    xml::write_open_tag(result, out, xmpp::ns::client);
    xml::write_open_tag(forwarded, out, kNs);
    xml::serialize(delay, out, kForwardNs);
    out += m.stanza;
    xml::write_close_tag(forwarded, out, kNs);
    xml::write_close_tag(result, out, xmpp::ns::client);
    xml::write_close_tag(message, out, xmpp::ns::client);
    return out;
  }

  static xml::Element fin(const Page& page) {
    xml::Element fin("fin", std::string(kNs));
    if (page.complete) fin.set_attr("complete", "true");
    xml::Element& set = fin.append(xml::Element("set", std::string(kRsmNs)));
    if (!page.messages.empty()) {
      set.append(xml::Element("first", std::string(kRsmNs))).append_text(page.messages.front().stanza_id);
      set.append(xml::Element("last", std::string(kRsmNs))).append_text(page.messages.back().stanza_id);
    }
    return fin;
  }

  xmpp::ModuleContext& ctx_;
  size_t max_page_;
};

// Owns the archive and the expiry timer for as long as the module runs.
struct MamModule : xmpp::ModuleState {
  explicit MamModule(xmpp::ModuleContext& ctx)
      : archive(ctx), database(&ctx.database()), log(&ctx.log()), host(ctx.host()) {
    uv_timer_init(ctx.loop(), timer);
    timer->data = this;
  }
  ~MamModule() override {
    uv_timer_stop(timer);
    uv_close(reinterpret_cast<uv_handle_t*>(timer), [](uv_handle_t* h) { delete reinterpret_cast<uv_timer_t*>(h); });
  }
  Archive archive;
  uv_timer_t* timer = new uv_timer_t;
  store::PgClient* database;
  core::Logger* log;
  std::string host;
  int64_t max_age_s = 0;
};

void start(xmpp::ModuleContext& ctx) {
  auto& module = ctx.keep(std::make_unique<MamModule>(ctx));
  Archive& archive = module.archive;
  // XEP-0313 §6: announced by the archiving JIDs, the accounts; and by the
  // host too, where clients written before that rule look.
  ctx.add_disco_feature(std::string(kNs));
  ctx.add_disco_feature(std::string(kNs), xmpp::IqTarget::Account);
  ctx.add_disco_feature(std::string(kSidNs));
  for (xmpp::IqType type : {xmpp::IqType::Get, xmpp::IqType::Set}) {
    ctx.on_iq(type, kNs, [&archive](const xmpp::IqRequest& request) { archive.query(request); },
              xmpp::IqTarget::Account);
  }
  // Lowest priority, as for carbons: only what every other module let
  // through is archived (a blocked contact's messages are not).
  ctx.on(xmpp::events::outbound, -1000, [&archive](xmpp::StanzaEvent& e) {
    archive.sent(e.stanza);
    return xmpp::HookResult::Pass;
  });
  // Before message/*: carbon copies and offline storage keep the <stanza-id/>.
  ctx.on(xmpp::events::inbound, -1000, [&archive](xmpp::StanzaEvent& e) {
    archive.received(e.stanza);
    return xmpp::HookResult::Pass;
  });

  module.max_age_s = ctx.config().get_duration("modules.mam.expire_after", ctx.host()).count() / 1000;
  if (module.max_age_s <= 0) return;
  auto interval = static_cast<uint64_t>(ctx.config().get_duration("modules.mam.cleanup_interval").count());
  uv_timer_start(
      module.timer,
      [](uv_timer_t* t) {
        auto* m = static_cast<MamModule*>(t->data);
        expire(*m->database, m->host, m->max_age_s, [log = m->log, host = m->host](bool ok, uint64_t removed) {
          if (!ok) log->error("mam", 0, "expired messages of ", host, " could not be removed");
          if (ok && removed > 0) log->info("mam", 0, removed, " archived messages of ", host, " expired");
        });
      },
      interval, interval);
}

}  // namespace

}  // namespace parley::modules::mam

namespace parley::modules {

extern const xmpp::ModuleDefinition mam_module{
    "mam", "Archives users' one-to-one messages for every device to fetch.", {"XEP-0313", "XEP-0359"},
    mam::declare_options, mam::start};

}  // namespace parley::modules
