#pragma once
// Small assertions shared by the conversation tests.
#include <string>
#include <string_view>

#include "xml/element.hpp"

namespace parley::test {

// The name of the first child in `ns` other than <text/>: the condition of a
// stanza error, SASL failure or stream error.
inline std::string condition_of(const xml::Element& element, std::string_view ns) {
  const xml::Element* scope = &element;
  if (const xml::Element* error = element.first_child("error")) scope = error;
  for (const xml::Element& child : scope->children()) {
    if (child.ns() == ns && child.name() != "text") return child.name();
  }
  return {};
}

inline constexpr std::string_view kStanzaErrors = "urn:ietf:params:xml:ns:xmpp-stanzas";
inline constexpr std::string_view kStreamErrors = "urn:ietf:params:xml:ns:xmpp-streams";
inline constexpr std::string_view kSasl = "urn:ietf:params:xml:ns:xmpp-sasl";

inline bool has_mechanism(const xml::Element& features, std::string_view name) {
  const xml::Element* mechanisms = features.first_child("mechanisms", kSasl);
  if (!mechanisms) return false;
  for (const xml::Element& m : mechanisms->children()) {
    if (m.text() == name) return true;
  }
  return false;
}

}  // namespace parley::test
