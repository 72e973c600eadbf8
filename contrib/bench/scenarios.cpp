// The scenario table and the helpers scenarios share.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "scenario.hpp"

namespace parley::bench {

RoundResult run_login_round(BenchRun& run, int round);
std::unique_ptr<ScenarioRounds> start_idle(BenchRun& run);
RoundResult run_messages_round(BenchRun& run, int round);
std::unique_ptr<ScenarioRounds> start_fanout(BenchRun& run);
RoundResult run_roster_round(BenchRun& run, int round);
RoundResult run_s2s_round(BenchRun& run, int round);

const std::vector<Scenario>& scenarios() {
  static const std::vector<Scenario> table = {
      {"login", "N clients log in (TLS, SASL, bind), C at a time; logins/s and latency",
       "-n N (500)  -c C (50)  --presence 0|1 (0)", stateless_rounds<run_login_round>},
      {"idle", "each round opens N more authenticated connections with presence; server RSS per connection",
       "-n N (1000)  -c C (100)  --settle SECONDS (1)", start_idle},
      {"messages", "P sender->receiver pairs, window W, M messages; msgs/s and per server CPU second",
       "--pairs P (50)  --window W (20)  --messages M (200000)  --body-size BYTES (100)  -c C (100)  --settle S (0.5)",
       stateless_rounds<run_messages_round>},
      {"fanout", "a hub with N online contacts (subscribed both ways) changes presence; time until all have it",
       "--contacts N (1000)  -c C (100)  --settle SECONDS (1)", start_fanout},
      {"roster", "the user with an N-item roster logs in and gets it; TCP connect -> roster result",
       "--items N (1000)", stateless_rounds<run_roster_round>},
      {"s2s", "P senders on this server, P receivers on its federated peer; msgs/s over one s2s link",
       "--peer-port PORT  --peer-domain DOMAIN  --peer-host IP (127.0.0.1)  --pairs P (20)  --window W (20)  "
       "--messages M (50000)  --body-size BYTES (100)  -c C (50)  --settle S (0.5)",
       stateless_rounds<run_s2s_round>},
  };
  return table;
}

std::string Options::text(const std::string& name, std::string fallback) const {
  auto it = values_.find(name);
  return it == values_.end() ? fallback : it->second;
}

long Options::integer(const std::string& name, long fallback) const {
  const std::string value = text(name, "");
  if (value.empty()) return fallback;
  char* end = nullptr;
  const long parsed = std::strtol(value.c_str(), &end, 10);
  if (*end != '\0' || parsed < 0) {
    std::fprintf(stderr, "parley-bench: %s wants a non-negative integer, not '%s'\n", name.c_str(), value.c_str());
    std::exit(2);
  }
  return parsed;
}

double Options::number(const std::string& name, double fallback) const {
  const std::string value = text(name, "");
  if (value.empty()) return fallback;
  char* end = nullptr;
  const double parsed = std::strtod(value.c_str(), &end);
  if (*end != '\0' || !(parsed >= 0)) {
    std::fprintf(stderr, "parley-bench: %s wants a non-negative number, not '%s'\n", name.c_str(), value.c_str());
    std::exit(2);
  }
  return parsed;
}

std::vector<std::string> Options::names() const {
  std::vector<std::string> names;
  for (const auto& [name, value] : values_) names.push_back(name);
  return names;
}

// Linear interpolation between closest ranks, so q = 0.5 is the usual
// median (mean of the middle two for an even count).
double quantile(std::vector<double> values, double q) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  const double position = q * static_cast<double>(values.size() - 1);
  const auto low = static_cast<std::size_t>(std::floor(position));
  const auto high = static_cast<std::size_t>(std::ceil(position));
  const double fraction = position - static_cast<double>(low);
  return values[low] + (values[high] - values[low]) * fraction;
}

}  // namespace parley::bench
