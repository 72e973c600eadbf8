#pragma once
// What the router and modules see of a client session: its address, its
// presence state, and a way to hand it stanzas. The c2s session (and later
// WebSocket/BOSH sessions) implement it; the transport stays hidden.
#include <cstdint>
#include <optional>
#include <string_view>

#include "xml/element.hpp"
#include "xmpp/jid.hpp"

namespace parley::xmpp {

class Session {
 public:
  virtual ~Session() = default;

  uint64_t id() const { return id_; }
  // The bound full JID; empty before resource binding.
  const Jid& jid() const { return jid_; }

  // RFC 6121 §4.7.2.3, §8.5: availability and priority decide delivery to the
  // bare JID. Updated by the router from the session's undirected presence.
  bool available() const { return available_; }
  int priority() const { return priority_; }
  const std::optional<xml::Element>& last_presence() const { return last_presence_; }
  void set_presence(const xml::Element& presence, bool available, int priority) {
    last_presence_ = presence;
    available_ = available;
    priority_ = priority;
  }

  // Queues a stanza for this client. send_serialized takes a stanza already
  // serialized with jabber:client as inherited namespace, so fan-out
  // serializes once for all recipients.
  virtual void send(const xml::Element& stanza) = 0;
  virtual void send_serialized(std::string_view bytes) = 0;
  virtual void close_with_stream_error(std::string_view condition, std::string_view text) = 0;

 protected:
  explicit Session(uint64_t id) : id_(id) {}
  void set_jid(Jid jid) { jid_ = std::move(jid); }

 private:
  uint64_t id_;
  Jid jid_;
  bool available_ = false;
  int priority_ = 0;
  std::optional<xml::Element> last_presence_;
};

}  // namespace parley::xmpp
