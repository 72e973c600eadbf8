// XEP-0388 Extensible SASL Profile (SASL2) with XEP-0386 Bind 2: the same
// mechanisms as RFC 6120 SASL (c2s_sasl.cpp) in other framing, without the
// stream restart after success, and with the resource bound inline. A
// client that uses both logs in two round trips sooner, which mobile
// clients reconnecting all day notice.
#include <algorithm>
#include <ctime>

#include "core/base64.hpp"
#include "core/config.hpp"
#include "core/datetime.hpp"
#include "core/worker.hpp"
#include "xmpp/accounts.hpp"
#include "xmpp/c2s_session.hpp"
#include "xmpp/namespaces.hpp"

namespace parley::xmpp {

namespace {
// Bind2 resources are the client's tag and a random part; a long tag is cut.
constexpr size_t kMaxTagBytes = 64;
// FAST tokens are stored per client id, so ids are kept short.
constexpr size_t kMaxAgentIdBytes = 128;
}  // namespace

xml::Element C2sSession::sasl2_feature() const {
  xml::Element authentication = offered_mechanisms(xml::Element("authentication", std::string(ns::sasl2)));
  xml::Element& inline_features = authentication.append(xml::Element("inline", std::string(ns::sasl2)));
  inline_features.append(xml::Element("bind", std::string(ns::bind2)));
  std::vector<std::string_view> fast = fast_mechanisms();
  if (!fast.empty()) {
    xml::Element& offer = inline_features.append(xml::Element("fast", std::string(ns::fast)));
    for (std::string_view name : fast) offer.append(xml::Element("mechanism", std::string(ns::fast))).append_text(name);
  }
  return authentication;
}

void C2sSession::handle_sasl2(const xml::Element& element) {
  if (!sasl_step_allowed()) return;
  // Each SASL2 element is the legacy one with other framing (XEP-0388 §2);
  // the legacy code runs the mechanism and answers through sasl2_.
  xml::Element legacy(element.name(), std::string(ns::sasl));
  if (element.name() == "authenticate") {
    sasl2_ = Sasl2Exchange{};
    if (const xml::Element* bind = element.first_child("bind", ns::bind2)) sasl2_->bind = *bind;
    if (const xml::Element* agent = element.first_child("user-agent", ns::sasl2)) {
      // XEP-0388 §2.3 asks for a UUID; a longer id gets no FAST token.
      if (agent->attr("id").size() <= kMaxAgentIdBytes) sasl2_->agent_id = std::string(agent->attr("id"));
    }
    if (const xml::Element* request = element.first_child("request-token", ns::fast)) {
      // XEP-0484 §4: only for a mechanism on offer; anything else gets no token.
      std::vector<std::string_view> offered = fast_mechanisms();
      std::string_view wanted = request->attr("mechanism");
      if (std::find(offered.begin(), offered.end(), wanted) != offered.end()) sasl2_->token_mechanism = wanted;
    }
    if (const xml::Element* fast = element.first_child("fast", ns::fast)) {
      std::string_view invalidate = fast->attr("invalidate");
      sasl2_->revoke_token = invalidate == "true" || invalidate == "1";
    }
    if (find_ht_mechanism(element.attr("mechanism"))) {
      sasl_fast(element);
      return;
    }
    legacy = xml::Element("auth", std::string(ns::sasl));
    legacy.set_attr("mechanism", std::string(element.attr("mechanism")));
    if (const xml::Element* initial = element.first_child("initial-response", ns::sasl2)) {
      std::string text = initial->text();
      legacy.append_text(text.empty() ? "=" : text);  // RFC 6120 §6.4.2's empty response
    }
  } else if (!sasl2_) {
    sasl2_ = Sasl2Exchange{};  // so that the failure is framed as SASL2
    sasl_failure(sasl::SaslCondition::MalformedRequest, "authenticate first");
    return;
  } else {
    legacy.append_text(element.text());
  }
  handle_sasl(legacy);
}

void C2sSession::sasl2_success(std::string_view additional_data) {
  Sasl2Exchange exchange = std::move(*sasl2_);
  sasl2_.reset();
  if (exchange.token_mechanism.empty() || exchange.agent_id.empty()) {
    finish_sasl2_success(exchange, additional_data, nullptr);
    return;
  }
  // XEP-0484 §5: the token is stored before the client learns it.
  int64_t lifetime_s = worker_.config().get_duration("auth.fast_token_lifetime", host_).count() / 1000;
  core::Worker& worker = worker_;
  uint64_t session_id = id();
  sasl_busy_ = true;
  worker_.accounts().fast_tokens().issue(
      host_, username_, exchange.agent_id, exchange.token_mechanism, std::time(nullptr) + lifetime_s,
      [&worker, session_id, exchange, data = std::string(additional_data)](std::optional<FastToken> token) {
        C2sSession* self = worker.find_c2s(session_id);
        if (!self) return;
        self->sasl_busy_ = false;
        // Without a stored token the login still succeeds; the client keeps using its password.
        self->finish_sasl2_success(exchange, data, token ? &*token : nullptr);
      });
}

void C2sSession::finish_sasl2_success(const Sasl2Exchange& exchange, std::string_view additional_data,
                                      const FastToken* token) {
  bool bound = false;
  if (exchange.bind) {
    // XEP-0386 §4: the server picks the resource, starting with the tag.
    std::string resource = random_resource();
    const xml::Element* tag_element = exchange.bind->first_child("tag", ns::bind2);
    std::string tag = tag_element ? tag_element->text() : std::string();
    if (!tag.empty() && tag.size() <= kMaxTagBytes) resource = tag + "." + resource;
    std::string refused = bind_resource(resource);
    if (refused == "bad-request") refused = bind_resource({});  // a tag resourceprep refuses
    bound = refused.empty();
  }
  xml::Element success("success", std::string(ns::sasl2));
  if (!additional_data.empty()) {
    success.append(xml::Element("additional-data", std::string(ns::sasl2)))
        .append_text(core::base64_encode(additional_data));
  }
  success.append(xml::Element("authorization-identifier", std::string(ns::sasl2)))
      .append_text(bound ? jid().str() : username_ + "@" + host_);
  if (bound) {
    xml::Element& bound_element = success.append(xml::Element("bound", std::string(ns::bind2)));
    // XEP-0386 §4: the answers to inline feature requests go inside <bound/>.
    if (exchange.bind->first_child("enable", ns::sm)) bound_element.append(enable_stream_management());
    if (HostContext* host = worker_.find_host(host_)) {
      Bind2RequestEvent event{*this, *host, *exchange.bind, bound_element};
      host->hooks().fire(events::bind2_request, event);
    }
  }
  if (token) {
    xml::Element& issued = success.append(xml::Element("token", std::string(ns::fast)));
    issued.set_attr("expiry", core::xep0082_datetime(static_cast<std::time_t>(token->expires_at)));
    issued.set_attr("token", token->secret);
  }
  write_element(success);
  connection_->issue_tls_ticket();  // resumption only for clients that logged in
  // XEP-0388 §2.6: no stream restart; stanzas may follow at once.
  if (bound) announce_bound();
}

void C2sSession::sasl2_failure(sasl::SaslCondition condition, std::string_view text) {
  sasl2_.reset();
  xml::Element failure("failure", std::string(ns::sasl2));
  failure.append(xml::Element(std::string(sasl::sasl_condition_name(condition)), std::string(ns::sasl)));
  if (!text.empty()) failure.append(xml::Element("text", std::string(ns::sasl2))).append_text(text);
  write_element(failure);
}

}  // namespace parley::xmpp
