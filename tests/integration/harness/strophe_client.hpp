#pragma once
// A libstrophe client (a real, independent XMPP implementation) for
// conversation tests. Each client has its own libstrophe context; waiting on
// one runs only its own event loop.
#include <strophe.h>

#include <deque>
#include <functional>
#include <optional>
#include <string>

#include "xml/element.hpp"

namespace parley::test {

class StropheClient {
 public:
  enum class Tls { StartTls, Direct };
  StropheClient(const std::string& jid, const std::string& password, uint16_t port, Tls tls = Tls::StartTls);
  ~StropheClient();
  StropheClient(const StropheClient&) = delete;
  StropheClient& operator=(const StropheClient&) = delete;

  // Connects and waits for the session; false if it failed or timed out.
  bool connect(int timeout_ms = 10000);
  bool connected() const { return connected_; }
  bool disconnected() const { return disconnected_; }
  std::string bound_jid() const;
  // Sends raw XML (a whole stanza) on the stream.
  void send(const std::string& xml);
  // Runs the loop until a stanza matching `match` arrives (consumed), or timeout.
  std::optional<xml::Element> wait_for(const std::function<bool(const xml::Element&)>& match, int timeout_ms = 5000);
  // Runs the loop for a while, collecting stanzas.
  void pump(int ms);
  // Stanzas received and not consumed yet.
  std::deque<xml::Element>& inbox() { return inbox_; }
  void disconnect();

 private:
  static int on_stanza(xmpp_conn_t* conn, xmpp_stanza_t* stanza, void* userdata);
  static void on_connection(xmpp_conn_t* conn, xmpp_conn_event_t status, int error, xmpp_stream_error_t* stream_error,
                            void* userdata);

  xmpp_ctx_t* ctx_;
  xmpp_conn_t* conn_;
  uint16_t port_;
  bool connected_ = false;
  bool disconnected_ = false;
  std::deque<xml::Element> inbox_;
};

// Parses one serialized element (as libstrophe prints it) into our tree.
std::optional<xml::Element> parse_element(const std::string& text);

}  // namespace parley::test
