// XEP-0054: vcard-temp — each account's profile, changed only by its owner
// and readable by anyone or by contacts only (modules.vcard.visibility);
// XEP-0153: the avatar hash in the owner's presence (avatar.cpp).
#include <memory>

#include "core/config.hpp"
#include "core/option.hpp"
#include "modules/vcard/avatar.hpp"
#include "store/pg_client.hpp"
#include "xml/fragment.hpp"
#include "xml/writer.hpp"
#include "xmpp/module_api.hpp"

namespace parley::modules {

namespace {
constexpr store::PgStatement kLoadVcard{"vcard_load", "SELECT vcard FROM vcards WHERE host = $1 AND username = $2"};
// "contacts": the requester may read when the owner's roster gives it the
// owner's presence (subscription from/both, RFC 6121 §2.1.2.5).
constexpr store::PgStatement kLoadVcardForContact{
    "vcard_load_for_contact",
    "SELECT EXISTS (SELECT 1 FROM roster_items WHERE host = $1 AND username = $2 AND contact = $3"
    " AND subscription IN ('from', 'both')),"
    " (SELECT vcard FROM vcards WHERE host = $1 AND username = $2)"};
constexpr store::PgStatement kStoreVcard{
    "vcard_store",
    "INSERT INTO vcards (host, username, vcard, avatar_hash) VALUES ($1, $2, $3, $4)"
    " ON CONFLICT (host, username) DO UPDATE SET vcard = EXCLUDED.vcard, avatar_hash = EXCLUDED.avatar_hash"};

void declare_options(core::OptionRegistry& registry) {
  registry.add_section("modules.vcard", "vcard-temp profiles (XEP-0054) and avatar hashes in presence (XEP-0153).");
  registry.add({"modules.vcard.visibility", core::OptionType::String, "\"anyone\"", {}, {}, {"anyone", "contacts"},
                "Who may read a user's vCard: \"anyone\", or \"contacts\" (those the user's roster lets see "
                "the user's presence, subscription from or both). The owner always may.",
                true});
  registry.add({"modules.vcard.max_bytes", core::OptionType::Size, "\"64KiB\"", 1024, 16 * 1024 * 1024, {},
                "Largest vCard a user may store, serialized; a larger one is refused as not-acceptable.",
                true});
}

// What the module keeps between requests; callbacks hold weak references.
struct VcardState : xmpp::ModuleState {
  std::shared_ptr<AvatarCache> avatars;
  bool contacts_only = false;
  uint64_t max_bytes = 0;
};

// XEP-0054 §3.1: no stored vCard reads as an empty one.
void reply_with(const xmpp::IqRequest& request, const std::optional<std::string>& stored) {
  std::optional<xml::Element> vcard = stored ? xml::parse_element(*stored) : std::nullopt;
  request.reply(vcard ? std::move(*vcard) : xml::Element("vCard", std::string(kVcardNs)));
}

void get(xmpp::ModuleContext& ctx, const VcardState& state, const xmpp::IqRequest& request) {
  const xmpp::Jid& owner = request.to();
  if (request.from().bare() == owner.bare() || !state.contacts_only) {
    ctx.database().execute(kLoadVcard, {owner.domain(), owner.node()}, [request](store::PgResult&& result) {
      if (!result.ok) return request.error(xmpp::errors::internal_server_error);
      reply_with(request, result.size() == 1 ? result.at(0, 0) : std::nullopt);
    });
    return;
  }
  ctx.database().execute(kLoadVcardForContact, {owner.domain(), owner.node(), request.from().bare_str()},
                         [request](store::PgResult&& result) {
                           if (!result.ok || result.size() != 1) {
                             return request.error(xmpp::errors::internal_server_error);
                           }
                           if (result.at(0, 0) != "t") {
                             return request.error(xmpp::errors::forbidden, "only the user's contacts may read it");
                           }
                           reply_with(request, result.at(0, 1));
                         });
}

void set(xmpp::ModuleContext& ctx, const VcardState& state, const xmpp::IqRequest& request) {
  const xmpp::Jid& owner = request.to();
  if (request.from().bare() != owner.bare()) {
    request.error(xmpp::errors::forbidden, "only the owner may change a vCard");
    return;
  }
  const xml::Element& vcard = request.payload();
  if (vcard.name() != "vCard") {
    request.error(xmpp::errors::bad_request, "expected <vCard xmlns='vcard-temp'/>");
    return;
  }
  std::string text = xml::to_string(vcard);
  if (text.size() > state.max_bytes) {
    request.error(xmpp::errors::not_acceptable,
                  "the vCard is larger than " + std::to_string(state.max_bytes) + " bytes");
    return;
  }
  std::optional<std::string> hash = avatar_hash(vcard);
  if (!hash) {
    request.error(xmpp::errors::bad_request, "PHOTO/BINVAL is not base64");
    return;
  }
  std::weak_ptr<AvatarCache> avatars = state.avatars;
  std::string bare = owner.bare_str();
  ctx.database().execute(kStoreVcard, {owner.domain(), owner.node(), std::move(text), *hash},
                         [request, avatars, bare, hash = *hash](store::PgResult&& result) {
                           if (!result.ok) {
                             request.error(xmpp::errors::internal_server_error);
                             return;
                           }
                           if (auto cache = avatars.lock()) cache->stored(bare, hash);
                           request.reply();
                         });
}

void start(xmpp::ModuleContext& ctx) {
  auto state = std::make_unique<VcardState>();
  state->avatars = std::make_shared<AvatarCache>(ctx);
  state->contacts_only = ctx.option_string("visibility") == "contacts";
  state->max_bytes = ctx.option_size("max_bytes");
  const VcardState& kept = ctx.keep(std::move(state));
  kept.avatars->start();
  ctx.add_disco_feature(std::string(kVcardNs));
  // IqTarget::Account: to a bare JID or without 'to' (XEP-0054 §3.1, §3.2).
  ctx.on_iq(
      xmpp::IqType::Get, kVcardNs, [&ctx, &kept](const xmpp::IqRequest& request) { get(ctx, kept, request); },
      xmpp::IqTarget::Account);
  ctx.on_iq(
      xmpp::IqType::Set, kVcardNs, [&ctx, &kept](const xmpp::IqRequest& request) { set(ctx, kept, request); },
      xmpp::IqTarget::Account);
}
}  // namespace

extern const xmpp::ModuleDefinition vcard_module{
    "vcard", "vcard-temp profiles that only their owner changes, with avatar hashes in presence.",
    {"XEP-0054", "XEP-0153"}, declare_options, start};

}  // namespace parley::modules
