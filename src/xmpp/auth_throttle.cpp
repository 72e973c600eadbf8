#include "xmpp/auth_throttle.hpp"

#include <algorithm>

namespace parley::xmpp {

namespace {
std::string account_key(std::string_view host, std::string_view username) {
  std::string key(username);
  key += '@';
  key += host;
  return key;
}
// Past this many tracked keys, expired windows are swept on insert so that
// a flood of distinct IPs can't grow the maps without bound.
constexpr size_t kSweepThreshold = 10000;
}  // namespace

std::optional<int> AuthThrottle::check(std::unordered_map<std::string, Window>& map, const std::string& key,
                                       int max, Clock::time_point now) {
  auto it = map.find(key);
  if (it == map.end()) return std::nullopt;
  if (now - it->second.start >= window_) {
    map.erase(it);
    return std::nullopt;
  }
  if (it->second.failures < max) return std::nullopt;
  auto left = std::chrono::duration_cast<std::chrono::seconds>(window_ - (now - it->second.start));
  return std::max<int>(1, static_cast<int>(left.count()));
}

void AuthThrottle::count(std::unordered_map<std::string, Window>& map, const std::string& key,
                         Clock::time_point now) {
  if (map.size() > kSweepThreshold) {
    std::erase_if(map, [&](const auto& entry) { return now - entry.second.start >= window_; });
  }
  Window& w = map[key];
  if (w.failures == 0 || now - w.start >= window_) w = Window{0, now};
  ++w.failures;
}

std::optional<int> AuthThrottle::blocked_for(std::string_view ip, std::string_view host, std::string_view username,
                                             Clock::time_point now) {
  std::optional<int> by_ip = check(by_ip_, std::string(ip), max_per_ip_, now);
  std::optional<int> by_account = check(by_account_, account_key(host, username), max_per_account_, now);
  if (by_ip && by_account) return std::max(*by_ip, *by_account);
  return by_ip ? by_ip : by_account;
}

void AuthThrottle::record_failure(std::string_view ip, std::string_view host, std::string_view username,
                                  Clock::time_point now) {
  count(by_ip_, std::string(ip), now);
  count(by_account_, account_key(host, username), now);
}

void AuthThrottle::record_success(std::string_view ip, std::string_view host, std::string_view username) {
  by_account_.erase(account_key(host, username));
}

}  // namespace parley::xmpp
