#pragma once
// XEP-0153: vCard-based avatars. The server knows each account's avatar hash
// from the stored vCard and stamps it into the available presence the account sends.
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "xml/element.hpp"
#include "xmpp/module_api.hpp"

namespace parley::modules {

inline constexpr std::string_view kVcardNs = "vcard-temp";
inline constexpr std::string_view kVcardUpdateNs = "vcard-temp:x:update";

// The hex SHA-1 of the decoded PHOTO/BINVAL (XEP-0153 §3.1: of the image, not of its base64), "" when the
// vCard has no photo, nullopt when BINVAL is not base64 (RFC 4648; line
// breaks, common in vCards, are skipped).
std::optional<std::string> avatar_hash(const xml::Element& vcard);

// Per-account avatar hashes of the accounts with a bound session, loaded from
// the database on session/bound. Presence sent while an account's hash is
// still loading is held and replayed in order once it is known.
class AvatarCache : public std::enable_shared_from_this<AvatarCache> {
 public:
  explicit AvatarCache(xmpp::ModuleContext& ctx);
  // Hooks session/bound, session/closed and stanza/outbound.
  void start();
  // A vCard was stored for `bare` ("" = no photo).
  void stored(const std::string& bare, std::string hash);

 private:
  struct Entry {
    bool loaded = false;
    bool stored = false;  // a vCard was stored since the load began: its hash wins
    std::optional<std::string> hash;  // nullopt: no vCard stored, nothing to announce
    int sessions = 0;
    std::vector<std::pair<std::string, xml::Element>> held;  // (full JID, presence)
  };
  Entry& load(const xmpp::Jid& account);
  void loaded(const std::string& bare, std::optional<std::string> hash);
  xmpp::HookResult on_outbound(xmpp::StanzaEvent& event);

  xmpp::ModuleContext& ctx_;
  std::unordered_map<std::string, Entry> entries_;
};

}  // namespace parley::modules
