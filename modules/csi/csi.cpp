// XEP-0352: Client State Indication. A client that tells the server it is
// inactive (a phone in the pocket) is not woken for presence changes and
// typing notifications; they wait, and go out with the next stanza that
// matters or when the client is active again. Pushing fewer stanzas to
// mobile clients saves their batteries and radio time.
#include <memory>

#include "core/option.hpp"
#include "modules/csi/held_output.hpp"
#include "xmpp/module_api.hpp"

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

void set_state(xmpp::Session& session, std::string_view state, size_t max_held) {
  if (state == "inactive" && !is_inactive(session)) {
    session.set_output_gate(std::make_unique<HeldOutput>(max_held));
  } else if (state == "active" && is_inactive(session)) {
    session.set_output_gate(nullptr);  // sends what was held
  }
}

void start(xmpp::ModuleContext& ctx) {
  auto max_held = static_cast<size_t>(ctx.option_int("max_held"));
  // XEP-0352 §5: offered once the client has authenticated; and for SASL2
  // clients, which get no stream features afterwards, as a Bind2 inline feature.
  ctx.on(xmpp::events::stream_features, 0, [](xmpp::StreamFeaturesEvent& e) {
    if (e.authenticated) e.features.append(xml::Element("csi", std::string(kNs)));
    e.offer_bind2_inline(kNs);
    return xmpp::HookResult::Pass;
  });
  ctx.on(xmpp::events::stream_element, 0, [max_held](xmpp::StreamElementEvent& e) {
    std::string_view state = e.element.name();
    // Anything else in the namespace is refused like an unknown element.
    if (e.element.ns() != kNs || (state != "active" && state != "inactive")) return xmpp::HookResult::Pass;
    set_state(e.session, state, max_held);
    return xmpp::HookResult::Handled;
  });
  // XEP-0386 §4: <inactive/> (or <active/>) inside the bind request; there is no answer.
  ctx.on(xmpp::events::bind2_request, 0, [max_held](xmpp::Bind2RequestEvent& e) {
    for (const xml::Element& child : e.request.children()) {
      if (child.ns() == kNs) set_state(e.session, child.name(), max_held);
    }
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
