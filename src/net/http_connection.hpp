#pragma once
// One client connection of the HTTP server: framing with http-parser,
// keep-alive, pipelined requests taken one at a time, and responses whose
// file bodies are read from disk only as fast as the client takes them.
// Internal to net/http_server.cpp and net/http_connection.cpp.
#include <http_parser.h>

#include <memory>
#include <string>

#include "net/connection.hpp"
#include "net/http_server.hpp"

namespace parley::net {

class FileSender;

class HttpConnection final : public ConnectionHandler {
 public:
  HttpConnection(HttpServer& server, uint64_t id, std::unique_ptr<Connection> connection, bool tls);
  ~HttpConnection();
  void start();
  // When the connection last made progress: input, or output taken by the
  // client (a slow reader of a large download is not idle).
  uint64_t idle_since();
  // When the request head being read began (uv_now), 0 between requests. A
  // head must be complete within the idle timeout of its first byte: a
  // client trickling a byte now and then is never idle, yet makes no request.
  uint64_t head_started() const { return head_started_; }
  void abort() { connection_->abort(); }
  const std::string& remote_ip() const { return remote_ip_; }

  // For HttpExchange.
  void start_body(HttpExchange& exchange);
  void update_reading();
  void send_response(HttpExchange& exchange, HttpResponse response);
  // For FileSender.
  Connection& connection() { return *connection_; }
  void file_sent(bool ok);

 private:
  static int on_message_begin(http_parser* p);
  static int on_url(http_parser* p, const char* at, size_t length);
  static int on_header_field(http_parser* p, const char* at, size_t length);
  static int on_header_value(http_parser* p, const char* at, size_t length);
  static int on_headers_complete(http_parser* p);
  static int on_body(http_parser* p, const char* at, size_t length);
  static int on_message_complete(http_parser* p);
  static const http_parser_settings settings_;

  // ConnectionHandler
  void on_data(std::string_view bytes) override;
  void on_tls_established() override {}
  void on_closed(std::string_view reason) override;
  void on_output_drained() override;

  void feed(std::string_view bytes);
  void end_header();
  void dispatch();
  void pump();
  bool exchange_finished() const;
  void fail(int status, std::string_view text);

  HttpServer& server_;
  uint64_t id_;
  std::unique_ptr<Connection> connection_;
  bool tls_;
  std::string remote_ip_;
  http_parser parser_;
  std::shared_ptr<HttpExchange> exchange_;  // the request being read or answered
  std::shared_ptr<FileSender> file_;        // a file body being sent
  std::string url_, field_, value_;
  uint64_t header_bytes_ = 0;
  std::string stash_;  // bytes of the next request, read while one is answered
  uint64_t last_active_ = 0;
  uint64_t head_started_ = 0;
  size_t last_pending_ = 0;
  bool in_value_ = false;
  bool message_complete_ = false;
  bool response_done_ = false;
  bool keep_alive_ = true;
  bool parser_paused_ = false;
  bool failed_ = false;
  bool in_parser_ = false;  // inside http_parser_execute: no re-entry
};

}  // namespace parley::net
