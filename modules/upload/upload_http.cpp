// The HTTP side of XEP-0363 (§5 upload, §6 download): PUT into a slot once,
// with exactly the size and media type the slot was given, streamed to disk;
// GET and HEAD with single byte ranges (RFC 9110 §14), served so that an
// uploaded HTML or SVG file cannot run script on our origin (XEP-0363 §10).
#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <ctime>

#include "core/log.hpp"
#include "modules/upload/upload_state.hpp"
#include "net/http_server.hpp"
#include "store/pg_client.hpp"
#include "xmpp/module_api.hpp"

namespace parley::modules::upload {

namespace {

constexpr store::PgStatement kLookup{
    "upload_lookup",
    "SELECT filename, size, content_type, state, put_deadline > now() FROM upload_slots WHERE slot = $1 AND host = $2"};
constexpr store::PgStatement kClaim{
    "upload_claim",
    "UPDATE upload_slots SET state = 'uploading' WHERE slot = $1 AND host = $2 AND state = 'pending' "
    "AND put_deadline > now() RETURNING 1"};
constexpr store::PgStatement kComplete{
    "upload_complete",
    "UPDATE upload_slots SET state = 'complete' WHERE slot = $1 AND host = $2 AND state = 'uploading' RETURNING 1"};
constexpr store::PgStatement kForget{"upload_forget", "DELETE FROM upload_slots WHERE slot = $1 AND host = $2"};

using net::HttpExchange;
using net::HttpResponse;

struct Target {
  std::string slot;
  std::string filename;
};

// "/upload/<host>/<slot>/<percent-encoded name>": anything else is not ours.
// The name is compared with the stored one, never used as a path.
std::optional<Target> parse_target(const UploadState& state, const std::string& path) {
  std::string_view rest = std::string_view(path).substr(state.route.size());
  size_t slash = rest.find('/');
  if (slash == std::string_view::npos) return std::nullopt;
  std::string_view slot = rest.substr(0, slash);
  std::string_view name = rest.substr(slash + 1);
  if (!valid_slot_id(slot) || name.empty() || name.find('/') != std::string_view::npos) return std::nullopt;
  std::optional<std::string> decoded = net::percent_decode(name);
  if (!decoded) return std::nullopt;
  return Target{std::string(slot), std::move(*decoded)};
}

HttpResponse text(int status, std::string_view message) {
  HttpResponse response = net::http_text_response(status, message);
  response.header("Access-Control-Allow-Origin", "*");
  return response;
}

// Writes a request body to a file in arrival order, one write in flight;
// tells the exchange to pause when more than kHigh bytes wait for the disk.
class FileWriter : public std::enable_shared_from_this<FileWriter> {
 public:
  static constexpr size_t kHigh = 1 << 20;

  FileWriter(uv_loop_t* loop, int fd, std::weak_ptr<HttpExchange> exchange)
      : loop_(loop), fd_(fd), exchange_(std::move(exchange)) {}
  ~FileWriter() { ::close(fd_); }

  void push(std::string_view data) {
    queued_.append(data);
    if (queued_.size() > kHigh) {
      if (auto exchange = exchange_.lock()) exchange->pause_body();
    }
    if (!busy_) write_next();
  }
  // `done(ok)` once everything pushed is on disk (or a write failed).
  void finish(std::function<void(bool)> done) {
    done_ = std::move(done);
    if (!busy_) write_next();
  }

 private:
  struct WriteRequest {
    uv_fs_t request;
    std::shared_ptr<FileWriter> writer;
  };

  void write_next() {
    if (failed_) return;
    if (queued_.empty() && writing_.empty()) {
      if (done_) std::exchange(done_, nullptr)(true);
      return;
    }
    if (writing_.empty()) writing_.swap(queued_);
    auto* r = new WriteRequest{{}, shared_from_this()};
    r->request.data = r;
    uv_buf_t buf = uv_buf_init(writing_.data(), static_cast<unsigned>(writing_.size()));
    busy_ = true;
    if (uv_fs_write(loop_, &r->request, fd_, &buf, 1, -1, on_written) < 0) {
      delete r;
      busy_ = false;
      fail();
    }
  }

  static void on_written(uv_fs_t* request) {
    std::unique_ptr<WriteRequest> r(static_cast<WriteRequest*>(request->data));
    ssize_t result = request->result;
    uv_fs_req_cleanup(request);
    FileWriter& self = *r->writer;
    self.busy_ = false;
    if (result < 0) {
      self.fail();
      return;
    }
    self.writing_.erase(0, static_cast<size_t>(result));  // a short write keeps the rest
    if (self.writing_.empty() && self.queued_.size() <= kHigh / 2) {
      if (auto exchange = self.exchange_.lock()) exchange->resume_body();
    }
    self.write_next();
  }

  void fail() {
    failed_ = true;
    if (done_) std::exchange(done_, nullptr)(false);
  }

  uv_loop_t* loop_;
  int fd_;
  std::weak_ptr<HttpExchange> exchange_;
  std::string queued_;
  std::string writing_;
  std::function<void(bool)> done_;
  bool busy_ = false;
  bool failed_ = false;
};

// An upload that did not finish leaves nothing: no file, no slot.
void discard(const std::shared_ptr<UploadState>& state, const std::string& slot) {
  unlink_async(state->loop, state->dir / (slot + ".part"));
  state->db->execute(kForget, {slot, state->host}, [](store::PgResult&&) {});
}

// The last step of an upload: the file is whole on disk under its temporary
// name. It gets its final name (so GET never sees a partial file), then the
// slot is marked complete; if the slot went meanwhile (expired, or the client
// left and on_aborted removed it), so does the file.
void store_file(const std::weak_ptr<UploadState>& weak, const std::weak_ptr<HttpExchange>& weak_exchange,
                const std::string& slot, bool written) {
  auto state = weak.lock();
  if (!state) return;
  auto exchange = weak_exchange.lock();
  if (!written || !exchange || !exchange->open()) {
    discard(state, slot);
    if (exchange) exchange->respond(text(500, "the file could not be written"));
    return;
  }
  std::filesystem::path part = state->dir / (slot + ".part");
  if (std::rename(part.c_str(), (state->dir / slot).c_str()) != 0) {
    discard(state, slot);
    exchange->respond(text(500, "the file could not be stored"));
    return;
  }
  state->db->execute(kComplete, {slot, state->host}, [weak, weak_exchange, slot](store::PgResult&& result) {
    auto state = weak.lock();
    if (!state) return;
    auto exchange = weak_exchange.lock();
    if (!result.ok || result.size() != 1) {
      unlink_async(state->loop, state->dir / slot);
      if (exchange) exchange->respond(text(410, "the slot is gone"));
      return;
    }
    if (exchange) exchange->respond(text(201, "Created"));
  });
}

// Streams the body of a claimed slot into <slot>.part.
void receive(const std::shared_ptr<UploadState>& state, const std::shared_ptr<HttpExchange>& exchange,
             const std::string& slot) {
  std::filesystem::path part = state->dir / (slot + ".part");
  int fd = ::open(part.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
  if (fd < 0) {
    discard(state, slot);
    exchange->respond(text(500, "the file could not be created"));
    return;
  }
  auto writer = std::make_shared<FileWriter>(state->loop, fd, exchange);
  std::weak_ptr<UploadState> weak = state;
  std::weak_ptr<HttpExchange> weak_exchange = exchange;
  exchange->on_aborted([weak, slot] {
    if (auto state = weak.lock()) discard(state, slot);
  });
  exchange->read_body([writer](std::string_view data) { writer->push(data); },
                      [writer, weak, weak_exchange, slot] {
                        writer->finish([weak, weak_exchange, slot](bool written) {
                          store_file(weak, weak_exchange, slot, written);
                        });
                      });
}

void put(const std::shared_ptr<UploadState>& state, const std::shared_ptr<HttpExchange>& exchange,
         const Target& target) {
  const net::HttpRequest& request = exchange->request();
  if (!request.content_length) {
    exchange->respond(text(411, "a Content-Length is required"));
    return;
  }
  std::optional<std::string> expires = request.query_param("expires");
  std::optional<std::string> sig = request.query_param("sig");
  if (!expires || !sig || expires->empty() || expires->size() > 18 ||
      expires->find_first_not_of("0123456789") != std::string::npos) {
    exchange->respond(text(403, "this URL is not a signed upload URL"));
    return;
  }
  std::weak_ptr<UploadState> weak = state;
  state->db->execute(kLookup, {target.slot, state->host}, [weak, exchange, target, expires = std::stoll(*expires),
                                                            sig = *sig](store::PgResult&& row) {
    auto state = weak.lock();
    if (!state || !exchange->open()) return;
    if (!row.ok) {
      exchange->respond(text(503, "storage unavailable, try again"));
      return;
    }
    if (row.size() != 1 || *row.at(0, 0) != target.filename) {
      exchange->respond(text(404, "no such upload slot"));
      return;
    }
    uint64_t size = std::stoull(*row.at(0, 1));
    const std::string& type = *row.at(0, 2);
    const net::HttpRequest& request = exchange->request();
    std::string given_type = request.header("content-type") ? *request.header("content-type") : std::string();
    if (!signature_matches(sign_put(*state, target.slot, target.filename, size, type, expires), sig)) {
      exchange->respond(text(403, "the upload URL's signature does not match"));
      return;
    }
    if (*row.at(0, 3) != "pending") {
      exchange->respond(text(409, "this slot was already used"));
      return;
    }
    if (row.at(0, 4) != "t" || expires < std::time(nullptr)) {
      exchange->respond(text(403, "this upload slot has expired"));
      return;
    }
    if (*request.content_length != size) {
      // RFC 9110 §15.5.14: 413 says the content is too large; a shorter one is
      // a plain bad request. The slot stays pending, so the client may retry.
      const int status = *request.content_length > size ? 413 : 400;
      exchange->respond(text(status, "the slot is for " + std::to_string(size) + " bytes, not " +
                                         std::to_string(*request.content_length)));
      return;
    }
    if (given_type != type) {
      exchange->respond(text(415, "the slot is for content of type " + type));
      return;
    }
    state->db->execute(kClaim, {target.slot, state->host}, [weak, exchange, slot = target.slot](store::PgResult&& claim) {
      auto state = weak.lock();
      if (!state) return;
      bool claimed = claim.ok && claim.size() == 1;
      if (!exchange->open()) {
        if (claimed) discard(state, slot);  // the client left during the round trip
        return;
      }
      if (!claimed) {
        exchange->respond(text(409, "this slot was already used or has expired"));
        return;
      }
      receive(state, exchange, slot);
    });
  });
}

// RFC 9110 §14.1.2: one range (first-last, first-, -suffix). Several ranges
// are answered with the whole file, which the RFC allows.
enum class RangeResult { Whole, Part, Unsatisfiable };
RangeResult parse_range(const std::string* header, uint64_t size, uint64_t& first, uint64_t& last) {
  if (!header || !header->starts_with("bytes=") || header->find(',') != std::string::npos) return RangeResult::Whole;
  std::string spec = header->substr(6);
  size_t dash = spec.find('-');
  if (dash == std::string::npos) return RangeResult::Whole;
  std::string a = spec.substr(0, dash), b = spec.substr(dash + 1);
  auto digits = [](const std::string& s) {
    return !s.empty() && s.size() <= 19 && s.find_first_not_of("0123456789") == std::string::npos;
  };
  if (a.empty()) {
    if (!digits(b) || std::stoull(b) == 0 || size == 0) return digits(b) ? RangeResult::Unsatisfiable : RangeResult::Whole;
    uint64_t n = std::min<uint64_t>(std::stoull(b), size);
    first = size - n;
    last = size - 1;
    return RangeResult::Part;
  }
  if (!digits(a) || (!b.empty() && !digits(b))) return RangeResult::Whole;
  first = std::stoull(a);
  last = b.empty() ? size - 1 : std::min<uint64_t>(std::stoull(b), size - 1);
  if (!b.empty() && std::stoull(b) < first) return RangeResult::Whole;
  if (first >= size) return RangeResult::Unsatisfiable;
  return RangeResult::Part;
}

bool shown_inline(std::string_view type) {
  return type == "image/png" || type == "image/jpeg" || type == "image/gif" || type == "image/webp" ||
         type.starts_with("audio/") || type.starts_with("video/");
}

void get(const std::shared_ptr<UploadState>& state, const std::shared_ptr<HttpExchange>& exchange,
         const Target& target) {
  std::weak_ptr<UploadState> weak = state;
  state->db->execute(kLookup, {target.slot, state->host}, [weak, exchange, target](store::PgResult&& row) {
    auto state = weak.lock();
    if (!state || !exchange->open()) return;
    if (!row.ok) {
      exchange->respond(text(503, "storage unavailable, try again"));
      return;
    }
    if (row.size() != 1 || *row.at(0, 0) != target.filename || *row.at(0, 3) != "complete") {
      exchange->respond(text(404, "Not Found"));
      return;
    }
    uint64_t size = std::stoull(*row.at(0, 1));
    const std::string& type = *row.at(0, 2);
    HttpResponse response;
    response.header("Content-Type", type);
    // XEP-0363 §10: a served file must not run script on this origin.
    response.header("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'; sandbox");
    response.header("X-Content-Type-Options", "nosniff");
    response.header("Content-Disposition", std::string(shown_inline(type) ? "inline" : "attachment") +
                                               "; filename*=UTF-8''" + net::percent_encode(target.filename));
    response.header("Accept-Ranges", "bytes");
    response.header("Access-Control-Allow-Origin", "*");
    uint64_t first = 0, last = size == 0 ? 0 : size - 1;
    switch (parse_range(exchange->request().header("range"), size, first, last)) {
      case RangeResult::Unsatisfiable: {
        HttpResponse refused = text(416, "Range Not Satisfiable");
        refused.header("Content-Range", "bytes */" + std::to_string(size));
        exchange->respond(std::move(refused));
        return;
      }
      case RangeResult::Part:
        response.status = 206;
        response.header("Content-Range",
                        "bytes " + std::to_string(first) + "-" + std::to_string(last) + "/" + std::to_string(size));
        response.file = HttpResponse::File{(state->dir / target.slot).string(), first, last - first + 1};
        break;
      case RangeResult::Whole:
        response.file = HttpResponse::File{(state->dir / target.slot).string(), 0, size};
        break;
    }
    exchange->respond(std::move(response));
  });
}

}  // namespace

void start_http(xmpp::ModuleContext& ctx, const std::shared_ptr<UploadState>& state) {
  ctx.on_http(state->route, [weak = std::weak_ptr(state)](std::shared_ptr<HttpExchange> exchange) {
    auto state = weak.lock();
    if (!state) return exchange->respond(text(503, "Service Unavailable"));
    const net::HttpRequest& request = exchange->request();
    if (request.method == "OPTIONS") {
      // CORS preflight for web clients (Converse.js) uploading from their own origin.
      HttpResponse response;
      response.status = 204;
      response.header("Access-Control-Allow-Origin", "*");
      response.header("Access-Control-Allow-Methods", "GET, HEAD, PUT, OPTIONS");
      response.header("Access-Control-Allow-Headers", "Content-Type");
      response.header("Access-Control-Max-Age", "86400");
      return exchange->respond(std::move(response));
    }
    std::optional<Target> target = parse_target(*state, request.path);
    if (!target) return exchange->respond(text(404, "Not Found"));
    if (request.method == "PUT") return put(state, exchange, *target);
    if (request.method == "GET" || request.method == "HEAD") return get(state, exchange, *target);
    HttpResponse refused = text(405, "Method Not Allowed");
    refused.header("Allow", "GET, HEAD, PUT, OPTIONS");
    exchange->respond(std::move(refused));
  });
}

}  // namespace parley::modules::upload
