// What a benchmark scenario is, and what it gets to work with.
//
// Adding a scenario: write scenario_<name>.cpp with a function
//   RoundResult run_<name>_round(BenchRun& run, int round);
// declare it in scenarios.cpp, add one row to the table there (wrapped in
// stateless_rounds<>), and list the file in meson.build. A scenario that
// keeps state across rounds implements ScenarioRounds instead (see idle,
// fanout). Read options with run.options.integer("--x", default)
// and list each in the row's options_help (unlisted options are refused).
#pragma once

#include <uv.h>

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "loop_waiter.hpp"
#include "server_probe.hpp"
#include "xmpp_client.hpp"

namespace parley::bench {

// Command-line options as "--name" -> value, with typed getters.
class Options {
 public:
  void set(std::string name, std::string value) { values_[std::move(name)] = std::move(value); }
  bool has(const std::string& name) const { return values_.count(name) != 0; }
  std::string text(const std::string& name, std::string fallback) const;
  long integer(const std::string& name, long fallback) const;   // exits with a message if malformed
  double number(const std::string& name, double fallback) const; // exits with a message if malformed
  std::vector<std::string> names() const;

 private:
  std::map<std::string, std::string> values_;
};

// One round's outcome: ok, or not with a reason; metrics in output order.
struct RoundResult {
  bool ok = true;
  std::string note;  // why not ok (timeout, failures)
  std::vector<std::pair<std::string, double>> metrics;
  std::vector<std::pair<std::string, std::string>> labels;  // non-numeric facts (mechanism)

  void add(std::string name, double value) { metrics.emplace_back(std::move(name), value); }
  void label(std::string name, std::string value) { labels.emplace_back(std::move(name), std::move(value)); }
};

// Everything a scenario round uses.
struct BenchRun {
  ClientContext& clients;
  LoopWaiter& waiter;
  const Options& options;
  ServerProbe& probe;
  std::string user_prefix;  // accounts are <prefix>1 .. <prefix>N
  std::string password;
  double timeout_s;         // bound on every wait

  std::string username(std::size_t number) const { return user_prefix + std::to_string(number); }
  // Waits until all sockets of the previous phase are closed (bounded).
  void drain() { waiter.run_until([this] { return clients.open_sockets == 0; }, timeout_s); }
};

// The rounds of one scenario run; destroyed (closing what it holds) after
// the last round.
class ScenarioRounds {
 public:
  virtual ~ScenarioRounds() = default;
  virtual RoundResult run_round(int round) = 0;
};

// Adapts a plain per-round function to ScenarioRounds.
template <RoundResult (*RunRound)(BenchRun&, int)>
std::unique_ptr<ScenarioRounds> stateless_rounds(BenchRun& run) {
  struct Rounds : ScenarioRounds {
    explicit Rounds(BenchRun& r) : run(r) {}
    RoundResult run_round(int round) override { return RunRound(run, round); }
    BenchRun& run;
  };
  return std::make_unique<Rounds>(run);
}

struct Scenario {
  std::string_view name;
  std::string_view summary;
  std::string_view options_help;
  std::unique_ptr<ScenarioRounds> (*start)(BenchRun& run);
};

// The table of scenarios, in the order `--help` lists them.
const std::vector<Scenario>& scenarios();

// Shared statistics helpers (sorted copy; q in [0, 1], nearest rank).
double quantile(std::vector<double> values, double q);
inline double median(std::vector<double> values) { return quantile(std::move(values), 0.5); }

// Seconds between two uv_hrtime() readings.
inline double seconds_between(uint64_t from_ns, uint64_t to_ns) { return static_cast<double>(to_ns - from_ns) / 1e9; }

}  // namespace parley::bench
