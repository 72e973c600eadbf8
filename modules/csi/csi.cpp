// XEP-0352: Client State Indication. A client that tells the server it is
// inactive (a phone in the pocket) is not woken for presence changes and
// typing notifications; they wait, and go out with the next stanza that
// matters or when the client is active again. Pushing fewer stanzas to
// mobile clients saves their batteries and radio time.
#include <map>
#include <memory>
#include <string>

#include "core/option.hpp"
#include "modules/csi/held_output.hpp"
#include "xmpp/module_api.hpp"
#include "xmpp/session_registry.hpp"

namespace parley::modules::csi {

namespace {

constexpr std::string_view kNs = "urn:xmpp:csi:0";

void declare_options(core::OptionRegistry& registry) {
  registry.add_section("modules.csi", "Client State Indication (XEP-0352).");
  registry.add({"modules.csi.max_held", core::OptionType::Integer, "256", 1, 100000, {},
                "How many presence stanzas and chat states an inactive client may have waiting (after newer ones "
                "replaced older ones from the same sender); one more sends them all.",
                true});
}

bool is_inactive(const xmpp::Session& session) { return dynamic_cast<HeldOutput*>(session.output_gate()) != nullptr; }

// The sessions this host's module made inactive, by full JID with the
// session's id (a later session may bind the same JID). Carried across
// reloads; when the module is disabled it goes, and with it every gate it
// installed, so that nothing stays held with no module left to send it.
class InactiveSessions {
 public:
  InactiveSessions() = default;
  InactiveSessions(const InactiveSessions&) = delete;
  InactiveSessions& operator=(const InactiveSessions&) = delete;
  ~InactiveSessions() {
    if (!registry_) return;
    for (const auto& [jid, id] : by_jid_) {
      auto parsed = xmpp::Jid::parse(jid);
      xmpp::Session* session = parsed ? registry_->find(*parsed) : nullptr;
      if (session && session->id() == id && is_inactive(*session)) session->set_output_gate(nullptr);
    }
  }

  void set_registry(xmpp::SessionRegistry& registry) { registry_ = &registry; }

  void set_state(xmpp::Session& session, std::string_view state, size_t max_held) {
    if (state == "inactive" && !is_inactive(session)) {
      session.set_output_gate(std::make_unique<HeldOutput>(max_held));
      by_jid_.insert_or_assign(session.jid().str(), session.id());
    } else if (state == "active" && is_inactive(session)) {
      session.set_output_gate(nullptr);  // sends what was held
      forget(session);
    }
  }

  void forget(const xmpp::Session& session) {
    auto it = by_jid_.find(session.jid().str());
    if (it != by_jid_.end() && it->second == session.id()) by_jid_.erase(it);
  }

 private:
  xmpp::SessionRegistry* registry_ = nullptr;  // the worker's; it outlives the hosts
  std::map<std::string, uint64_t, std::less<>> by_jid_;
};

void start(xmpp::ModuleContext& ctx) {
  auto max_held = static_cast<size_t>(ctx.option_int("max_held"));
  InactiveSessions& inactive = ctx.carried<InactiveSessions>();
  inactive.set_registry(ctx.host_context().services().sessions());
  // XEP-0352 §5: offered once the client has authenticated; and for SASL2
  // clients, which get no stream features afterwards, as a Bind2 inline feature.
  ctx.on(xmpp::events::stream_features, 0, [](xmpp::StreamFeaturesEvent& e) {
    if (e.authenticated) e.features.append(xml::Element("csi", std::string(kNs)));
    e.offer_bind2_inline(kNs);
    return xmpp::HookResult::Pass;
  });
  ctx.on(xmpp::events::stream_element, 0, [&inactive, max_held](xmpp::StreamElementEvent& e) {
    std::string_view state = e.element.name();
    // Anything else in the namespace is refused like an unknown element.
    if (e.element.ns() != kNs || (state != "active" && state != "inactive")) return xmpp::HookResult::Pass;
    inactive.set_state(e.session, state, max_held);
    return xmpp::HookResult::Handled;
  });
  // XEP-0386 §4: <inactive/> (or <active/>) inside the bind request; there is no answer.
  ctx.on(xmpp::events::bind2_request, 0, [&inactive, max_held](xmpp::Bind2RequestEvent& e) {
    for (const xml::Element& child : e.request.children()) {
      if (child.ns() == kNs) inactive.set_state(e.session, child.name(), max_held);
    }
    return xmpp::HookResult::Pass;
  });
  ctx.on(xmpp::events::session_closed, 0, [&inactive](xmpp::SessionEvent& e) {
    inactive.forget(e.session);
    return xmpp::HookResult::Pass;
  });
}

}  // namespace

}  // namespace parley::modules::csi

namespace parley::modules {

extern const xmpp::ModuleDefinition csi_module{
    "csi", "Holds back presence and chat states for clients that say they are inactive.", {"XEP-0352"},
    csi::declare_options, csi::start};

}  // namespace parley::modules
