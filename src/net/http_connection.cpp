#include "net/http_connection.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <ctime>

#include "net/net_loop.hpp"

namespace parley::net {

namespace {
// RFC 9110 §6.6.1: an origin server with a clock sends Date (IMF-fixdate).
std::string http_date() {
  std::time_t now = std::time(nullptr);
  std::tm utc{};
  gmtime_r(&now, &utc);
  char buffer[40];
  std::strftime(buffer, sizeof buffer, "%a, %d %b %Y %H:%M:%S GMT", &utc);
  return buffer;
}
}  // namespace

// Streams a byte range of an open file into a connection: one read ahead,
// the next read only once the client has taken what was written, so memory
// per download stays at two chunks whatever the file size.
class FileSender : public std::enable_shared_from_this<FileSender> {
 public:
  static constexpr size_t kChunk = 256 * 1024;
  static constexpr size_t kLowWater = 512 * 1024;

  FileSender(uv_loop_t* loop, HttpConnection* owner, int fd, uint64_t offset, uint64_t length)
      : loop_(loop), owner_(owner), fd_(fd), offset_(offset), remaining_(length) {}
  ~FileSender() { ::close(fd_); }
  void detach() { owner_ = nullptr; }

  void start() {
    if (remaining_ == 0) {
      owner_->file_sent(true);
      return;
    }
    read_next();
  }
  void on_drained() {
    auto self = shared_from_this();
    if (!ready_.empty()) write_ready();
  }

 private:
  struct ReadRequest {
    uv_fs_t request;
    std::shared_ptr<FileSender> sender;
    std::string buffer;
  };

  void read_next() {
    if (reading_ || remaining_ == 0 || !ready_.empty()) return;
    auto* r = new ReadRequest{{}, shared_from_this(), std::string(std::min<uint64_t>(kChunk, remaining_), '\0')};
    r->request.data = r;
    uv_buf_t buf = uv_buf_init(r->buffer.data(), static_cast<unsigned>(r->buffer.size()));
    reading_ = true;
    int rc = uv_fs_read(loop_, &r->request, fd_, &buf, 1, static_cast<int64_t>(offset_), on_read);
    if (rc < 0) {
      reading_ = false;
      delete r;
      if (owner_) owner_->file_sent(false);
    }
  }

  static void on_read(uv_fs_t* request) {
    std::unique_ptr<ReadRequest> r(static_cast<ReadRequest*>(request->data));
    ssize_t result = request->result;
    uv_fs_req_cleanup(request);
    FileSender& self = *r->sender;
    self.reading_ = false;
    if (!self.owner_) return;
    if (result <= 0) {
      self.owner_->file_sent(false);  // the file shrank or went away under us
      return;
    }
    r->buffer.resize(static_cast<size_t>(result));
    self.offset_ += static_cast<uint64_t>(result);
    self.remaining_ -= static_cast<uint64_t>(result);
    self.ready_ = std::move(r->buffer);
    if (self.owner_->connection().pending_output_bytes() < kLowWater) self.write_ready();
  }

  void write_ready() {
    if (!owner_) return;
    owner_->connection().write(ready_);
    ready_.clear();
    if (remaining_ == 0) {
      owner_->file_sent(true);
      return;
    }
    read_next();
  }

  uv_loop_t* loop_;
  HttpConnection* owner_;
  int fd_;
  uint64_t offset_;
  uint64_t remaining_;  // still to be read from the file
  std::string ready_;   // read, not yet written
  bool reading_ = false;
};

const http_parser_settings HttpConnection::settings_ = [] {
  http_parser_settings s{};
  s.on_message_begin = on_message_begin;
  s.on_url = on_url;
  s.on_header_field = on_header_field;
  s.on_header_value = on_header_value;
  s.on_headers_complete = on_headers_complete;
  s.on_body = on_body;
  s.on_message_complete = on_message_complete;
  return s;
}();

HttpConnection::HttpConnection(HttpServer& server, uint64_t id, std::unique_ptr<Connection> connection, bool tls)
    : server_(server), id_(id), connection_(std::move(connection)), tls_(tls), remote_ip_(connection_->remote_ip()) {
  http_parser_init(&parser_, HTTP_REQUEST);
  parser_.data = this;
  last_active_ = uv_now(server_.net_.loop());
}

HttpConnection::~HttpConnection() {
  if (file_) file_->detach();
  if (exchange_) {
    exchange_->connection_ = nullptr;
    if (!exchange_->responded_ && exchange_->aborted_) exchange_->aborted_();
  }
}

uint64_t HttpConnection::idle_since() {
  size_t pending = connection_->pending_output_bytes();
  if (pending != last_pending_) {
    last_pending_ = pending;
    last_active_ = uv_now(server_.net_.loop());
  }
  return last_active_;
}

void HttpConnection::start() {
  if (tls_) connection_->start_tls(server_.tls_());
  connection_->start(*this);
}

void HttpConnection::on_data(std::string_view bytes) {
  last_active_ = uv_now(server_.net_.loop());
  feed(bytes);
  pump();
}

void HttpConnection::on_closed(std::string_view) {
  server_.remove(id_);  // destroys this
}

void HttpConnection::on_output_drained() {
  last_active_ = uv_now(server_.net_.loop());
  if (auto file = file_) file->on_drained();
}

void HttpConnection::feed(std::string_view bytes) {
  if (failed_) return;
  if (parser_paused_) {
    stash_.append(bytes);
    return;
  }
  in_parser_ = true;
  size_t used = http_parser_execute(&parser_, &settings_, bytes.data(), bytes.size());
  in_parser_ = false;
  http_errno error = HTTP_PARSER_ERRNO(&parser_);
  if (error == HPE_PAUSED) {
    parser_paused_ = true;
    stash_.append(bytes.substr(used));
  } else if (failed_) {
    return;
  } else if (error != HPE_OK || used != bytes.size()) {
    fail(400, http_errno_description(error));
  }
}

// RFC 9112 §9.3: after a complete exchange, the next request on the same
// connection; requests already received wait in stash_ and are taken one at
// a time, so responses leave in request order.
void HttpConnection::pump() {
  if (in_parser_ || failed_) return;
  while (true) {
    if (exchange_) {
      bool finished = response_done_ && (message_complete_ || !keep_alive_);
      if (!finished) {
        update_reading();
        return;
      }
      exchange_->connection_ = nullptr;
      exchange_.reset();
      file_.reset();
      if (!keep_alive_) {
        connection_->close();
        return;
      }
      message_complete_ = response_done_ = false;
    }
    if (parser_paused_) {
      http_parser_pause(&parser_, 0);
      parser_paused_ = false;
    }
    if (stash_.empty()) {
      update_reading();
      return;
    }
    std::string next;
    next.swap(stash_);
    feed(next);
    if (failed_) return;
  }
}

// The socket is read only when what arrives can be used: not while a handler
// decides whether it wants a body, not while its consumer is paused, not
// while a response is still owed for a complete request.
void HttpConnection::update_reading() {
  bool want = !parser_paused_;
  if (exchange_ && !message_complete_ && exchange_->request_.has_body()) {
    want = want && exchange_->reading_body_ && !exchange_->body_paused_;
  }
  if (want) {
    connection_->resume_reading();
  } else {
    connection_->pause_reading();
  }
}

int HttpConnection::on_message_begin(http_parser* p) {
  auto* self = static_cast<HttpConnection*>(p->data);
  self->url_.clear();
  self->field_.clear();
  self->value_.clear();
  self->in_value_ = false;
  self->header_bytes_ = 0;
  self->exchange_ = std::make_shared<HttpExchange>();
  self->exchange_->connection_ = self;
  self->message_complete_ = self->response_done_ = false;
  self->head_started_ = std::max<uint64_t>(uv_now(self->server_.net_.loop()), 1);
  return 0;
}

int HttpConnection::on_url(http_parser* p, const char* at, size_t length) {
  auto* self = static_cast<HttpConnection*>(p->data);
  self->header_bytes_ += length;
  if (self->header_bytes_ > self->server_.limits_.max_header_bytes) {
    self->fail(431, "request head too large");
    return 1;
  }
  self->url_.append(at, length);
  return 0;
}

int HttpConnection::on_header_field(http_parser* p, const char* at, size_t length) {
  auto* self = static_cast<HttpConnection*>(p->data);
  if (self->in_value_) self->end_header();
  self->header_bytes_ += length;
  if (self->header_bytes_ > self->server_.limits_.max_header_bytes) {
    self->fail(431, "request head too large");
    return 1;
  }
  self->field_.append(at, length);
  return 0;
}

int HttpConnection::on_header_value(http_parser* p, const char* at, size_t length) {
  auto* self = static_cast<HttpConnection*>(p->data);
  self->header_bytes_ += length;
  if (self->header_bytes_ > self->server_.limits_.max_header_bytes) {
    self->fail(431, "request head too large");
    return 1;
  }
  self->value_.append(at, length);
  self->in_value_ = true;
  return 0;
}

void HttpConnection::end_header() {
  std::transform(field_.begin(), field_.end(), field_.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  exchange_->request_.headers.emplace_back(std::move(field_), std::move(value_));
  field_.clear();
  value_.clear();
  in_value_ = false;
}

int HttpConnection::on_headers_complete(http_parser* p) {
  auto* self = static_cast<HttpConnection*>(p->data);
  self->head_started_ = 0;
  if (self->in_value_) self->end_header();
  HttpRequest& request = self->exchange_->request_;
  request.method = http_method_str(static_cast<http_method>(p->method));
  size_t question = self->url_.find('?');
  request.path = self->url_.substr(0, question);
  if (question != std::string::npos) request.query = self->url_.substr(question + 1);
  request.chunked = (p->flags & F_CHUNKED) != 0;
  if (const std::string* length = request.header("content-length"); length && !request.chunked) {
    uint64_t value = 0;
    auto [end, ec] = std::from_chars(length->data(), length->data() + length->size(), value);
    if (ec != std::errc() || end != length->data() + length->size()) {
      self->fail(400, "bad Content-Length");
      return 1;
    }
    request.content_length = value;
  }
  request.tls = self->tls_;
  request.remote_ip = self->remote_ip_;
  self->keep_alive_ = http_should_keep_alive(p) != 0;
  self->dispatch();
  return 0;
}

int HttpConnection::on_body(http_parser* p, const char* at, size_t length) {
  auto* self = static_cast<HttpConnection*>(p->data);
  HttpExchange& exchange = *self->exchange_;
  if (exchange.responded_) return 0;  // refused early: the rest is discarded
  if (exchange.reading_body_) {
    auto keep = self->exchange_;
    exchange.body_data_(std::string_view(at, length));
  } else {
    // At most one read buffer: reading stopped when the head was complete.
    exchange.early_body_.append(at, length);
  }
  return 0;
}

int HttpConnection::on_message_complete(http_parser* p) {
  auto* self = static_cast<HttpConnection*>(p->data);
  self->message_complete_ = true;
  auto exchange = self->exchange_;
  exchange->body_complete_ = true;
  if (exchange->reading_body_ && !exchange->responded_ && exchange->body_end_) exchange->body_end_();
  // One request at a time: what follows waits until this one is answered.
  http_parser_pause(p, 1);
  return 0;
}

void HttpConnection::dispatch() {
  std::shared_ptr<HttpExchange> exchange = exchange_;
  const HttpHandler* handler = server_.routes_.find(exchange->request_.path);
  if (!handler) {
    exchange->respond(http_text_response(404, "Not Found"));
    return;
  }
  try {
    (*handler)(exchange);
  } catch (const std::exception& e) {
    if (server_.log_) server_.log_(std::string("HTTP handler failed: ") + e.what());
    if (!exchange->responded_) exchange->respond(http_text_response(500, "Internal Server Error"));
  }
}

void HttpConnection::start_body(HttpExchange& exchange) {
  if (const std::string* expect = exchange.request_.header("expect"); expect && !message_complete_) {
    if (*expect == "100-continue" || *expect == "100-Continue") connection_->write("HTTP/1.1 100 Continue\r\n\r\n");
  }
  auto keep = exchange_;
  if (!exchange.early_body_.empty()) {
    std::string early;
    early.swap(exchange.early_body_);
    exchange.body_data_(early);
  }
  if (exchange.body_complete_ && !exchange.responded_) exchange.body_end_();
  if (!in_parser_) update_reading();
}

void HttpConnection::send_response(HttpExchange& exchange, HttpResponse response) {
  const HttpRequest& request = exchange.request_;
  if (request.has_body() && !message_complete_) keep_alive_ = false;
  bool head_only = request.method == "HEAD";
  int fd = -1;
  uint64_t length = response.body.size();
  if (response.file) {
    fd = ::open(response.file->path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      response = http_text_response(404, "Not Found");
      length = response.body.size();
    } else {
      length = response.file->length;
    }
  }
  std::string head = "HTTP/1.1 " + std::to_string(response.status) + " " + std::string(http_reason(response.status)) +
                     "\r\nDate: " + http_date() + "\r\n";
  for (const auto& [name, value] : response.headers) head += name + ": " + value + "\r\n";
  head += "Content-Length: " + std::to_string(length) + "\r\n";
  if (!keep_alive_) head += "Connection: close\r\n";
  head += "\r\n";
  connection_->write(head);
  if (fd >= 0 && !head_only) {
    file_ = std::make_shared<FileSender>(server_.net_.loop(), this, fd, response.file->offset, length);
    file_->start();
    return;
  }
  if (fd >= 0) ::close(fd);
  if (!head_only) connection_->write(response.body);
  response_done_ = true;
  pump();
}

void HttpConnection::file_sent(bool ok) {
  if (!ok) {
    connection_->abort();  // a short body must not look complete to the client
    return;
  }
  response_done_ = true;
  pump();
}

void HttpConnection::fail(int status, std::string_view text) {
  if (failed_) return;
  failed_ = true;
  if (!exchange_ || !exchange_->responded_) {
    HttpResponse response = http_text_response(status, text);
    std::string out = "HTTP/1.1 " + std::to_string(status) + " " + std::string(http_reason(status)) +
                      "\r\nDate: " + http_date() + "\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: " +
                      std::to_string(response.body.size()) + "\r\nConnection: close\r\n\r\n" + response.body;
    connection_->write(out);
  }
  connection_->close();
}

}  // namespace parley::net
