#pragma once
// HTTP/1.1 messages as the embedded HTTP server (net/http_server.*) hands
// them to route handlers and takes them back: a parsed request head and a
// response whose body is either a string or a byte range of a file, which
// the server streams from disk (RFC 9110, RFC 9112).
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace parley::net {

using HttpHeaders = std::vector<std::pair<std::string, std::string>>;

struct HttpRequest {
  std::string method;  // "GET", "PUT", ...
  std::string path;    // the target up to '?', still percent-encoded
  std::string query;   // after '?', without it
  HttpHeaders headers; // names lower-cased, in arrival order
  // Content-Length when the request declared one; a chunked body has none.
  std::optional<uint64_t> content_length;
  bool chunked = false;
  bool tls = false;
  std::string remote_ip;

  // The first header with this (lower-case) name, or null.
  const std::string* header(std::string_view name) const;
  // The value of one query parameter (percent-decoded), or nullopt.
  std::optional<std::string> query_param(std::string_view name) const;
  bool has_body() const { return chunked || content_length.value_or(0) > 0; }
};

struct HttpResponse {
  int status = 200;
  HttpHeaders headers;
  std::string body;
  // Instead of `body`: `length` bytes of the file at `path` from `offset`,
  // read asynchronously and sent as the client takes them.
  struct File {
    std::string path;
    uint64_t offset = 0;
    uint64_t length = 0;
  };
  std::optional<File> file;

  HttpResponse& header(std::string name, std::string value) {
    headers.emplace_back(std::move(name), std::move(value));
    return *this;
  }
};

// A plain-text response for errors ("404 Not Found" style bodies).
HttpResponse http_text_response(int status, std::string_view text);
std::string_view http_reason(int status);

// RFC 3986 §2.1. Decoding fails (nullopt) on a malformed escape or an
// encoded NUL; encoding keeps only unreserved characters.
std::optional<std::string> percent_decode(std::string_view in);
std::string percent_encode(std::string_view in);

}  // namespace parley::net
