#pragma once
// Our side of a link we open to another domain (RFC 6120 as initiating
// entity): connect, STARTTLS, authenticate with SASL EXTERNAL (XEP-0178),
// then send the stanzas queued meanwhile. Until it is ready, stanzas wait in a
// bounded queue; if it fails they go back to their senders as errors.
#include <deque>
#include <functional>
#include <vector>

#include "modules/s2s/federation.hpp"
#include "modules/s2s/link.hpp"
#include "xmpp/stanza.hpp"

namespace parley::modules::s2s {

class OutgoingLink final : public Link {
 public:
  OutgoingLink(Federation& federation, uint64_t id, std::string local, std::string remote);
  bool outgoing() const override { return true; }
  bool ready() const { return state_ == State::Ready; }

  // Starts connecting, trying `endpoints` in order until one answers.
  void connect(std::vector<Endpoint> endpoints);
  // Sends now if ready; else queues. False if the queue is full.
  bool send(xml::Element&& stanza);
  // As receiving server in XEP-0220: asks this peer (the authoritative
  // server) whether `key` is valid for `stream_id`; sent once TLS is up.
  void request_verify(std::string stream_id, std::string key, std::function<void(bool valid)> done);
  // Gives up (connection timeout, resolution failure): the queue bounces
  // with `condition` and the link closes.
  void fail(xmpp::StanzaErrorCondition condition, std::string_view text);

 private:
  enum class State { Connecting, AwaitFeatures, AwaitProceed, AwaitSasl, AwaitDialback, Ready };
  struct Verify {
    std::string stream_id;
    std::string key;
    std::function<void(bool)> done;
    bool sent = false;
  };

  void on_stream_open(const xml::Element& root, std::string_view default_ns) override;
  void on_stanza(xml::Element&& element) override;
  void on_tls_established() override;
  void on_finish(std::string_view reason) override;

  void try_next_endpoint();
  void on_features(const xml::Element& features);
  void on_dialback(const xml::Element& element);
  void send_verifies();
  void become_ready();
  // Writes a stanza; with XEP-0198 on, keeps a copy until the peer acknowledges it.
  void transmit(xml::Element&& stanza);
  void handle_stream_management(const xml::Element& element);

  State state_ = State::Connecting;
  bool tls_ = false;
  bool authenticated_ = false;
  std::deque<xml::Element> queue_;
  std::deque<Endpoint> endpoints_;
  std::vector<Verify> verifies_;
  bool can_verify_ = false;  // TLS is up and the peer sent its features
  bool bidi_ = false;        // we asked for XEP-0288: the peer may send on this link
  // XEP-0198 acknowledgements (no resumption), when the peer offers them:
  // stanzas written since <enable/> wait in unacked_ until an <a h/> covers
  // them; if the link ends first they go back to their senders as errors.
  bool peer_offers_sm_ = false;
  bool sm_enabled_ = false;
  bool ack_requested_ = false;  // an <r/> is out
  uint32_t sm_acked_ = 0;       // the peer's last 'h'
  std::deque<xml::Element> unacked_;
  // Why the link failed, for the stanzas still queued.
  xmpp::StanzaErrorCondition failure_ = xmpp::errors::remote_server_not_found;
  std::string failure_text_;
};

}  // namespace parley::modules::s2s
