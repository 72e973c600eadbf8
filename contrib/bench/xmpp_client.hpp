// One XMPP client connection for the load generator: TCP on a libuv loop,
// STARTTLS through OpenSSL memory BIOs, SASL (SCRAM without channel binding,
// or PLAIN inside TLS), resource binding, optional initial presence.
// It scans for stanza ends and looks only at what negotiation needs.
#pragma once

#include <openssl/ssl.h>
#include <sys/socket.h>
#include <uv.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "scram_client.hpp"
#include "stanza_scanner.hpp"

namespace parley::bench {

// What every client of one run shares: the loop, the TLS context, the
// server address, the PBKDF2 cache and a read buffer (libuv pairs each
// alloc with its read on the loop thread, so one buffer serves all).
// loop->data must point at this context.
struct ClientContext {
  uv_loop_t* loop = nullptr;
  std::size_t open_sockets = 0;  // sockets not yet fully closed
  SSL_CTX* tls = nullptr;  // owned by the caller
  sockaddr_storage server{};
  std::string domain;
  std::string mechanism = "SCRAM-SHA-1";  // or SCRAM-SHA-256, SCRAM-SHA-512, PLAIN
  // XEP-0388 SASL2 with XEP-0386 Bind2 when the server offers both, as
  // current mobile clients do; otherwise RFC 6120 SASL, restart and bind.
  bool sasl2 = true;
  // RFC 8446 §2.2: resume with the newest ticket the server issued, as a
  // returning client's TLS stack does; false makes every handshake full.
  bool tls_resume = false;
  // XEP-0368: TLS from the first byte (the port is a direct TLS port), as
  // clients do where the domain publishes _xmpps-client SRV records; saves
  // the plaintext stream and the STARTTLS exchange.
  bool direct_tls = false;
  SSL_SESSION* resumable = nullptr;  // owned; the newest ticket received
  // XEP-0484 FAST where the server offers HT-SHA-256-NONE, as Conversations
  // does: the first SASL2 login asks for a token, later ones use it (one
  // round trip, no SCRAM).
  bool fast = false;
  std::map<std::string, std::string> fast_tokens;  // username -> token
  SaltedPasswordCache salted_passwords;
  char read_buffer[64 * 1024];
};

// Creates the client TLS context used by all connections: TLS 1.2+, no
// certificate verification (bench servers use self-signed certificates).
// Tickets the server sends are kept in the ClientContext found through the
// SSL's loop (see tls_resume).
SSL_CTX* make_client_tls_context();

// Parses an IP literal and port into ctx.server; false if invalid.
bool set_server_address(ClientContext& ctx, const std::string& ip, uint16_t port);

class Client;

// Callbacks from a client. They must not destroy the client; scenarios keep
// their clients until the round ends.
class ClientListener {
 public:
  virtual ~ClientListener() = default;
  virtual void on_ready(Client& client) = 0;
  // A stanza received after the client became ready (raw XML text).
  virtual void on_stanza(Client& client, std::string_view stanza) = 0;
  // The connection ended other than by finish()/abort(): negotiation failed,
  // the server closed, a stream error or a socket error.
  virtual void on_closed(Client& client, std::string_view reason) = 0;
};

class Client {
 public:
  enum class State { idle, connecting, features, starttls, tls_handshake, sasl, bind, ready, closed, failed };

  Client(ClientContext& ctx, ClientListener& listener, std::string username, std::string password,
         std::string resource, bool send_presence, std::size_t index);
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // Connects and negotiates; on_ready once bound (and presence sent).
  void start();
  // Sends raw XML on the established stream (ignored unless ready).
  void send(std::string_view xml);
  // Ends the stream politely: </stream:stream>, then shuts the socket down.
  void finish();
  // Closes the socket at once.
  void abort();

  State state() const { return state_; }
  std::size_t index() const { return index_; }
  const std::string& jid() const { return jid_; }            // full JID after bind
  const std::string& error() const { return error_; }        // why it failed
  uint64_t started_ns() const { return started_ns_; }        // uv_hrtime() at start()
  uint64_t ready_ns() const { return ready_ns_; }            // uv_hrtime() when ready
  bool resumed_tls() const { return resumed_tls_; }
  // Whether this login used SASL2 + Bind2 (for the report).
  bool used_sasl2() const { return sasl2_; }
  bool used_fast() const { return used_fast_; }
  uint64_t bytes_received() const { return bytes_received_; }

 private:
  static void on_connect(uv_connect_t* req, int status);
  static void on_alloc(uv_handle_t* handle, size_t suggested, uv_buf_t* buf);
  static void on_read(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf);

  void received(const char* data, std::size_t size);
  void process_stanzas();
  void handle(StanzaScanner::Event event, std::string_view text);
  void handle_features(std::string_view stanza);
  void handle_sasl(std::string_view stanza);
  void handle_bind(std::string_view stanza);
  void become_ready(std::string jid);
  void begin_tls();
  void continue_handshake();
  void open_stream();
  void send_plain(std::string_view bytes);  // before TLS, or TLS records
  void write_socket(std::string bytes);
  void flush_tls();
  void fail(std::string reason);
  void close_socket();

  ClientContext& ctx_;
  ClientListener& listener_;
  std::string username_;
  std::string password_;
  std::string resource_;
  bool send_presence_;
  std::size_t index_;

  State state_ = State::idle;
  uv_tcp_t* tcp_ = nullptr;  // freed in its close callback
  std::unique_ptr<SSL, decltype(&SSL_free)> ssl_{nullptr, &SSL_free};
  BIO* tls_in_ = nullptr;   // owned by ssl_
  BIO* tls_out_ = nullptr;  // owned by ssl_
  StanzaScanner scanner_;
  std::unique_ptr<ScramClient> scram_;
  bool authenticated_ = false;
  bool sasl2_ = false;  // this login uses SASL2 + Bind2
  bool used_fast_ = false;       // this login authenticated with a FAST token
  std::string fast_responder_;   // the HT proof the server must send back
  std::string jid_;
  std::string error_;
  uint64_t started_ns_ = 0;
  uint64_t ready_ns_ = 0;
  bool resumed_tls_ = false;
  uint64_t bytes_received_ = 0;
};

}  // namespace parley::bench
