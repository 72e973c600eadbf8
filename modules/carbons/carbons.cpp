// XEP-0280: Message Carbons. A user's resources that enabled carbons get a
// copy of the one-to-one messages their other resources send and receive, so
// a conversation reads the same on the phone and on the desktop.
#include <algorithm>
#include <map>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/string_hash.hpp"
#include "xmpp/module_api.hpp"
#include "xmpp/namespaces.hpp"
#include "xmpp/router.hpp"
#include "xmpp/session_registry.hpp"

namespace parley::modules::carbons {

namespace {

constexpr std::string_view kNs = "urn:xmpp:carbons:2";
constexpr std::string_view kForwardNs = "urn:xmpp:forward:0";  // XEP-0297
constexpr std::string_view kHintsNs = "urn:xmpp:hints";        // XEP-0334
constexpr std::string_view kMucUserNs = "http://jabber.org/protocol/muc#user";

using ResourceIds = std::map<std::string, uint64_t, std::less<>>;
using UsersWithCarbons = std::unordered_map<std::string, ResourceIds, core::StringHash, std::equal_to<>>;
// The resources that enabled carbons, by bare JID: full JID -> session id,
// so that a resource that replaced one with the same name (RFC 6120 §7.7.2.2)
// is not taken for it. Kept across a reload: no query can rebuild it.
struct EnabledResources {
  UsersWithCarbons users;
};

// XEP-0280 §6 (the rules it suggests): chat messages, and normal ones with a
// body; never what the sender marked <private/> or <no-copy/> (XEP-0334).
bool eligible(const xmpp::RoutedStanza& s) {
  if (s.kind != xmpp::StanzaKind::Message) return false;
  const xml::Element& m = s.element;
  if (m.first_child("private", kNs) || m.first_child("no-copy", kHintsNs)) return false;
  if (s.type == "chat") return true;
  return s.type == "normal" && m.first_child("body", xmpp::ns::client) != nullptr;
}

// Between two resources of one account there is nothing to copy: every
// resource is a party to the conversation.
bool between_own_resources(const xmpp::RoutedStanza& s) { return s.to.empty() || s.from.bare_view() == s.to.bare_view(); }

class Carbons {
 public:
  explicit Carbons(xmpp::ModuleContext& ctx) : ctx_(ctx), enabled_(ctx.carried<EnabledResources>().users) {}

  void set(const xmpp::IqRequest& request) {
    const xmpp::Jid& from = request.from();
    xmpp::Session* session = from.domain() == ctx_.host() ? sessions().find(from) : nullptr;
    if (!session) {
      request.error(xmpp::errors::not_allowed, "carbons are for this server's own clients");  // XEP-0280 §4.1
      return;
    }
    const std::string& action = request.payload().name();
    if (action == "enable") {
      enable(*session);
    } else if (action == "disable") {
      forget(from, session->id());
    } else {
      request.error(xmpp::errors::bad_request, "expected <enable/> or <disable/>");
      return;
    }
    // XEP-0280 §10.1: enabling twice, or disabling twice, is no error.
    request.reply();
  }

  void enable(const xmpp::Session& session) {
    enabled_[session.jid().bare_str()].insert_or_assign(session.jid().str(), session.id());
  }

  void forget(const xmpp::Jid& full, uint64_t session_id) {
    auto user = enabled_.find(full.bare_view());
    if (user == enabled_.end()) return;
    auto resource = user->second.find(full.str());
    if (resource != user->second.end() && resource->second == session_id) user->second.erase(resource);
    if (user->second.empty()) enabled_.erase(user);
  }

  // XEP-0280 §8: the sender's other carbons-enabled resources get <sent/>.
  void sent(const xmpp::RoutedStanza& s) {
    if (!s.origin || s.kind != xmpp::StanzaKind::Message) return;
    auto user = enabled_.find(s.from.bare_view());
    if (user == enabled_.end() || between_own_resources(s) || !eligible(s)) return;
    copy_to(user->first, user->second, "sent", s.element, {s.origin});
  }

  // XEP-0280 §7: the recipient's carbons-enabled resources that do not get
  // the message itself get <received/>.
  void received(xmpp::RoutedStanza& s) {
    if (s.kind != xmpp::StanzaKind::Message) return;
    // §9: the recipient's server removes <private/>; it was for us.
    if (s.element.first_child("private", kNs)) {
      s.element.remove_children("private", kNs);
      return;
    }
    auto user = enabled_.find(s.to.bare_view());
    if (user == enabled_.end() || s.from.empty() || between_own_resources(s) || !eligible(s)) return;
    // §6: not what a room sends to one occupant (its messages and private
    // messages, both to a full JID); an invitation to the bare JID is copied.
    if (!s.to.is_bare() && s.element.first_child("x", kMucUserNs)) return;
    std::vector<xmpp::Session*> recipients;
    if (xmpp::Session* addressed = s.to.is_bare() ? nullptr : sessions().find(s.to)) {
      recipients.push_back(addressed);
    } else {
      // A full JID that is not online is handled as the bare JID (RFC 6121 §8.5.3.2.1).
      xmpp::for_each_bare_message_recipient(sessions().resources(user->first), s.type,
                                            [&recipients](xmpp::Session* r) { recipients.push_back(r); });
      // Nobody gets it now: it goes to offline storage (or is refused), and
      // a copy beside it would show the user a message twice, or one that
      // the sender was told did not arrive.
      if (recipients.empty()) return;
    }
    copy_to(user->first, user->second, "received", s.element, recipients);
  }

 private:
  xmpp::SessionRegistry& sessions() { return ctx_.host_context().services().sessions(); }

  // Wraps `original` (XEP-0297) for each of `bare`'s carbons-enabled
  // resources that did not get the original itself.
  void copy_to(const std::string& bare, const ResourceIds& enabled, std::string_view direction,
               const xml::Element& original, const std::vector<xmpp::Session*>& got_original) {
    std::optional<xml::Element> carbon;
    for (xmpp::Session* session : sessions().resources(bare)) {
      auto resource = enabled.find(session->jid().str());
      if (resource == enabled.end() || resource->second != session->id()) continue;
      if (std::find(got_original.begin(), got_original.end(), session) != got_original.end()) continue;
      if (!carbon) carbon = wrap(bare, direction, original);
      carbon->set_attr("to", session->jid().str());
      session->send(*carbon);
    }
  }

  static xml::Element wrap(const std::string& bare, std::string_view direction, const xml::Element& original) {
    xml::Element carbon("message", std::string(xmpp::ns::client));
    carbon.set_attr("from", bare);
    if (const std::string* type = original.find_attr("type")) carbon.set_attr("type", *type);
    xml::Element& forwarded = carbon.append(xml::Element(std::string(direction), std::string(kNs)))
                                  .append(xml::Element("forwarded", std::string(kForwardNs)));
    forwarded.append(original);
    return carbon;
  }

  xmpp::ModuleContext& ctx_;
  UsersWithCarbons& enabled_;
};

struct Keeper : xmpp::ModuleState {
  explicit Keeper(xmpp::ModuleContext& ctx) : carbons(ctx) {}
  Carbons carbons;
};

void start(xmpp::ModuleContext& ctx) {
  Carbons& carbons = ctx.keep(std::make_unique<Keeper>(ctx)).carbons;
  ctx.add_disco_feature(std::string(kNs));
  ctx.on_iq(xmpp::IqType::Set, kNs, [&carbons](const xmpp::IqRequest& request) { carbons.set(request); });
  // Lowest priority: only what every other module let through is copied.
  // A message to a blocked contact stops at the blocking module's outbound
  // hook; one from a blocked sender at stanza/inbound, before message/*.
  ctx.on(xmpp::events::outbound, -1000, [&carbons](xmpp::StanzaEvent& e) {
    carbons.sent(e.stanza);
    return xmpp::HookResult::Pass;
  });
  ctx.on(xmpp::events::message_to_full, -1000, [&carbons](xmpp::StanzaEvent& e) {
    carbons.received(e.stanza);
    return xmpp::HookResult::Pass;
  });
  ctx.on(xmpp::events::message_to_bare, -1000, [&carbons](xmpp::StanzaEvent& e) {
    carbons.received(e.stanza);
    return xmpp::HookResult::Pass;
  });
  // XEP-0386 §3, §4: a SASL2 client may enable carbons inside its Bind2
  // request; there is no answer for it in <bound/>.
  ctx.on(xmpp::events::stream_features, 0, [](xmpp::StreamFeaturesEvent& e) {
    e.offer_bind2_inline(kNs);
    return xmpp::HookResult::Pass;
  });
  ctx.on(xmpp::events::bind2_request, 0, [&carbons](xmpp::Bind2RequestEvent& e) {
    if (e.request.first_child("enable", kNs)) carbons.enable(e.session);
    return xmpp::HookResult::Pass;
  });
  ctx.on(xmpp::events::session_closed, 0, [&carbons](xmpp::SessionEvent& e) {
    carbons.forget(e.session.jid(), e.session.id());
    return xmpp::HookResult::Pass;
  });
}

}  // namespace

}  // namespace parley::modules::carbons

namespace parley::modules {

extern const xmpp::ModuleDefinition carbons_module{
    "carbons", "Copies one-to-one messages to the user's other carbons-enabled resources.", {"XEP-0280"}, nullptr,
    carbons::start};

}  // namespace parley::modules
