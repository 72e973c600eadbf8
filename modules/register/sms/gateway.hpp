#pragma once
// Pluggable SMS gateways (issue 4). A gateway sends one text to one E.164
// number and reports on the loop; adding a provider is one class here and one
// name in make_gateway(). Gateways are owned by the register module's state
// (or by parleyctl sms test); destroying one drops its pending reports.
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <uv.h>

namespace parley::core {
class Config;
}

namespace parley::modules::sms {

struct SendResult {
  bool ok = false;
  std::string detail;  // what went wrong, for the log (never the text: it holds the code)
};
using SendDone = std::function<void(SendResult)>;

class Gateway {
 public:
  virtual ~Gateway() = default;
  virtual void send(const std::string& number, const std::string& text, SendDone done) = 0;
};

// Everything the gateways read from modules.register.* for one host.
struct Settings {
  std::string kind;  // outbox | http | exec
  std::string outbox_file;
  std::string http_url;
  std::string http_body;          // template: {number} {text}
  std::string http_content_type;  // form | json
  std::vector<std::string> http_headers;  // "Name: value" templates
  std::string http_auth;                  // none | basic | bearer
  std::string http_username, http_password, http_token;
  std::chrono::milliseconds http_timeout{10000};
  int http_retries = 2;
  std::chrono::milliseconds http_retry_delay{1000};  // before the first retry, doubled for each next one
  std::string exec_program;
  std::vector<std::string> exec_args;  // templates: {number} {text}
  std::chrono::milliseconds exec_timeout{10000};
};

// The http gateway's longest pause between two attempts, whatever
// http_retry_delay and http_retries say (the option's doc in register.cpp
// names it: change both together).
inline constexpr std::chrono::milliseconds kMaxHttpRetryPause{30'000};

Settings settings_from(const core::Config& config, std::string_view host);
// Null (and `error` set) if the settings name no known gateway.
std::unique_ptr<Gateway> make_gateway(uv_loop_t* loop, const Settings& settings, std::string& error);

// Replaces {number} and {text} with `escape`d values (identity if null).
std::string expand(std::string_view pattern, const std::string& number, const std::string& text,
                   std::string (*escape)(std::string_view) = nullptr);

std::unique_ptr<Gateway> make_outbox_gateway(const Settings& settings);
std::unique_ptr<Gateway> make_exec_gateway(uv_loop_t* loop, const Settings& settings);
std::unique_ptr<Gateway> make_http_gateway(uv_loop_t* loop, const Settings& settings);

}  // namespace parley::modules::sms
