// XEP-0363: HTTP File Upload. The component upload.<host> hands out slots
// (a PUT URL signed with HMAC and valid for modules.upload.slot_lifetime, a
// GET URL) after checking the size limit and the account's quota; the
// transfers themselves go through the HTTP server (upload_http.cpp). Files
// expire after modules.upload.expire_after; a periodic task removes them,
// and deleting an account removes its files (user/deleting).
#include <chrono>
#include <ctime>
#include <system_error>

#include "core/config.hpp"
#include "core/log.hpp"
#include "core/option.hpp"
#include "modules/upload/upload_state.hpp"
#include "net/http_message.hpp"
#include "store/pg_array.hpp"
#include "store/pg_client.hpp"
#include "xmpp/module_api.hpp"
#include "xmpp/router.hpp"

namespace parley::modules {

namespace {

using upload::kNs;
using upload::UploadState;

constexpr std::string_view kDiscoInfo = "http://jabber.org/protocol/disco#info";
constexpr std::string_view kDiscoItems = "http://jabber.org/protocol/disco#items";
constexpr std::string_view kDataForms = "jabber:x:data";

// One statement checks the quota and inserts. Its snapshot is taken when it
// starts, so two of them for one account running at the same moment on two
// connections (several parleyd sharing the database, or workers with a
// connection each) would both see the total without the other's file and
// could together pass the quota. kLockAccount, run before it in the same
// transaction, makes them take turns: the second starts (and takes its
// snapshot) once the first has committed. Requests of one connection run in
// order anyway (PgClient's pipeline), so the lock is only ever waited for
// across connections.
constexpr store::PgStatement kLockAccount{
    "upload_lock_account",
    // Two int4 keys, a key space apart from the migrations' int8 lock; the
    // first, 'upld' in ASCII, keeps other two-key users out.
    "SELECT pg_advisory_xact_lock(1970301028, hashtext($1 || '/' || $2))"};
constexpr store::PgStatement kCreateSlot{
    "upload_create_slot",
    "WITH used AS (SELECT coalesce(sum(size), 0) AS bytes, min(created_at) AS oldest FROM upload_slots "
    "WHERE host = $1 AND username = $2), "
    "inserted AS (INSERT INTO upload_slots (slot, host, username, filename, size, content_type, put_deadline) "
    "SELECT $3, $1, $2, $4, $5::bigint, $6, now() + $7::bigint * interval '1 millisecond' FROM used "
    "WHERE used.bytes + $5::bigint <= $8::bigint RETURNING 1) "
    "SELECT (SELECT count(*) FROM inserted), "
    "to_char(((SELECT oldest FROM used) + $9::bigint * interval '1 millisecond') AT TIME ZONE 'UTC', "
    "'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"};

// Expired files, slots never used, and uploads cut off by a stop of parleyd
// (still 'uploading' a day after their PUT deadline: no live upload is that
// slow; a fallback, as start-up removes those whose .part file it finds).
constexpr store::PgStatement kExpire{
    "upload_expire",
    "DELETE FROM upload_slots WHERE host = $1 AND (created_at < now() - $2::bigint * interval '1 millisecond' "
    "OR (state = 'pending' AND put_deadline < now()) "
    "OR (state = 'uploading' AND put_deadline < now() - interval '1 day')) RETURNING slot"};

constexpr store::PgStatement kOwned{"upload_owned",
                                    "SELECT slot FROM upload_slots WHERE host = $1 AND username = $2"};

void declare_options(core::OptionRegistry& registry) {
  registry.add_section("modules.upload", "HTTP File Upload (XEP-0363) through the component upload.<host>.");
  registry.add({.key = "modules.upload.max_file_size", .type = core::OptionType::Size, .default_value = "\"100MiB\"",
                .min = 1, .doc = "Largest file one slot may hold; announced in disco (XEP-0363 §2).", .per_host = true});
  registry.add({.key = "modules.upload.quota", .type = core::OptionType::Size, .default_value = "\"1GiB\"",
                .min = 1,
                .doc = "Total size of the files (stored and announced) one account may have at a time.",
                .per_host = true});
  registry.add({.key = "modules.upload.slot_lifetime", .type = core::OptionType::Duration,
                .default_value = "\"5m\"", .min = 1'000, .max = 86'400'000,
                .doc = "How long a PUT URL stays valid after the slot was handed out.", .per_host = true});
  registry.add({.key = "modules.upload.expire_after", .type = core::OptionType::Duration,
                .default_value = "\"30d\"", .min = 1'000,
                .doc = "Uploaded files are deleted this long after their slot was created.", .per_host = true});
  registry.add({.key = "modules.upload.cleanup_interval", .type = core::OptionType::Duration,
                .default_value = "\"1h\"", .min = 1'000, .max = 86'400'000,
                .doc = "How often expired files and unused slots are removed."});
  registry.add({.key = "modules.upload.path", .type = core::OptionType::Path, .default_value = "\"uploads\"",
                .doc = "Directory for uploaded files, one subdirectory per host (relative to server.state_dir).",
                .path_base = core::PathBase::StateDir});
  registry.add({.key = "modules.upload.secret", .type = core::OptionType::String, .default_value = "\"\"",
                .doc = "Key that signs PUT URLs (HMAC-SHA-256). Empty: a random key generated once into "
                       "<modules.upload.path>/upload.secret; set it when several parleyd share the files."});
}

// RFC 6838 §4.2: type/subtype of restricted-name characters. Anything else
// (parameters, CR/LF) is refused: the value is echoed in HTTP headers.
bool valid_content_type(std::string_view type) {
  size_t slash = type.find('/');
  if (slash == 0 || slash == std::string_view::npos || slash + 1 == type.size() || type.size() > 127) return false;
  for (size_t i = 0; i < type.size(); ++i) {
    char c = type[i];
    if (i == slash) continue;
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '!' || c == '#' ||
              c == '$' || c == '&' || c == '-' || c == '^' || c == '_' || c == '.' || c == '+';
    if (!ok) return false;
  }
  return true;
}

// The name only ever appears in URLs (percent-encoded) and in the database:
// files are stored by slot id. Separators and control characters are still
// refused so that no client is handed a name that means a path.
bool valid_filename(std::string_view name) {
  if (name.empty() || name.size() > 255 || name == "." || name == "..") return false;
  for (unsigned char c : name) {
    if (c < 0x20 || c == 0x7f || c == '/' || c == '\\') return false;
  }
  return true;
}

void send_error(UploadState& state, const xmpp::RoutedStanza& s, xmpp::StanzaErrorCondition condition,
                std::string_view text, std::optional<xml::Element> extra = std::nullopt) {
  xml::Element reply = make_error_reply(s.element, condition, text);
  if (extra) {
    if (xml::Element* error = reply.first_child("error")) error->append(std::move(*extra));
  }
  state.router->send_from_server(std::move(reply));
}

xml::Element disco_info(const UploadState& state) {
  xml::Element query("query", std::string(kDiscoInfo));
  xml::Element& identity = query.append(xml::Element("identity", std::string(kDiscoInfo)));
  identity.set_attr("category", "store");
  identity.set_attr("type", "file");
  identity.set_attr("name", "HTTP File Upload");
  for (std::string_view var : {kDiscoInfo, kNs}) {
    query.append(xml::Element("feature", std::string(kDiscoInfo))).set_attr("var", std::string(var));
  }
  // XEP-0363 §2: the limit as an XEP-0128 extended form.
  xml::Element& form = query.append(xml::Element("x", std::string(kDataForms)));
  form.set_attr("type", "result");
  auto field = [&](const char* var, std::string value, bool hidden) {
    xml::Element& f = form.append(xml::Element("field", std::string(kDataForms)));
    f.set_attr("var", var);
    if (hidden) f.set_attr("type", "hidden");
    f.append(xml::Element("value", std::string(kDataForms))).append_text(value);
  };
  field("FORM_TYPE", std::string(kNs), true);
  field("max-file-size", std::to_string(state.max_file_size), false);
  return query;
}

void request_slot(const std::shared_ptr<UploadState>& state, xmpp::RoutedStanza& s) {
  const xml::Element& request = *s.element.first_child();
  if (s.from.domain() != state->host || s.from.node().empty()) {
    send_error(*state, s, xmpp::errors::not_allowed, "uploads are for accounts of " + state->host);
    return;
  }
  std::string filename(request.attr("filename"));
  std::string size_text(request.attr("size"));
  std::string content_type(request.attr("content-type"));
  if (content_type.empty()) content_type = "application/octet-stream";
  uint64_t size = 0;
  bool size_ok = !size_text.empty() && size_text.size() <= 19 &&
                 size_text.find_first_not_of("0123456789") == std::string::npos;
  if (size_ok) size = std::stoull(size_text);
  if (!valid_filename(filename) || !size_ok || !valid_content_type(content_type)) {
    send_error(*state, s, xmpp::errors::bad_request,
               "a slot needs a file name without path separators, a size in bytes and a media type");
    return;
  }
  if (size > state->max_file_size) {
    // XEP-0363 §4.3.1: not-acceptable with the limit, in the text and as an element.
    xml::Element too_large("file-too-large", std::string(kNs));
    too_large.append(xml::Element("max-file-size", std::string(kNs))).append_text(std::to_string(state->max_file_size));
    send_error(*state, s, xmpp::errors::not_acceptable,
               "File too large. The maximum file size is " + std::to_string(state->max_file_size) + " bytes",
               std::move(too_large));
    return;
  }
  std::string slot = upload::new_slot_id();
  std::weak_ptr<UploadState> weak = state;
  state->db->transaction(
      {{&kLockAccount, {state->host, s.from.node()}},
       {&kCreateSlot,
        {state->host, s.from.node(), slot, filename, std::to_string(size), content_type,
         std::to_string(state->slot_lifetime_ms), std::to_string(state->quota),
         std::to_string(state->expire_after_ms)}}},
      [weak, stanza = s, slot, filename, size, content_type](store::PgResult&& result) {
        auto state = weak.lock();
        if (!state) return;
        if (!result.ok || result.size() != 1) {
          state->log->error("upload", 0, "slot for ", stanza.from.str(), " not stored: ", result.error);
          send_error(*state, stanza, xmpp::errors::internal_server_error, "the slot could not be stored");
          return;
        }
        if (result.at(0, 0) != "1") {
          // XEP-0363 §4.3.2: quota reached, retry when the oldest file expires.
          xml::Element retry("retry", std::string(kNs));
          if (result.at(0, 1)) retry.set_attr("stamp", *result.at(0, 1));
          send_error(*state, stanza, xmpp::errors::resource_constraint,
                     "Quota reached. Each account may store " + std::to_string(state->quota) + " bytes of files",
                     std::move(retry));
          return;
        }
        int64_t expires = std::time(nullptr) + state->slot_lifetime_ms / 1000;
        std::string path = state->route.substr(1) + slot + "/" + net::percent_encode(filename);
        std::string put_url = state->base_url + path + "?expires=" + std::to_string(expires) +
                              "&sig=" + upload::sign_put(*state, slot, filename, size, content_type, expires);
        xml::Element answer("slot", std::string(kNs));
        answer.append(xml::Element("put", std::string(kNs))).set_attr("url", put_url);
        answer.append(xml::Element("get", std::string(kNs))).set_attr("url", state->base_url + path);
        xmpp::IqRequest(*state->router, stanza.element, stanza.from, stanza.to).reply(std::move(answer));
      },
      1);  // kCreateSlot's result
}

void component(const std::shared_ptr<UploadState>& state, xmpp::RoutedStanza& s) {
  state->router->refuse_message(s);  // the upload service takes no messages
  if (s.kind != xmpp::StanzaKind::Iq || (s.type != "get" && s.type != "set")) return;
  s.element.set_attr("from", s.from.str());
  const xml::Element& payload = *s.element.first_child();
  xmpp::IqRequest iq(*state->router, s.element, s.from, s.to);
  if (!s.to.is_domain()) {
    iq.error(xmpp::errors::service_unavailable);
  } else if (s.type == "get" && payload.ns() == kDiscoInfo && payload.name() == "query") {
    iq.reply(disco_info(*state));
  } else if (s.type == "get" && payload.ns() == kDiscoItems && payload.name() == "query") {
    iq.reply(xml::Element("query", std::string(kDiscoItems)));
  } else if (s.type == "get" && payload.ns() == kNs && payload.name() == "request") {
    request_slot(state, s);
  } else {
    iq.error(xmpp::errors::service_unavailable);
  }
}

// Removes what expired: the rows first (DELETE … RETURNING), then their files.
void expire(const std::shared_ptr<UploadState>& state) {
  std::weak_ptr<UploadState> weak = state;
  state->db->execute(kExpire, {state->host, std::to_string(state->expire_after_ms)},
                     [weak](store::PgResult&& result) {
                       auto state = weak.lock();
                       if (!state || !result.ok) return;
                       for (const auto& row : result.rows) {
                         if (!row.at(0) || !upload::valid_slot_id(*row.at(0))) continue;
                         upload::unlink_async(state->loop, state->dir / *row.at(0));
                         upload::unlink_async(state->loop, state->dir / (*row.at(0) + ".part"));
                       }
                       if (!result.rows.empty()) state->log->info("upload", 0, "expired ", result.size(), " files");
                     });
}

constexpr store::PgStatement kDropStopped{
    "upload_drop_stopped",
    "DELETE FROM upload_slots WHERE host = $1 AND slot = ANY($2::text[]) AND state = 'uploading'"};

// When a process starts, no upload of its own is under way, so a <slot>.part
// in its directory was cut off by a stop of parleyd: the file and its slot
// go now rather than with the daily expiry, and their bytes stop counting
// against the owner's quota. (Start-up only, so the directory is read
// synchronously.)
void sweep_stopped_uploads(const std::shared_ptr<UploadState>& state) {
  std::vector<std::string> cut_off;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(state->dir, ec)) {
    const std::filesystem::path& path = entry.path();
    if (path.extension() != ".part" || !upload::valid_slot_id(path.stem().string())) continue;
    cut_off.push_back(path.stem().string());
    std::filesystem::remove(path, ec);
  }
  if (cut_off.empty()) return;
  state->log->info("upload", 0, "removing ", cut_off.size(), " uploads cut off by the last stop");
  state->db->execute(kDropStopped, {state->host, store::format_text_array(cut_off)}, [](store::PgResult&&) {});
}

// The state outlives a SIGHUP reload (ModuleContext::carried): uploads and
// downloads in progress hold it weakly and go on; the new start refreshes its
// settings. It goes when the module is disabled or the host removed.
struct CarriedState {
  std::shared_ptr<UploadState> state = std::make_shared<UploadState>();
};

// Owns the cleanup timer and the shared state for as long as the module runs.
struct UploadModule : xmpp::ModuleState {
  std::shared_ptr<UploadState> state;
  uv_timer_t* timer = new uv_timer_t;
  ~UploadModule() override {
    uv_timer_stop(timer);
    uv_close(reinterpret_cast<uv_handle_t*>(timer), [](uv_handle_t* h) { delete reinterpret_cast<uv_timer_t*>(h); });
  }
};

void start(xmpp::ModuleContext& ctx) {
  std::shared_ptr<UploadState> state = ctx.carried<CarriedState>().state;
  state->host = ctx.host();
  state->component = "upload." + ctx.host();
  state->base_url = ctx.http_base_url();
  state->route = "/upload/" + ctx.host() + "/";
  std::filesystem::path root = ctx.config().get_path("modules.upload.path");
  state->dir = root / ctx.host();
  std::error_code ec;
  std::filesystem::create_directories(state->dir, ec);  // start-up only
  if (ec) throw std::runtime_error("upload: cannot create " + state->dir.string() + ": " + ec.message());
  std::string error;
  state->secret = upload::load_secret(ctx.config().get_string("modules.upload.secret"), root / "upload.secret", error);
  if (state->secret.empty()) throw std::runtime_error("upload: " + error);
  state->max_file_size = ctx.option_size("max_file_size");
  state->quota = ctx.option_size("quota");
  state->slot_lifetime_ms = ctx.config().get_duration("modules.upload.slot_lifetime", ctx.host()).count();
  state->expire_after_ms = ctx.config().get_duration("modules.upload.expire_after", ctx.host()).count();
  state->db = &ctx.database();
  state->router = &ctx.router();
  state->log = &ctx.log();
  state->loop = ctx.loop();

  if (!state->swept_stopped_uploads) {
    state->swept_stopped_uploads = true;
    sweep_stopped_uploads(state);
  }

  ctx.add_disco_item(state->component);
  ctx.serve_component(state->component, [state = std::weak_ptr(state)](xmpp::RoutedStanza& s) {
    if (auto locked = state.lock()) component(locked, s);
  });
  upload::start_http(ctx, state);

  // Account deletion: the files go before the rows do (the event's hold).
  ctx.on(xmpp::events::user_deleting, 0, [weak = std::weak_ptr(state)](xmpp::UserEvent& event) {
    auto state = weak.lock();
    if (!state) return xmpp::HookResult::Pass;
    state->db->execute(kOwned, {state->host, event.username}, [weak, hold = event.hold](store::PgResult&& result) {
      auto state = weak.lock();
      if (!state || !result.ok) return;
      for (const auto& row : result.rows) {
        if (!row.at(0) || !upload::valid_slot_id(*row.at(0))) continue;
        upload::unlink_async(state->loop, state->dir / *row.at(0), hold);
        upload::unlink_async(state->loop, state->dir / (*row.at(0) + ".part"), hold);
      }
    });
    return xmpp::HookResult::Pass;
  });

  auto& module = ctx.keep(std::make_unique<UploadModule>());
  module.state = state;
  uv_timer_init(ctx.loop(), module.timer);
  module.timer->data = &module;
  auto interval = static_cast<uint64_t>(ctx.config().get_duration("modules.upload.cleanup_interval").count());
  uv_timer_start(module.timer, [](uv_timer_t* t) { expire(static_cast<UploadModule*>(t->data)->state); }, interval,
                 interval);
}

}  // namespace

extern const xmpp::ModuleDefinition upload_module{
    "upload", "HTTP File Upload: slots from upload.<host>, transfers over the built-in HTTP server.",
    {"XEP-0363"}, declare_options, start};

}  // namespace parley::modules
