// s2s: message throughput across one federation link. P senders log in to
// the server under test (--port, --domain) and P receivers to its peer
// (--peer-port, --peer-domain); each sender keeps at most W chat messages in
// flight to its receiver's full JID on the other domain, M in total. Every
// message crosses the one s2s link between the two servers. The generator
// sees both ends, as in `messages`.
#include "client_ramp.hpp"

namespace parley::bench {

namespace {

bool is_error(std::string_view stanza) {
  const std::string_view tag = stanza.substr(0, stanza.find('>'));
  return tag.find("type='error'") != std::string_view::npos || tag.find("type=\"error\"") != std::string_view::npos;
}

// Both sides' streams end before waiting: finish_all() waits for every
// socket of the run, the other ramp's included.
void finish(ClientRamp& senders, ClientRamp& receivers) {
  senders.finish_streams();
  receivers.finish_streams();
  senders.finish_all();
  receivers.finish_all();
}

}  // namespace

RoundResult run_s2s_round(BenchRun& run, int) {
  const auto pair_count = static_cast<std::size_t>(run.options.integer("--pairs", 20));
  const auto window = static_cast<std::size_t>(run.options.integer("--window", 20));
  const auto total = static_cast<std::size_t>(run.options.integer("--messages", 50000));
  const auto body_size = static_cast<std::size_t>(run.options.integer("--body-size", 100));
  RoundResult result;

  // The receivers' server: same loop, own address and domain.
  ClientContext peer;
  peer.loop = run.clients.loop;
  peer.tls = run.clients.tls;
  peer.mechanism = run.clients.mechanism;
  peer.domain = run.options.text("--peer-domain", "");
  const long peer_port = run.options.integer("--peer-port", 0);
  if (peer.domain.empty() || peer_port <= 0 || peer_port > 65535 ||
      !set_server_address(peer, run.options.text("--peer-host", "127.0.0.1"), static_cast<uint16_t>(peer_port))) {
    result.ok = false;
    result.note = "s2s needs --peer-domain and --peer-port";
    return result;
  }
  BenchRun peer_run{peer, run.waiter, run.options, run.probe, run.user_prefix, run.password, run.timeout_s};

  ClientRamp::Settings settings;
  settings.count = pair_count;
  settings.concurrency = static_cast<std::size_t>(run.options.integer("-c", 50));
  settings.presence = true;
  ClientRamp senders(run, settings);
  ClientRamp receivers(peer_run, settings);

  std::vector<std::size_t> sent(pair_count), received(pair_count);
  std::size_t delivered = 0, errors = 0;
  uint64_t last_receipt_ns = 0;
  std::string first_error;
  auto count = [&](Client&, std::string_view stanza, bool receiver, std::size_t index) {
    if (stanza.rfind("<message", 0) != 0) return;
    if (is_error(stanza)) {
      if (first_error.empty()) first_error = std::string(stanza.substr(0, 300));
      ++errors;
      return;
    }
    if (!receiver) return;
    ++received[index];
    ++delivered;
    last_receipt_ns = uv_hrtime();
  };
  senders.on_stanza_hook = [&](Client& c, std::string_view s) { count(c, s, false, c.index()); };
  receivers.on_stanza_hook = [&](Client& c, std::string_view s) { count(c, s, true, c.index()); };
  if (!receivers.run() || !senders.run()) {
    result.ok = false;
    std::string why = receivers.first_error().empty() ? senders.first_error() : receivers.first_error();
    result.note = "login failed: " + (why.empty() ? std::string("timeout") : why);
    finish(senders, receivers);
    return result;
  }
  run.waiter.sleep(run.options.number("--settle", 0.5));

  const std::string body(body_size, 'x');
  std::vector<std::string> stanzas(pair_count);
  std::vector<std::size_t> quota(pair_count);
  for (std::size_t i = 0; i < pair_count; ++i) {
    stanzas[i] = "<message to='" + receivers.clients()[i]->jid() + "' type='chat'><body>" + body + "</body></message>";
    quota[i] = total / pair_count + (i < total % pair_count ? 1 : 0);
  }
  // The first message opens the link; the clock starts once it is through,
  // so link set-up (TCP, TLS, SASL EXTERNAL) is not part of the rate.
  senders.clients()[0]->send(stanzas[0]);
  sent[0] = 1;
  run.waiter.run_until([&] { return delivered + errors >= 1; }, run.timeout_s);

  std::string batch;
  auto top_up = [&] {
    for (std::size_t i = 0; i < pair_count; ++i) {
      const std::size_t in_flight = sent[i] - received[i];
      std::size_t room = std::min(window - std::min(window, in_flight), quota[i] - sent[i]);
      if (room == 0) continue;
      batch.clear();
      for (std::size_t k = 0; k < room; ++k) batch += stanzas[i];
      senders.clients()[i]->send(batch);
      sent[i] += room;
    }
  };
  const std::size_t warmup = delivered;
  const auto cpu_before = run.probe.cpu_at_start();
  const uint64_t start_ns = uv_hrtime();
  const bool done = run.waiter.run_until([&] { return delivered + errors >= total; }, run.timeout_s, top_up);
  const uint64_t end_ns = delivered > warmup ? last_receipt_ns : uv_hrtime();
  const auto cpu_after = run.probe.cpu_at_end();
  finish(senders, receivers);

  const double measured = static_cast<double>(delivered - warmup);
  const double elapsed = seconds_between(start_ns, end_ns);
  result.add("pairs", static_cast<double>(pair_count));
  result.add("window", static_cast<double>(window));
  result.add("body_bytes", static_cast<double>(body_size));
  result.add("msgs", static_cast<double>(delivered));
  result.add("errors", static_cast<double>(errors));
  result.add("msgs_per_s", elapsed > 0 ? measured / elapsed : 0);
  if (cpu_before && cpu_after) {
    const double cpu = *cpu_after - *cpu_before;
    result.add("cpu_s", cpu);
    result.add("msgs_per_cpu_s", cpu > 0 ? measured / cpu : 0);
  }
  if (!done || errors) {
    result.ok = false;
    result.note = !done ? "timeout after " + std::to_string(delivered) + " of " + std::to_string(total)
                        : std::to_string(errors) + " messages bounced: " + first_error;
  }
  return result;
}

}  // namespace parley::bench
