// parley-bench: a load generator for any XMPP server (c2s). It runs one
// scenario for a number of rounds and prints one machine-readable line per
// round, then a table of medians. See README.md.
#include <signal.h>
#include <sys/resource.h>

#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <vector>

#include "scenario.hpp"

using namespace parley::bench;

namespace {

constexpr std::string_view common_options =
    "  --host IP (127.0.0.1)  --port PORT (5222)  --domain DOMAIN (localhost)\n"
    "  --user-prefix P (bench)  --password PW (bench)   accounts are P1..PN\n"
    "  --mech SCRAM-SHA-1|SCRAM-SHA-256|SCRAM-SHA-512|PLAIN (SCRAM-SHA-1)\n"
    "  --fast yes|no (yes: XEP-0484 FAST tokens where offered, as returning clients use them)\n"
    "  --tls-resume yes|no (yes: resume TLS with the last session ticket, as returning clients do)\n"
    "  --direct-tls yes|no (yes: --port is a XEP-0368 direct TLS port: TLS first, no STARTTLS)\n"
    "  --sasl2 yes|no (yes: SASL2 + Bind2 where the server offers them, as current clients do)\n"
    "  --server-name NAME (server)  --server-pid PID[,PID...]  (RSS of the first; CPU of all)\n"
    "  --rounds R (5)  --timeout SECONDS (60, bounds every wait)\n";

void usage(FILE* out) {
  std::fprintf(out, "usage: parley-bench SCENARIO [options]\ncommon options:\n%s\nscenarios:\n",
               std::string(common_options).c_str());
  for (const auto& s : scenarios())
    std::fprintf(out, "  %-9s %s\n            %s\n", std::string(s.name).c_str(), std::string(s.summary).c_str(),
                 std::string(s.options_help).c_str());
}

// Thousands of connections need thousands of descriptors.
void raise_fd_limit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    setrlimit(RLIMIT_NOFILE, &limit);
  }
}

// True if `name` appears in the usage text as a whole word.
bool listed(const std::string& text, const std::string& name) {
  for (std::size_t at = text.find(name); at != std::string::npos; at = text.find(name, at + 1)) {
    const char before = at > 0 ? text[at - 1] : ' ';
    const char after = at + name.size() < text.size() ? text[at + name.size()] : ' ';
    if ((before == ' ' || before == '\n') && (after == ' ' || after == '\n')) return true;
  }
  return false;
}

std::vector<pid_t> parse_pids(const std::string& text) {
  std::vector<pid_t> pids;
  std::size_t pos = 0;
  while (pos < text.size()) {
    std::size_t end = text.find(',', pos);
    if (end == std::string::npos) end = text.size();
    const long pid = std::atol(text.substr(pos, end - pos).c_str());
    if (pid <= 0) {
      std::fprintf(stderr, "parley-bench: bad pid list '%s'\n", text.c_str());
      std::exit(2);
    }
    pids.push_back(static_cast<pid_t>(pid));
    pos = end + 1;
  }
  return pids;
}

void print_round(const std::string& scenario, const std::string& server, int round, const RoundResult& r) {
  std::printf("scenario=%s server=%s round=%d status=%s", scenario.c_str(), server.c_str(), round,
              r.ok ? "ok" : "fail");
  for (const auto& [name, value] : r.labels) std::printf(" %s=%s", name.c_str(), value.c_str());
  for (const auto& [name, value] : r.metrics) std::printf(" %s=%.6g", name.c_str(), value);
  if (!r.ok) {
    std::string note = r.note;
    for (char& c : note)
      if (c == ' ' || c == '\n' || c == '\t') c = '_';
    std::printf(" note=%s", note.c_str());
  }
  std::printf("\n");
  std::fflush(stdout);
}

// Medians over the rounds that succeeded, one row per metric.
void print_summary(const std::string& scenario, const std::string& server, const std::vector<RoundResult>& rounds) {
  std::vector<std::string> order;
  std::map<std::string, std::vector<double>> values;
  int ok_rounds = 0;
  for (const auto& r : rounds) {
    if (!r.ok) continue;
    ++ok_rounds;
    for (const auto& [name, value] : r.metrics) {
      if (!values.count(name)) order.push_back(name);
      values[name].push_back(value);
    }
  }
  std::printf("# summary scenario=%s server=%s rounds_ok=%d/%zu\n", scenario.c_str(), server.c_str(), ok_rounds,
              rounds.size());
  if (ok_rounds == 0) return;
  std::printf("# %-18s %14s %14s %14s\n", "metric", "median", "min", "max");
  for (const auto& name : order) {
    const auto& v = values[name];
    std::printf("# %-18s %14.6g %14.6g %14.6g\n", name.c_str(), median(v), quantile(v, 0), quantile(v, 1));
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || std::string(argv[1]) == "--help" || std::string(argv[1]) == "-h") {
    usage(argc < 2 ? stderr : stdout);
    return argc < 2 ? 2 : 0;
  }
  const std::string scenario_name = argv[1];
  const Scenario* scenario = nullptr;
  for (const auto& s : scenarios())
    if (s.name == scenario_name) scenario = &s;
  if (!scenario) {
    std::fprintf(stderr, "parley-bench: unknown scenario '%s'\n", scenario_name.c_str());
    usage(stderr);
    return 2;
  }
  Options options;
  for (int i = 2; i < argc; ++i) {
    const std::string name = argv[i];
    if (name.rfind("-", 0) != 0 || i + 1 >= argc) {
      std::fprintf(stderr, "parley-bench: expected '--option value', got '%s'\n", name.c_str());
      return 2;
    }
    options.set(name, argv[++i]);
  }
  // Only options listed in the usage text are accepted: a typo must not
  // silently run with a default.
  const std::string known = " " + std::string(common_options) + " " + std::string(scenario->options_help) + " ";
  for (const auto& name : options.names()) {
    if (!listed(known, name)) {
      std::fprintf(stderr, "parley-bench: unknown option %s for %s\n", name.c_str(), scenario_name.c_str());
      return 2;
    }
  }

  signal(SIGPIPE, SIG_IGN);  // a server closing mid-write must not kill the generator
  raise_fd_limit();

  uv_loop_t loop;
  uv_loop_init(&loop);
  auto context = std::make_unique<ClientContext>();
  ClientContext& clients = *context;
  loop.data = &clients;
  clients.loop = &loop;
  clients.domain = options.text("--domain", "localhost");
  clients.mechanism = options.text("--mech", "SCRAM-SHA-1");
  clients.sasl2 = options.text("--sasl2", "yes") != "no";
  clients.tls_resume = options.text("--tls-resume", "no") == "yes";
  clients.fast = options.text("--fast", "no") == "yes";
  clients.direct_tls = options.text("--direct-tls", "no") == "yes";
  if (clients.mechanism != "PLAIN" && !scram_hash_from_mechanism(clients.mechanism)) {
    std::fprintf(stderr, "parley-bench: unsupported mechanism '%s'\n", clients.mechanism.c_str());
    return 2;
  }
  const std::string host = options.text("--host", "127.0.0.1");
  const long port = options.integer("--port", 5222);
  if (port <= 0 || port > 65535 || !set_server_address(clients, host, static_cast<uint16_t>(port))) {
    std::fprintf(stderr, "parley-bench: --host must be an IP address and --port a port\n");
    return 2;
  }
  clients.tls = make_client_tls_context();
  const std::string server_name = options.text("--server-name", "server");
  ServerProbe probe(options.has("--server-pid") ? parse_pids(options.text("--server-pid", "")) : std::vector<pid_t>{});
  const int rounds = static_cast<int>(options.integer("--rounds", 5));

  int status = 0;
  {
    LoopWaiter waiter(&loop);
    BenchRun run{clients, waiter, options, probe, options.text("--user-prefix", "bench"),
                 options.text("--password", "bench"), options.number("--timeout", 60)};
    std::vector<RoundResult> results;
    auto scenario_rounds = scenario->start(run);
    for (int round = 1; round <= rounds; ++round) {
      results.push_back(scenario_rounds->run_round(round));
      print_round(scenario_name, server_name, round, results.back());
      if (!results.back().ok) status = 1;
    }
    scenario_rounds.reset();
    print_summary(scenario_name, server_name, results);
  }
  if (clients.resumable) SSL_SESSION_free(clients.resumable);
  SSL_CTX_free(clients.tls);
  uv_run(&loop, UV_RUN_NOWAIT);
  uv_loop_close(&loop);
  return status;
}
