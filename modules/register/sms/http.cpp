// The http gateway: each SMS is one POST to a configured URL, with a body
// and headers expanded from templates (form or JSON encoded values; basic or
// bearer authentication), which covers Twilio-, Vonage- or self-hosted
// gateways without code. libcurl's multi interface runs on the server's
// libuv loop (CURLMOPT_SOCKETFUNCTION/TIMERFUNCTION driving uv_poll and
// uv_timer), so no request ever blocks the loop. A non-2xx answer or a
// timeout is retried up to http_retries times, then reported as a failure;
// between attempts the request waits on a uv_timer (http_retry_delay,
// doubled per retry, capped), so a gateway that is down is not hammered.
#include <curl/curl.h>

#include <algorithm>
#include <cctype>
#include <set>

#include "modules/register/sms/gateway.hpp"
#include "net/http_message.hpp"

namespace parley::modules::sms {

namespace {

// The inside of a JSON string (RFC 8259 §7); the template supplies the quotes.
std::string json_escape(std::string_view value) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : value) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20) {
      out += "\\u00";
      out += kHex[c >> 4];
      out += kHex[c & 15];
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

class HttpGateway final : public Gateway {
 public:
  // curl_global_init is reference counted; it must precede the first handle.
  HttpGateway(uv_loop_t* loop, Settings settings)
      : loop_(loop),
        settings_(std::move(settings)),
        global_(curl_global_init(CURL_GLOBAL_DEFAULT)),
        multi_(curl_multi_init()),
        timer_(new uv_timer_t) {
    uv_timer_init(loop_, timer_);
    timer_->data = this;
    curl_multi_setopt(multi_, CURLMOPT_SOCKETFUNCTION, on_socket);
    curl_multi_setopt(multi_, CURLMOPT_SOCKETDATA, this);
    curl_multi_setopt(multi_, CURLMOPT_TIMERFUNCTION, on_timer);
    curl_multi_setopt(multi_, CURLMOPT_TIMERDATA, this);
  }

  ~HttpGateway() override {
    // Pending requests are dropped without a report; libcurl must not call
    // back into this object while it is torn down.
    curl_multi_setopt(multi_, CURLMOPT_SOCKETFUNCTION, nullptr);
    curl_multi_setopt(multi_, CURLMOPT_TIMERFUNCTION, nullptr);
    for (Request* r : requests_) {
      curl_multi_remove_handle(multi_, r->easy);
      release(r);
      delete r;
    }
    curl_multi_cleanup(multi_);
    if (global_ == CURLE_OK) curl_global_cleanup();
    for (Poll* p : polls_) close_poll(p);
    // A closed timer never fires, so a pending retry cannot reach the
    // request or this object once they are gone.
    for (Request* r : waiting_) {
      close_timer(r->pause);
      delete r;
    }
    close_timer(timer_);
  }

  void send(const std::string& number, const std::string& text, SendDone done) override {
    auto* r = new Request{this, nullptr, nullptr, {}, number, text, 0, std::move(done), nullptr};
    start(r);
  }

 private:
  struct Request {
    HttpGateway* gateway;
    CURL* easy;
    curl_slist* headers;
    std::string body;
    std::string number, text;
    int attempt;
    SendDone done;
    uv_timer_t* pause;  // set while waiting to retry; freed in its close callback
  };
  struct Poll {
    uv_poll_t handle;
    curl_socket_t fd;
    HttpGateway* gateway;
  };

  void start(Request* r) {
    bool json = settings_.http_content_type == "json";
    r->body = expand(settings_.http_body, r->number, r->text, json ? json_escape : net::percent_encode);
    r->headers = curl_slist_append(nullptr, json ? "Content-Type: application/json"
                                                 : "Content-Type: application/x-www-form-urlencoded");
    for (const std::string& h : settings_.http_headers) {
      r->headers = curl_slist_append(r->headers, expand(h, r->number, r->text).c_str());
    }
    r->easy = curl_easy_init();
    curl_easy_setopt(r->easy, CURLOPT_URL, settings_.http_url.c_str());
    curl_easy_setopt(r->easy, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(r->easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(r->easy, CURLOPT_POST, 1L);
    curl_easy_setopt(r->easy, CURLOPT_POSTFIELDS, r->body.c_str());
    curl_easy_setopt(r->easy, CURLOPT_POSTFIELDSIZE, static_cast<long>(r->body.size()));
    curl_easy_setopt(r->easy, CURLOPT_HTTPHEADER, r->headers);
    curl_easy_setopt(r->easy, CURLOPT_TIMEOUT_MS, static_cast<long>(settings_.http_timeout.count()));
    curl_easy_setopt(r->easy, CURLOPT_WRITEFUNCTION, +[](char*, size_t size, size_t n, void*) { return size * n; });
    if (settings_.http_auth == "basic") {
      curl_easy_setopt(r->easy, CURLOPT_HTTPAUTH, CURLAUTH_BASIC);
      curl_easy_setopt(r->easy, CURLOPT_USERNAME, settings_.http_username.c_str());
      curl_easy_setopt(r->easy, CURLOPT_PASSWORD, settings_.http_password.c_str());
    } else if (settings_.http_auth == "bearer") {
      curl_easy_setopt(r->easy, CURLOPT_HTTPAUTH, CURLAUTH_BEARER);
      curl_easy_setopt(r->easy, CURLOPT_XOAUTH2_BEARER, settings_.http_token.c_str());
    }
    curl_easy_setopt(r->easy, CURLOPT_PRIVATE, r);
    requests_.insert(r);
    curl_multi_add_handle(multi_, r->easy);
  }

  void release(Request* r) {
    curl_easy_cleanup(r->easy);
    curl_slist_free_all(r->headers);
    r->easy = nullptr;
    r->headers = nullptr;
  }

  // Finished transfers: report, or retry a bounded number of times.
  void collect() {
    int left = 0;
    while (CURLMsg* msg = curl_multi_info_read(multi_, &left)) {
      if (msg->msg != CURLMSG_DONE) continue;
      Request* r = nullptr;
      curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &r);
      long status = 0;
      curl_easy_getinfo(msg->easy_handle, CURLINFO_RESPONSE_CODE, &status);
      CURLcode code = msg->data.result;
      curl_multi_remove_handle(multi_, r->easy);
      release(r);
      requests_.erase(r);
      SendResult result;
      if (code != CURLE_OK) {
        result.detail = std::string("HTTP request failed: ") + curl_easy_strerror(code);
      } else if (status < 200 || status > 299) {
        result.detail = "the SMS gateway answered HTTP " + std::to_string(status);
      } else {
        result.ok = true;
      }
      if (!result.ok && r->attempt < settings_.http_retries) {
        retry_later(r);
        continue;
      }
      SendDone done = std::move(r->done);
      delete r;
      done(std::move(result));
    }
  }

  // Starts the next attempt after http_retry_delay, doubled for each retry
  // already made (at most kMaxHttpRetryPause), on the loop: nothing waits.
  void retry_later(Request* r) {
    std::chrono::milliseconds pause =
        std::min(settings_.http_retry_delay * (int64_t{1} << r->attempt), kMaxHttpRetryPause);
    ++r->attempt;
    r->pause = new uv_timer_t;
    uv_timer_init(loop_, r->pause);
    r->pause->data = r;
    waiting_.insert(r);
    uv_timer_start(r->pause, [](uv_timer_t* timer) {
      auto* r = static_cast<Request*>(timer->data);
      r->gateway->waiting_.erase(r);
      close_timer(r->pause);
      r->pause = nullptr;
      r->gateway->start(r);
    }, static_cast<uint64_t>(pause.count()), 0);
  }

  void act(curl_socket_t fd, int flags) {
    int running = 0;
    curl_multi_socket_action(multi_, fd, flags, &running);
    collect();
  }

  static int on_socket(CURL*, curl_socket_t fd, int what, void* userp, void* socketp) {
    auto* self = static_cast<HttpGateway*>(userp);
    auto* poll = static_cast<Poll*>(socketp);
    if (what == CURL_POLL_REMOVE) {
      if (poll) {
        self->polls_.erase(poll);
        close_poll(poll);
        curl_multi_assign(self->multi_, fd, nullptr);
      }
      return 0;
    }
    if (!poll) {
      poll = new Poll{{}, fd, self};
      uv_poll_init_socket(self->loop_, &poll->handle, fd);
      poll->handle.data = poll;
      self->polls_.insert(poll);
      curl_multi_assign(self->multi_, fd, poll);
    }
    int events = 0;
    if (what & CURL_POLL_IN) events |= UV_READABLE;
    if (what & CURL_POLL_OUT) events |= UV_WRITABLE;
    uv_poll_start(&poll->handle, events, [](uv_poll_t* handle, int status, int events) {
      auto* p = static_cast<Poll*>(handle->data);
      int flags = 0;
      if (status < 0) flags |= CURL_CSELECT_ERR;
      if (events & UV_READABLE) flags |= CURL_CSELECT_IN;
      if (events & UV_WRITABLE) flags |= CURL_CSELECT_OUT;
      p->gateway->act(p->fd, flags);
    });
    return 0;
  }

  static int on_timer(CURLM*, long timeout_ms, void* userp) {
    auto* self = static_cast<HttpGateway*>(userp);
    if (timeout_ms < 0) {
      uv_timer_stop(self->timer_);
      return 0;
    }
    uv_timer_start(self->timer_, [](uv_timer_t* timer) {
      static_cast<HttpGateway*>(timer->data)->act(CURL_SOCKET_TIMEOUT, 0);
    }, static_cast<uint64_t>(timeout_ms), 0);
    return 0;
  }

  static void close_timer(uv_timer_t* timer) {
    uv_close(reinterpret_cast<uv_handle_t*>(timer), [](uv_handle_t* h) { delete reinterpret_cast<uv_timer_t*>(h); });
  }

  static void close_poll(Poll* poll) {
    uv_poll_stop(&poll->handle);
    uv_close(reinterpret_cast<uv_handle_t*>(&poll->handle),
             [](uv_handle_t* h) { delete static_cast<Poll*>(h->data); });
  }

  uv_loop_t* loop_;
  Settings settings_;
  CURLcode global_;
  CURLM* multi_;
  uv_timer_t* timer_;  // freed in its close callback
  std::set<Request*> requests_;
  std::set<Request*> waiting_;  // between two attempts
  std::set<Poll*> polls_;
};

}  // namespace

std::unique_ptr<Gateway> make_http_gateway(uv_loop_t* loop, const Settings& settings) {
  return std::make_unique<HttpGateway>(loop, settings);
}

}  // namespace parley::modules::sms
