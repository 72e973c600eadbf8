#pragma once
// A link another domain opened to us (RFC 6120 as receiving entity):
// STARTTLS, then SASL EXTERNAL with the peer's certificate checked against
// the domain it claims (RFC 6125 / RFC 9525, XEP-0178); then its stanzas go
// to the router, each one checked to come from that domain. Where policy
// allows it, Server Dialback (XEP-0220) stands in for the certificate.
#include <deque>

#include "modules/s2s/link.hpp"

namespace parley::modules::s2s {

class IncomingLink final : public Link {
 public:
  IncomingLink(Federation& federation, uint64_t id, std::unique_ptr<net::Connection> connection, bool direct_tls);
  bool outgoing() const override { return false; }
  bool authenticated() const { return authenticated_; }
  const std::string& remote_ip() const { return remote_ip_; }
  void start();
  // Per-link rate limit: called once a second with the stanzas allowed per second.
  void refill(uint64_t per_second);
  // XEP-0288: our stanzas for the peer, once the link is bidirectional.
  bool send(xml::Element&& stanza);

 private:
  void on_stream_open(const xml::Element& root, std::string_view default_ns) override;
  void on_stanza(xml::Element&& element) override;
  void on_tls_established() override;
  void on_finish(std::string_view reason) override;

  void send_features();
  void handle_auth(const xml::Element& auth);
  // XEP-0220: a peer's key to check (db:result), or, as authoritative
  // server, a key to confirm (db:verify).
  void handle_dialback_result(const xml::Element& result);
  void handle_dialback_verify(const xml::Element& verify);
  void dialback_outcome(const std::string& domain, bool valid);
  void offer_bidi();
  void handle_stanza(xml::Element&& stanza);
  // XEP-0198 acknowledgements (no resumption): <enable/> once authenticated,
  // then <a h/> for each <r/>, h counting the stanzas handed to the router.
  void handle_stream_management(const xml::Element& element);
  // The domain the peer's certificate proves, if it proves `claimed`.
  bool certificate_valid_for(const std::string& claimed) const;

  bool direct_tls_;
  std::string remote_ip_;
  bool tls_ = false;
  bool authenticated_ = false;
  bool stream_open_ = false;
  std::string claimed_;  // 'from' of the peer's stream header
  bool dialback_pending_ = false;
  bool bidi_ = false;        // the peer asked for XEP-0288
  bool bidi_ready_ = false;  // and its authenticated stream is open
  // Rate limit: stanzas allowed until the next refill; stanzas over the
  // allowance wait here (at most one read's worth) while reading is paused.
  void deliver(xml::Element&& stanza);
  uint64_t tokens_ = 0;
  bool limited_ = false;
  std::deque<xml::Element> held_;
  bool sm_enabled_ = false;
  uint32_t sm_handled_ = 0;  // XEP-0198 'h', modulo 2^32
};

}  // namespace parley::modules::s2s
