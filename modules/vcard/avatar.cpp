#include "modules/vcard/avatar.hpp"

#include <openssl/evp.h>

#include "core/base64.hpp"
#include "core/hex.hpp"
#include "core/log.hpp"
#include "store/pg_client.hpp"
#include "xmpp/session_registry.hpp"
#include "xmpp/router.hpp"

namespace parley::modules {

namespace {
constexpr store::PgStatement kLoadHash{"vcard_load_avatar_hash",
                                       "SELECT avatar_hash FROM vcards WHERE host = $1 AND username = $2"};

std::string sha1_hex(std::string_view bytes) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  if (EVP_Digest(bytes.data(), bytes.size(), digest, &length, EVP_sha1(), nullptr) != 1) {
    throw std::runtime_error("SHA-1 failed");
  }
  return core::hex_encode(std::string_view(reinterpret_cast<const char*>(digest), length));
}

// XEP-0153 §4 (business rules): the update goes in every presence broadcast and in directed
// presence too (MUC rooms, for instance); unavailable presence needs none.
bool is_available_presence(const xmpp::RoutedStanza& s) {
  return s.kind == xmpp::StanzaKind::Presence && s.type == "available";
}
}  // namespace

std::optional<std::string> avatar_hash(const xml::Element& vcard) {
  const xml::Element* photo = vcard.first_child("PHOTO", kVcardNs);
  const xml::Element* binval = photo ? photo->first_child("BINVAL", kVcardNs) : nullptr;
  if (!binval) return std::string();
  std::string base64;
  for (char c : binval->text()) {
    if (c != ' ' && c != '\t' && c != '\r' && c != '\n') base64 += c;
  }
  if (base64.empty()) return std::string();
  std::optional<std::string> image = core::base64_decode(base64);
  if (!image) return std::nullopt;
  return sha1_hex(*image);
}

AvatarCache::AvatarCache(xmpp::ModuleContext& ctx) : ctx_(ctx) {}

void AvatarCache::start() {
  // Callbacks hold only weak references: the module may be stopped (SIGHUP
  // reload) while a query is in flight.
  std::weak_ptr<AvatarCache> weak = weak_from_this();
  ctx_.on(xmpp::events::session_bound, 0, [weak](xmpp::SessionEvent& event) {
    if (auto self = weak.lock()) ++self->load(event.session.jid()).sessions;
    return xmpp::HookResult::Pass;
  });
  ctx_.on(xmpp::events::session_closed, 0, [weak](xmpp::SessionEvent& event) {
    auto self = weak.lock();
    if (!self) return xmpp::HookResult::Pass;
    auto it = self->entries_.find(event.session.jid().bare_str());
    if (it != self->entries_.end() && --it->second.sessions <= 0) self->entries_.erase(it);
    return xmpp::HookResult::Pass;
  });
  // High priority: the stamp must be in place before other modules (presence
  // broadcast, the session's last presence) see the stanza.
  ctx_.on(xmpp::events::outbound, 100, [weak](xmpp::StanzaEvent& event) {
    auto self = weak.lock();
    return self ? self->on_outbound(event) : xmpp::HookResult::Pass;
  });
}

void AvatarCache::stored(const std::string& bare, std::string hash) {
  auto it = entries_.find(bare);
  if (it == entries_.end()) return;
  it->second.hash = std::move(hash);
  // A load still in flight was queued before the store and returns the old hash.
  it->second.stored = true;
}

AvatarCache::Entry& AvatarCache::load(const xmpp::Jid& account) {
  std::string bare = account.bare_str();
  auto [it, inserted] = entries_.try_emplace(bare);
  if (!inserted) return it->second;
  std::weak_ptr<AvatarCache> weak = weak_from_this();
  ctx_.database().execute(kLoadHash, {account.domain(), account.node()}, [weak, bare](store::PgResult&& result) {
    auto self = weak.lock();
    if (!self) return;
    std::optional<std::string> hash;
    if (result.ok && result.size() == 1) hash = result.at(0, 0).value_or("");
    if (!result.ok) self->ctx_.log().error("vcard", 0, "loading the avatar hash of ", bare, " failed: ", result.error);
    self->loaded(bare, std::move(hash));
  });
  return it->second;
}

void AvatarCache::loaded(const std::string& bare, std::optional<std::string> hash) {
  auto it = entries_.find(bare);
  if (it == entries_.end()) return;
  it->second.loaded = true;
  if (!it->second.stored) it->second.hash = std::move(hash);
  std::vector<std::pair<std::string, xml::Element>> held = std::move(it->second.held);
  // Replayed through the router so they take the normal path, now stamped.
  // The session may have gone meanwhile: look it up again by its JID.
  xmpp::SessionRegistry& sessions = ctx_.host_context().services().sessions();
  for (auto& [full, presence] : held) {
    std::optional<xmpp::Jid> jid = xmpp::Jid::parse(full);
    xmpp::Session* session = jid ? sessions.find(*jid) : nullptr;
    if (session) ctx_.router().route_from_session(*session, std::move(presence));
  }
}

xmpp::HookResult AvatarCache::on_outbound(xmpp::StanzaEvent& event) {
  xmpp::RoutedStanza& s = event.stanza;
  if (s.kind != xmpp::StanzaKind::Presence || !s.origin) return xmpp::HookResult::Pass;
  // XEP-0153 §4: a client that announces its own hash knows better.
  bool stamp = is_available_presence(s) && !s.element.first_child("x", kVcardUpdateNs);
  Entry* entry = nullptr;
  if (stamp) {
    entry = &load(s.from);
  } else if (auto it = entries_.find(s.from.bare_str()); it != entries_.end()) {
    entry = &it->second;
  }
  if (!entry) return xmpp::HookResult::Pass;
  if (!entry->held.empty() || (stamp && !entry->loaded)) {
    // The hash is one query away: hold the presence rather than send it
    // unstamped, and later presence behind it so that the order stays
    // (other stanzas of the session may overtake it meanwhile).
    entry->held.emplace_back(s.from.str(), s.element);
    return xmpp::HookResult::Handled;
  }
  if (!stamp || !entry->hash) return xmpp::HookResult::Pass;
  // XEP-0153 §4: an empty <photo/> says "no avatar".
  xml::Element& x = s.element.append(xml::Element("x", std::string(kVcardUpdateNs)));
  xml::Element& photo = x.append(xml::Element("photo", std::string(kVcardUpdateNs)));
  if (!entry->hash->empty()) photo.append_text(*entry->hash);
  return xmpp::HookResult::Pass;
}

}  // namespace parley::modules
