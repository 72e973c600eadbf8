// login: N clients log in (TLS, SASL, bind) with at most C negotiating at
// once; each closes its stream as soon as it is bound. Measures the rate of
// complete logins and the latency from TCP connect to bind result.
#include "client_ramp.hpp"

namespace parley::bench {

RoundResult run_login_round(BenchRun& run, int) {
  ClientRamp::Settings settings;
  settings.count = static_cast<std::size_t>(run.options.integer("-n", 500));
  settings.concurrency = static_cast<std::size_t>(run.options.integer("-c", 50));
  settings.presence = run.options.integer("--presence", 0) != 0;
  settings.finish_when_ready = true;
  ClientRamp ramp(run, settings);

  const auto cpu_before = run.probe.cpu_at_start();
  const bool all_ready = ramp.run();
  const uint64_t end_ns = ramp.ready() ? ramp.last_ready_ns() : uv_hrtime();
  const auto cpu_after = run.probe.cpu_at_end();
  ramp.finish_all();

  RoundResult result;
  result.label("mech", run.clients.mechanism);
  result.add("n", static_cast<double>(settings.count));
  result.add("c", static_cast<double>(settings.concurrency));
  result.add("ok", static_cast<double>(ramp.ready()));
  result.add("failed", static_cast<double>(settings.count - ramp.ready()));
  const double elapsed = seconds_between(ramp.first_start_ns(), end_ns);
  result.add("logins_per_s", elapsed > 0 ? static_cast<double>(ramp.ready()) / elapsed : 0);
  result.add("lat_p50_ms", quantile(ramp.latencies_ms(), 0.5));
  result.add("lat_p90_ms", quantile(ramp.latencies_ms(), 0.9));
  if (cpu_before && cpu_after) {
    const double cpu = *cpu_after - *cpu_before;
    result.add("cpu_s", cpu);
    result.add("logins_per_cpu_s", cpu > 0 ? static_cast<double>(ramp.ready()) / cpu : 0);
  }
  if (!all_ready) {
    result.ok = false;
    result.note = ramp.first_error().empty() ? "timeout" : ramp.first_error();
  }
  return result;
}

}  // namespace parley::bench
