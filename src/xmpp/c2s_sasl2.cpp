// XEP-0388 Extensible SASL Profile (SASL2) with XEP-0386 Bind 2: the same
// mechanisms as RFC 6120 SASL (c2s_sasl.cpp) in other framing, without the
// stream restart after success, and with the resource bound inline. A
// client that uses both logs in two round trips sooner, which mobile
// clients reconnecting all day notice.
#include "core/base64.hpp"
#include "xmpp/c2s_session.hpp"
#include "xmpp/namespaces.hpp"

namespace parley::xmpp {

namespace {
// Bind2 resources are the client's tag and a random part; a long tag is cut.
constexpr size_t kMaxTagBytes = 64;
}  // namespace

xml::Element C2sSession::sasl2_feature() const {
  xml::Element authentication = offered_mechanisms(xml::Element("authentication", std::string(ns::sasl2)));
  xml::Element& inline_features = authentication.append(xml::Element("inline", std::string(ns::sasl2)));
  inline_features.append(xml::Element("bind", std::string(ns::bind2)));
  return authentication;
}

void C2sSession::handle_sasl2(const xml::Element& element) {
  if (authenticated_) {
    close_with_stream_error("policy-violation", "already authenticated");
    return;
  }
  if (sasl_busy_) {
    close_with_stream_error("policy-violation", "one SASL step at a time");
    return;
  }
  // Each SASL2 element is the legacy one with other framing (XEP-0388 §2);
  // the legacy code runs the mechanism and answers through sasl2_.
  xml::Element legacy(element.name(), std::string(ns::sasl));
  if (element.name() == "authenticate") {
    sasl2_ = Sasl2Exchange{};
    if (const xml::Element* bind = element.first_child("bind", ns::bind2)) {
      sasl2_->bind = true;
      if (const xml::Element* tag = bind->first_child("tag", ns::bind2)) sasl2_->tag = tag->text();
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
  bool bound = false;
  if (exchange.bind) {
    // XEP-0386 §4: the server picks the resource, starting with the tag.
    std::string resource = random_resource();
    if (!exchange.tag.empty() && exchange.tag.size() <= kMaxTagBytes) resource = exchange.tag + "." + resource;
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
  if (bound) success.append(xml::Element("bound", std::string(ns::bind2)));
  write_element(success);
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
