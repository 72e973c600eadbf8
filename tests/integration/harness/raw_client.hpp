#pragma once
// A byte-level XMPP client for conversation tests: it sends exactly what the
// test says (including garbage) and parses what the server answers with our
// own stream parser, so tests assert on exact elements and stream errors.
#include <openssl/ssl.h>

#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "xml/element.hpp"
#include "xml/stream_parser.hpp"
#include "xmpp/sasl/mechanism.hpp"

namespace parley::test {

class RawClient : private xml::StreamHandler {
 public:
  explicit RawClient(uint16_t port, bool direct_tls = false, std::string sni = "localhost");
  // The receiving end of a connection parleyd opened (an s2s peer we play):
  // waits up to timeout_ms on `listen_fd` for it; throws if none comes.
  static std::unique_ptr<RawClient> accept_from(int listen_fd, int timeout_ms = 10000);
  ~RawClient();
  RawClient(const RawClient&) = delete;
  RawClient& operator=(const RawClient&) = delete;

  void send(std::string_view bytes);
  // Sends a stream header to `host` and returns the <stream:features/>.
  xml::Element open_stream(const std::string& host = "localhost");
  // STARTTLS: <starttls/>, expects <proceed/>, handshakes, reopens the stream.
  xml::Element starttls(const std::string& host = "localhost");
  // SASL with the given mechanism ("PLAIN", "SCRAM-SHA-256-PLUS", ...);
  // returns the final <success/> or <failure/> element. cb_type "y" sends the
  // gs2 'y' flag with a non-PLUS mechanism.
  xml::Element authenticate(const std::string& mechanism, const std::string& user, const std::string& password,
                            const std::string& cb_type = "tls-exporter");
  // After a successful authenticate: reopens the stream and binds; returns the full JID.
  std::string bind(const std::string& resource = {}, const std::string& host = "localhost");
  // starttls + SCRAM-SHA-256 + bind in one go.
  std::string login(const std::string& user, const std::string& password, const std::string& resource = {},
                    const std::string& host = "localhost");

  // For playing a server on an s2s port: streams are opened in jabber:server
  // with from='from', and TLS presents this certificate (SASL EXTERNAL).
  // Expects a new stream from the server (after a SASL exchange the test drove itself).
  void restart_stream();
  void act_as_server(const std::string& from, const std::string& cert_file, const std::string& key_file);
  // On an accepted connection: waits for parleyd's stream header (true if it
  // came), and answers with ours from `from` and these features.
  bool answer_stream(const std::string& from, const std::string& features, int timeout_ms = 5000);
  // On an accepted connection, after <proceed/>: the server side of the TLS
  // handshake, presenting this certificate.
  void accept_tls(const std::string& cert_file, const std::string& key_file);

  // The next top-level element from the server, waiting up to timeout_ms.
  std::optional<xml::Element> next(int timeout_ms = 5000);
  // Puts elements back, in order, ahead of anything not yet read.
  void unread(std::vector<xml::Element> elements);
  // The next element with this name (skipping others), or nullopt.
  std::optional<xml::Element> next_named(std::string_view name, int timeout_ms = 5000);
  // Waits until the server closes the TCP connection.
  bool wait_closed(int timeout_ms = 5000);
  bool stream_closed() const { return stream_closed_; }
  bool connection_closed() const { return connection_closed_; }
  const std::optional<xml::Element>& stream_header() const { return header_; }
  std::string tls_version() const;
  // TLS session tickets (RFC 8446 §4.6.1) the server has sent so far; the
  // newest is kept. resume_with() offers one at the next handshake.
  int tls_tickets_received() const { return tickets_received_; }
  SSL_SESSION* tls_ticket() const { return ticket_; }
  void resume_with(SSL_SESSION* ticket);
  bool tls_resumed() const;
  // Channel-binding data of the TLS layer ("tls-exporter", "tls-server-end-point").
  std::optional<std::string> channel_binding(const std::string& type) const;
  // Whether the server's certificate is valid for `host` (RFC 6125 name check).
  bool peer_certificate_matches(const std::string& host) const;
  // Stop reading from the socket (for the slow-reader test).
  int fd() const { return fd_; }

  // The stream error condition name if the server sent <stream:error/>.
  static std::string stream_error_condition(const xml::Element& error);

 private:
  void on_stream_open(const xml::Element& root, std::string_view default_ns) override;
  void on_stanza(xml::Element&& element) override;
  void on_stream_close() override;
  void on_stream_error(xml::StreamError error, std::string_view text) override;
  // Reads once, feeding the parser; false on timeout or close.
  bool read_some(int timeout_ms);
  void handshake(const char* failure);  // client TLS over fd_, resuming resume_ if set
  struct Accepted {
    int fd;
  };
  explicit RawClient(Accepted accepted);

  int fd_ = -1;
  SSL_CTX* ctx_ = nullptr;
  SSL* ssl_ = nullptr;
  SSL_SESSION* ticket_ = nullptr;  // owned: the newest ticket received
  SSL_SESSION* resume_ = nullptr;  // owned: offered at the next handshake
  int tickets_received_ = 0;
  std::string sni_;
  std::string stream_ns_ = "jabber:client";
  std::string stream_from_;
  xml::StreamParser parser_;
  std::deque<xml::Element> received_;
  std::optional<xml::Element> header_;
  bool stream_closed_ = false;
  bool connection_closed_ = false;
  int streams_answered_ = 0;  // answer_stream: ids of the streams we opened
};

}  // namespace parley::test
