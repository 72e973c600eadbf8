#pragma once
// Throttles password guessing: failed SASL attempts are counted per client IP
// and per account over a window; past the limit, further attempts are
// refused with temporary-auth-failure until the window ends.
#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace parley::xmpp {

class AuthThrottle {
 public:
  using Clock = std::chrono::steady_clock;
  AuthThrottle(int max_per_ip, int max_per_account, std::chrono::seconds window)
      : max_per_ip_(max_per_ip), max_per_account_(max_per_account), window_(window) {}

  // Seconds to wait before the next attempt, or nullopt if it may go ahead.
  std::optional<int> blocked_for(std::string_view ip, std::string_view host, std::string_view username,
                                 Clock::time_point now = Clock::now());
  void record_failure(std::string_view ip, std::string_view host, std::string_view username,
                      Clock::time_point now = Clock::now());
  void record_success(std::string_view ip, std::string_view host, std::string_view username);

 private:
  struct Window {
    int failures = 0;
    Clock::time_point start;
  };
  std::optional<int> check(std::unordered_map<std::string, Window>& map, const std::string& key, int max,
                           Clock::time_point now);
  void count(std::unordered_map<std::string, Window>& map, const std::string& key, Clock::time_point now);

  int max_per_ip_;
  int max_per_account_;
  std::chrono::seconds window_;
  std::unordered_map<std::string, Window> by_ip_;
  std::unordered_map<std::string, Window> by_account_;
};

}  // namespace parley::xmpp
