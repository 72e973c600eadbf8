#include "modules/csi/held_output.hpp"

#include <algorithm>

#include "xmpp/namespaces.hpp"

namespace parley::modules::csi {

namespace {

constexpr std::string_view kChatStatesNs = "http://jabber.org/protocol/chatstates";  // XEP-0085
constexpr std::string_view kHintsNs = "urn:xmpp:hints";                             // XEP-0334
constexpr std::string_view kCarbonsNs = "urn:xmpp:carbons:2";                       // XEP-0280
constexpr std::string_view kForwardNs = "urn:xmpp:forward:0";                       // XEP-0297

// A message whose children are a chat state and, at most, a thread and
// processing hints: nothing the user reads.
bool only_chat_state(const xml::Element& message) {
  bool state = false;
  for (const xml::Element& child : message.children()) {
    if (child.ns() == kChatStatesNs) {
      state = true;
    } else if (!(child.ns() == kHintsNs || (child.name() == "thread" && child.ns() == xmpp::ns::client))) {
      return false;
    }
  }
  return state;
}

// The message a carbon copy carries, or nullptr if `message` is no carbon.
const xml::Element* carried_message(const xml::Element& message) {
  const xml::Element* wrapper = message.first_child("received", kCarbonsNs);
  if (!wrapper) wrapper = message.first_child("sent", kCarbonsNs);
  if (!wrapper) return nullptr;
  const xml::Element* forwarded = wrapper->first_child("forwarded", kForwardNs);
  return forwarded ? forwarded->first_child("message", xmpp::ns::client) : nullptr;
}

}  // namespace

std::optional<std::string> waiting_key(const xml::Element& stanza) {
  std::string_view type = stanza.attr("type");
  if (stanza.name() == "presence") {
    if (!type.empty() && type != "unavailable") return std::nullopt;  // subscriptions, errors
    return "presence " + std::string(stanza.attr("from"));
  }
  if (stanza.name() != "message" || type == "error") return std::nullopt;
  const xml::Element* message = &stanza;
  if (const xml::Element* carried = carried_message(stanza)) message = carried;
  if (!only_chat_state(*message)) return std::nullopt;
  // One conversation's latest state; a carbon copy is another conversation
  // than the message to this resource.
  return "chat state " + std::string(message->attr("from")) + " " + std::string(message->attr("to")) +
         (message == &stanza ? "" : " carbon");
}

bool HeldOutput::hold(std::string_view bytes, const xml::Element* stanza) {
  std::optional<std::string> key = stanza ? waiting_key(*stanza) : std::nullopt;
  if (!key) return false;
  auto older = std::find_if(held_.begin(), held_.end(), [&](const Held& h) { return h.key == *key; });
  if (older != held_.end()) {
    held_.erase(older);
  } else if (held_.size() >= max_held_) {
    return false;
  }
  held_.push_back(Held{std::move(*key), std::string(bytes)});
  return true;
}

std::vector<std::string> HeldOutput::release() {
  std::vector<std::string> out;
  out.reserve(held_.size());
  for (Held& h : held_) out.push_back(std::move(h.bytes));
  held_.clear();
  return out;
}

}  // namespace parley::modules::csi
