#pragma once
// One server-to-server stream (RFC 6120 §4, jabber:server), either direction:
// what both share — the connection, the stream parser, stream headers and
// errors, namespace conversion and the end of the link. OutgoingLink and
// IncomingLink add their side of the negotiation.
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "net/connection.hpp"
#include "xml/element.hpp"
#include "xml/stream_parser.hpp"

namespace parley::modules::s2s {

class Federation;

inline constexpr std::string_view kServerNs = "jabber:server";
inline constexpr std::string_view kClientNs = "jabber:client";
inline constexpr std::string_view kDialbackNs = "jabber:server:dialback";
inline constexpr std::string_view kDialbackFeatureNs = "urn:xmpp:features:dialback";
inline constexpr std::string_view kBidiNs = "urn:xmpp:bidi";                  // XEP-0288
inline constexpr std::string_view kBidiFeatureNs = "urn:xmpp:features:bidi";

// Stanzas travel between servers in jabber:server and reach clients in
// jabber:client (RFC 6120 §4.8.3); payload namespaces stay as they are.
void rename_namespace(xml::Element& element, std::string_view from, std::string_view to);

class Link : protected net::ConnectionHandler, protected xml::StreamHandler {
 public:
  Link(Federation& federation, uint64_t id, std::string local, std::string remote);
  virtual ~Link();
  Link(const Link&) = delete;
  Link& operator=(const Link&) = delete;

  uint64_t id() const { return id_; }
  const std::string& local() const { return local_; }    // our domain
  const std::string& remote() const { return remote_; }  // the peer's domain (once known)
  uint64_t last_activity() const { return last_activity_; }
  uint64_t created() const { return created_; }
  bool closed() const { return closed_; }
  virtual bool outgoing() const = 0;

  // Ends the stream politely with </stream:stream>.
  void close_stream();
  // RFC 6120 §4.9: the error, then the end of the stream.
  void close_with_stream_error(std::string_view condition, std::string_view text);
  // Flow control for the per-link rate limit.
  void pause_reading();
  void resume_reading();
  bool paused() const { return paused_; }

 protected:
  void attach(std::unique_ptr<net::Connection> connection);
  void send_stream_header(bool with_id);
  void write_element(const xml::Element& element);
  // A stanza from the router: jabber:client becomes jabber:server.
  void write_stanza(xml::Element stanza);
  // After STARTTLS and SASL success (RFC 6120 §5.4.3.3, §6.4.6).
  void restart_stream();
  // A stanza from the peer's domain: true if it may be routed; otherwise the
  // link is being closed with the stream error that says why.
  bool check_remote_stanza(const xml::Element& stanza);
  // Hands a checked stanza to the router (jabber:server becomes jabber:client).
  void deliver_remote(xml::Element&& stanza);
  void touch();
  // The link is over: tells the federation (which destroys it later).
  void finish(std::string_view reason);
  // Called once by finish(), before the federation forgets the link.
  virtual void on_finish(std::string_view reason) = 0;

  // net::ConnectionHandler
  void on_data(std::string_view plaintext) override;
  void on_closed(std::string_view reason) override;
  // xml::StreamHandler
  void on_stream_close() override;
  void on_stream_error(xml::StreamError error, std::string_view text) override;

  Federation& federation_;
  uint64_t id_;
  std::string local_;
  std::string remote_;
  std::unique_ptr<net::Connection> connection_;
  xml::StreamParser parser_;
  std::string stream_id_;  // the id of the stream we opened (incoming) or the peer opened (outgoing)
  bool header_sent_ = false;
  bool closing_ = false;
  bool closed_ = false;
  bool paused_ = false;
  uint64_t last_activity_ = 0;
  uint64_t created_ = 0;
};

}  // namespace parley::modules::s2s
