#pragma once
// A client-to-server session (RFC 6120): one TCP connection, its stream
// parser, and the negotiation state machine
//   stream open -> STARTTLS -> stream open -> SASL -> stream open -> bind -> stanzas,
// or with SASL2 and Bind2 (XEP-0388, XEP-0386)
//   stream open -> STARTTLS -> stream open -> SASL2 with inline bind -> stanzas.
// Stream-level logic lives in c2s_session.cpp, SASL in c2s_sasl.cpp and c2s_sasl2.cpp.
#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <vector>
#include <variant>

#include "net/connection.hpp"
#include "xml/stream_parser.hpp"
#include "xmpp/fast_tokens.hpp"
#include "xmpp/sasl/condition.hpp"
#include "xmpp/sasl/mechanism.hpp"
#include "xmpp/sasl/scram_credential.hpp"
#include "xmpp/sasl/scram_server.hpp"
#include "xmpp/session.hpp"

namespace parley::core {
class Worker;
}

namespace parley::xmpp {

class C2sSession final : public Session, private xml::StreamHandler, private net::ConnectionHandler {
 public:
  // `direct_tls`: the listener is XEP-0368 direct TLS, so TLS starts at once.
  C2sSession(core::Worker& worker, uint64_t id, std::unique_ptr<net::Connection> connection, bool direct_tls);
  ~C2sSession() override;

  void start();
  void send(const xml::Element& stanza) override;
  void send_serialized(std::string_view bytes, const xml::Element* stanza) override;
  void close_with_stream_error(std::string_view condition, std::string_view text) override;
  // Ends the stream politely (</stream:stream>), e.g. at server shutdown.
  void close_stream();
  // Liveness (XEP-0199 §4.2): after `interval` without input the server pings
  // the client; without an answer (or any other input) within `timeout`
  // the session ends with <connection-timeout/>. Called once a second.
  void check_liveness(uint64_t now_ms, uint64_t interval_ms, uint64_t timeout_ms);
  bool closed() const { return state_ == State::Closed; }
  bool bound() const { return bound_; }
  // When an unauthenticated stream is closed (Worker::extend_negotiation).
  uint64_t negotiation_deadline() const { return negotiation_deadline_ms_; }
  void set_negotiation_deadline(uint64_t ms) { negotiation_deadline_ms_ = ms; }
  const std::string& remote_ip() const { return remote_ip_; }

 private:
  enum class State { AwaitStream, Negotiating, Closing, Closed };

  // xml::StreamHandler
  void on_stream_open(const xml::Element& root, std::string_view default_ns) override;
  void on_stanza(xml::Element&& element) override;
  void on_stream_close() override;
  void on_stream_error(xml::StreamError error, std::string_view text) override;
  // net::ConnectionHandler
  void on_data(std::string_view plaintext) override;
  void on_tls_established() override;
  void on_closed(std::string_view reason) override;

  void send_stream_header(std::string_view to_host);
  void restart_stream();
  void send_features();
  void handle_starttls(const xml::Element& element);
  void handle_bind(const xml::Element& iq);
  void handle_session_iq(const xml::Element& iq);
  void handle_stanza(xml::Element&& element);
  // Offers a pre-authentication IQ to modules; true if one handled it.
  bool offer_unauthenticated_iq(const xml::Element& element);
  // Offers a bound stream's non-stanza element to modules; true if one handled it.
  bool offer_stream_element(const xml::Element& element);
  // True if `iq` answers our liveness ping (then it is consumed).
  bool answers_ping(const xml::Element& iq);
  void write_element(const xml::Element& element);
  // A stanza the session itself answers with (counted by stream management).
  void write_stanza(const xml::Element& stanza);
  // Writes a stanza past the output gate; false when that made the session
  // drop its client.
  bool write_out(std::string_view bytes);
  void finish(std::string_view reason);
  // Unbinds and tells modules (session/closed); idempotent.
  void leave_routing();

  // SASL (c2s_sasl.cpp)
  // Closes the stream (policy-violation) if no SASL step may come now.
  bool sasl_step_allowed();
  void handle_sasl(const xml::Element& element);
  void sasl_auth(const xml::Element& auth);
  void sasl_scram_first(std::string_view message);
  void sasl_scram_final(std::string_view message);
  void sasl_plain(std::string_view message);
  void sasl_success(std::string_view username, std::string_view additional_data);
  void sasl_failure(sasl::SaslCondition condition, std::string_view text = {});
  void sasl_failed_attempt(std::string_view username, std::string_view text = {});
  // Answers temporary-auth-failure and returns true while `username` or this
  // address is throttled after failed attempts.
  bool sasl_throttled(std::string_view username);
  void sasl_challenge(std::string_view data);
  // XEP-0388 SASL2 with XEP-0386 Bind2 (c2s_sasl2.cpp): the same mechanisms,
  // other framing, no stream restart, and the resource bound inline.
  void handle_sasl2(const xml::Element& element);
  void sasl2_success(std::string_view additional_data);
  void sasl2_failure(sasl::SaslCondition condition, std::string_view text);
  xml::Element mechanisms_feature() const;
  // The mechanisms on offer, appended as <mechanism/> in the container's namespace.
  xml::Element offered_mechanisms(xml::Element mechanisms) const;
  xml::Element sasl2_feature() const;
  // Binds `resource` (a random one if empty); empty string on success, else
  // the condition refusing it (RFC 6120 §7.6.2).
  std::string bind_resource(std::string resource);
  static std::string random_resource();
  void announce_bound();
  std::optional<std::string> channel_binding(std::string_view type) const;
  bool offers_channel_binding(std::string_view type) const;  // without deriving the data

  core::Worker& worker_;
  std::unique_ptr<net::Connection> connection_;
  xml::StreamParser parser_;
  State state_ = State::AwaitStream;
  bool direct_tls_;
  bool tls_ = false;
  bool authenticated_ = false;
  bool bound_ = false;
  bool header_sent_ = false;  // for the current stream
  std::string host_;        // the served domain the client asked for in 'to'
  std::string username_;    // after SASL success
  std::string remote_ip_;
  int sasl_failures_ = 0;
  uint64_t last_input_ms_ = 0;
  uint64_t negotiation_deadline_ms_ = 0;
  std::string ping_id_;  // the server ping awaiting an answer, if any
  uint64_t ping_sent_ms_ = 0;

  // An exchange in progress: SCRAM waits for the client-final message.
  struct ScramExchange {
    sasl::ScramHash hash;
    bool plus = false;
    bool offers_plus = false;
    std::unique_ptr<sasl::ScramServer> server;  // set once client-first arrived
    std::string username;
  };
  std::optional<ScramExchange> scram_;
  // Set while a SASL2 <authenticate/> is under way.
  struct Sasl2Exchange {
    std::optional<xml::Element> bind;  // the Bind2 request (XEP-0386), if the client made one
    std::string agent_id;    // <user-agent id/> (XEP-0388 §2.3), which FAST tokens belong to
    std::string token_mechanism;  // a FAST token to hand out on success, for this HT mechanism
    bool revoke_token = false;    // <fast invalidate='true'/> (XEP-0484 §8)
  };
  std::optional<Sasl2Exchange> sasl2_;
  void finish_sasl2_success(const Sasl2Exchange& exchange, std::string_view additional_data,
                            const FastToken* token);
  // XEP-0484 FAST inside SASL2 (c2s_fast.cpp): the HT mechanisms this
  // stream can offer, and a login with a token.
  std::vector<std::string_view> fast_mechanisms() const;
  void sasl_fast(const xml::Element& authenticate);
  bool sasl_busy_ = false;  // a database or PBKDF2 step is under way

  // XEP-0198 stream management, acknowledgements without resumption
  // (c2s_stream_management.cpp): what the client has not acknowledged is
  // routed again when the session ends, instead of being lost with it.
  struct StreamManagement {
    uint32_t handled = 0;            // stanzas received since <enable/>: the h we report
    uint32_t acknowledged = 0;       // the client's last h
    std::deque<std::string> unacked;  // stanzas sent and not yet acknowledged, oldest first
    size_t unacked_bytes = 0;
    size_t max_unacked = 0;
    bool ack_requested = false;      // an <r/> is out
    uint64_t requested_ms = 0;       // since when
  };
  std::optional<StreamManagement> sm_;
  bool offers_stream_management() const;
  void handle_stream_management(const xml::Element& element);
  // Enables it (after bind, or inline in Bind2); the <enabled/> to send, or
  // the <failed/> when it cannot be.
  xml::Element enable_stream_management();
  // Keeps a stanza just written until it is acknowledged; false when that
  // made the session drop its client.
  bool sm_count_sent(std::string_view stanza);
  void sm_request_ack();
  // From check_liveness: past c2s.sm_max_unacked, an ack request that stays
  // unanswered for the ping timeout ends the session.
  bool sm_overdue(uint64_t now_ms, uint64_t timeout_ms) const;
  void sm_acknowledge(const xml::Element& a);
  void sm_route_unacked();
};

}  // namespace parley::xmpp
