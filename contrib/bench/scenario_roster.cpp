// roster: login of a user with a large roster (issue 3, benchmark 6). Each
// round <prefix>1, whose roster the driver filled with N items, logs in
// (TLS, SASL, bind), sends a roster get without a version (RFC 6121 §2.1.3,
// so the whole roster comes back, not a §2.6 delta) and waits for the
// result. Measures TCP connect -> roster result, and its two parts.
#include <optional>

#include "client_ramp.hpp"

namespace parley::bench {

RoundResult run_roster_round(BenchRun& run, int) {
  constexpr std::string_view roster_id = "roster1";
  const auto expected = static_cast<std::size_t>(run.options.integer("--items", 1000));
  ClientRamp::Settings settings;
  settings.count = 1;
  settings.first_user = 1;
  ClientRamp ramp(run, settings);

  uint64_t get_sent_ns = 0, result_ns = 0;
  std::optional<std::size_t> items;
  std::size_t result_bytes = 0;
  std::string error;
  ramp.on_ready_hook = [&](Client& client) {
    get_sent_ns = uv_hrtime();
    client.send("<iq type='get' id='" + std::string(roster_id) + "'><query xmlns='jabber:iq:roster'/></iq>");
  };
  ramp.on_stanza_hook = [&](Client&, std::string_view stanza) {
    if (root_name(stanza) != "iq" || root_attribute(stanza, "id") != roster_id) return;
    result_ns = uv_hrtime();
    if (root_attribute(stanza, "type") == "result") {
      items = count_elements(stanza, "item");
      result_bytes = stanza.size();
    } else {
      error = std::string(stanza.substr(0, 300));
    }
  };

  const auto cpu_before = run.probe.cpu_at_start();
  const bool logged_in = ramp.run();
  const bool answered = logged_in && run.waiter.run_until([&] { return result_ns != 0; }, run.timeout_s);
  const auto cpu_after = run.probe.cpu_at_end();
  RoundResult result;
  if (!logged_in || !answered) {
    ramp.finish_all();
    result.ok = false;
    result.note = !logged_in ? "login failed: " + ramp.first_error() : "no answer to the roster request";
    return result;
  }
  const uint64_t started_ns = ramp.clients().front()->started_ns();
  const uint64_t ready_ns = ramp.clients().front()->ready_ns();
  const Client& client = *ramp.clients().front();
  result.label("login", client.used_fast() ? "fast+bind2" : client.used_sasl2() ? "sasl2+bind2" : "sasl+bind");
  result.label("tls", ramp.clients().front()->resumed_tls() ? "resumed" : "full");
  ramp.finish_all();

  result.add("items", static_cast<double>(items.value_or(0)));
  result.add("login_ms", static_cast<double>(ready_ns - started_ns) / 1e6);
  result.add("roster_ms", static_cast<double>(result_ns - get_sent_ns) / 1e6);
  result.add("total_ms", static_cast<double>(result_ns - started_ns) / 1e6);
  result.add("result_kib", static_cast<double>(result_bytes) / 1024.0);
  if (cpu_before && cpu_after) result.add("cpu_ms", (*cpu_after - *cpu_before) * 1e3);
  if (!error.empty()) {
    result.ok = false;
    result.note = "roster request failed (no roster on the server?): " + error;
  } else if (*items != expected) {
    result.ok = false;
    result.note = "roster result has " + std::to_string(*items) + " items, expected " + std::to_string(expected);
  }
  return result;
}

}  // namespace parley::bench
