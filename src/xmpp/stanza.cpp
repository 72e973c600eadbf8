#include "xmpp/stanza.hpp"

#include "xmpp/namespaces.hpp"

namespace parley::xmpp {

std::string_view error_type_name(ErrorType type) {
  switch (type) {
    case ErrorType::Auth: return "auth";
    case ErrorType::Cancel: return "cancel";
    case ErrorType::Continue: return "continue";
    case ErrorType::Modify: return "modify";
    case ErrorType::Wait: return "wait";
  }
  return "cancel";
}

std::optional<StanzaKind> stanza_kind(const xml::Element& e) {
  if (e.ns() != ns::client && e.ns() != ns::server) return std::nullopt;
  if (e.name() == "message") return StanzaKind::Message;
  if (e.name() == "presence") return StanzaKind::Presence;
  if (e.name() == "iq") return StanzaKind::Iq;
  return std::nullopt;
}

std::string_view effective_type(const xml::Element& e, StanzaKind kind) {
  std::string_view type = e.attr("type");
  if (!type.empty()) return type;
  switch (kind) {
    case StanzaKind::Message: return "normal";
    case StanzaKind::Presence: return "available";
    case StanzaKind::Iq: return type;
  }
  return type;
}

static xml::Element error_element(StanzaErrorCondition condition, std::string_view text) {
  xml::Element error("error", std::string(ns::client));
  error.set_attr("type", std::string(error_type_name(condition.type)));
  error.append(xml::Element(std::string(condition.name), std::string(ns::stanza_errors)));
  if (!text.empty()) {
    xml::Element& t = error.append(xml::Element("text", std::string(ns::stanza_errors)));
    t.set_attr("lang", "en", std::string(ns::xml));
    t.append_text(text);
  }
  return error;
}

xml::Element make_error_reply(const xml::Element& stanza, StanzaErrorCondition condition,
                              std::string_view text) {
  xml::Element reply(stanza.name(), stanza.ns());
  for (const xml::Attribute& a : stanza.attributes()) {
    if (a.ns.empty() && (a.name == "to" || a.name == "from" || a.name == "type")) continue;
    reply.set_attr(a.name, a.value, a.ns);
  }
  if (const std::string* from = stanza.find_attr("from")) reply.set_attr("to", *from);
  if (const std::string* to = stanza.find_attr("to")) reply.set_attr("from", *to);
  reply.set_attr("type", "error");
  // RFC 6120 §8.3.1: an IQ error may include the original payload; for
  // messages and presence we keep replies small and drop it.
  if (stanza.name() == "iq") {
    if (const xml::Element* payload = stanza.first_child()) reply.append(*payload);
  }
  reply.append(error_element(condition, text));
  return reply;
}

xml::Element make_iq_result(const xml::Element& request) {
  xml::Element result("iq", request.ns());
  if (const std::string* from = request.find_attr("from")) result.set_attr("to", *from);
  if (const std::string* to = request.find_attr("to")) result.set_attr("from", *to);
  result.set_attr("id", std::string(request.attr("id")));
  result.set_attr("type", "result");
  return result;
}

xml::Element make_stream_error(std::string_view condition, std::string_view text) {
  xml::Element error("error", std::string(ns::streams));
  error.append(xml::Element(std::string(condition), std::string(ns::stream_errors)));
  if (!text.empty()) {
    xml::Element& t = error.append(xml::Element("text", std::string(ns::stream_errors)));
    t.append_text(text);
  }
  return error;
}

}  // namespace parley::xmpp
