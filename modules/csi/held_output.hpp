#pragma once
// What an inactive client (XEP-0352) is not sent at once, and what makes the
// held stanzas go out after all.
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "xml/element.hpp"
#include "xmpp/session.hpp"

namespace parley::modules::csi {

// The key under which `stanza` may wait: presence (available or
// unavailable), and messages that carry nothing but a chat state (XEP-0085),
// also when they come as a carbon copy (XEP-0280). A newer stanza with the
// same key makes the older one pointless. Anything else must go now.
std::optional<std::string> waiting_key(const xml::Element& stanza);

// The output gate of an inactive client. Presence and chat states wait, a
// newer one replacing the one with its key; the first stanza that must go
// now (a message with a body, an IQ, a subscription request) takes them all
// along, in order, so the client reads the conversation as it happened. So
// does one stanza more than `max_held`.
class HeldOutput final : public xmpp::OutputGate {
 public:
  explicit HeldOutput(size_t max_held) : max_held_(max_held) {}
  bool hold(std::string_view bytes, const xml::Element* stanza) override;
  std::vector<std::string> release() override;
  size_t size() const { return held_.size(); }

 private:
  struct Held {
    std::string key;
    std::string bytes;
  };
  std::vector<Held> held_;
  size_t max_held_;
};

}  // namespace parley::modules::csi
