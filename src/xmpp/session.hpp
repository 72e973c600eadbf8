#pragma once
// What the router and modules see of a client session: its address, its
// presence state, and a way to hand it stanzas. The c2s session (and later
// WebSocket/BOSH sessions) implement it; the transport stays hidden.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "xml/element.hpp"
#include "xmpp/jid.hpp"

namespace parley::xmpp {

// Holds back stanzas on their way to a client that need not see them at
// once (XEP-0352: a phone in the pocket). A module installs it on a session,
// which owns it; the session asks it about every stanza it is handed.
class OutputGate {
 public:
  virtual ~OutputGate() = default;
  // True: the gate keeps the stanza, to give it back from release(). False:
  // the stanza goes out now, behind whatever release() gives back first.
  // `stanza` is the element `bytes` came from (its 'to' may differ), or
  // nullptr where the sender had only bytes.
  virtual bool hold(std::string_view bytes, const xml::Element* stanza) = 0;
  // What was held, oldest first; the gate is empty afterwards.
  virtual std::vector<std::string> release() = 0;
};

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
  // serializes once for all recipients; `stanza` is the element it was
  // serialized from, for the output gate (nullptr if the caller has only
  // bytes, e.g. from storage: the gate then lets it through).
  virtual void send(const xml::Element& stanza) = 0;
  virtual void send_serialized(std::string_view bytes, const xml::Element* stanza) = 0;
  virtual void close_with_stream_error(std::string_view condition, std::string_view text) = 0;

  // At most one gate per session. Replacing it (or removing it with nullptr)
  // first sends what the old gate held, in order.
  OutputGate* output_gate() const { return output_gate_.get(); }
  void set_output_gate(std::unique_ptr<OutputGate> gate) {
    std::unique_ptr<OutputGate> old = std::move(output_gate_);
    output_gate_ = std::move(gate);
    if (!old) return;
    for (const std::string& held : old->release()) send_serialized(held, nullptr);
  }

 protected:
  explicit Session(uint64_t id) : id_(id) {}
  void set_jid(Jid jid) { jid_ = std::move(jid); }

 private:
  uint64_t id_;
  Jid jid_;
  bool available_ = false;
  int priority_ = 0;
  std::optional<xml::Element> last_presence_;
  std::unique_ptr<OutputGate> output_gate_;
};

}  // namespace parley::xmpp
