// messages: P sender -> receiver pairs exchange M chat messages in total.
// Each sender keeps at most W messages in flight; the generator sees both
// ends, so a receipt at the receiver frees a slot at its sender directly.
// Output is batched: each loop turn a sender tops its window up in one write.
#include "client_ramp.hpp"

namespace parley::bench {
namespace {

struct Pair {
  Client* sender = nullptr;
  Client* receiver = nullptr;
  std::size_t quota = 0;     // messages this pair must deliver
  std::size_t sent = 0;
  std::size_t received = 0;
};

bool is_error_message(std::string_view stanza) {
  const std::size_t tag_end = stanza.find('>');
  const std::string_view tag = stanza.substr(0, tag_end);
  return tag.find("type='error'") != std::string_view::npos || tag.find("type=\"error\"") != std::string_view::npos;
}

}  // namespace

RoundResult run_messages_round(BenchRun& run, int) {
  const auto pair_count = static_cast<std::size_t>(run.options.integer("--pairs", 50));
  const auto window = static_cast<std::size_t>(run.options.integer("--window", 20));
  const auto total = static_cast<std::size_t>(run.options.integer("--messages", 200000));
  const auto body_size = static_cast<std::size_t>(run.options.integer("--body-size", 100));
  RoundResult result;

  ClientRamp::Settings settings;
  settings.count = 2 * pair_count;  // client 2i sends, client 2i+1 receives
  settings.concurrency = static_cast<std::size_t>(run.options.integer("-c", 100));
  settings.presence = true;
  ClientRamp ramp(run, settings);

  std::vector<Pair> pairs(pair_count);
  std::size_t delivered = 0, errors = 0;
  uint64_t last_receipt_ns = 0;
  ramp.on_stanza_hook = [&](Client& client, std::string_view stanza) {
    if (stanza.rfind("<message", 0) != 0) return;  // presence, iq: not counted
    Pair& pair = pairs[client.index() / 2];
    if (is_error_message(stanza)) {
      ++errors;
      return;
    }
    if (client.index() % 2 == 1) {
      ++pair.received;
      ++delivered;
      last_receipt_ns = uv_hrtime();
    }
  };
  if (!ramp.run()) {
    result.ok = false;
    result.note = "login failed: " + (ramp.first_error().empty() ? std::string("timeout") : ramp.first_error());
    ramp.finish_all();
    return result;
  }
  for (std::size_t i = 0; i < pair_count; ++i) {
    pairs[i].sender = ramp.clients()[2 * i].get();
    pairs[i].receiver = ramp.clients()[2 * i + 1].get();
    pairs[i].quota = total / pair_count + (i < total % pair_count ? 1 : 0);
  }
  // Let initial presence broadcasts finish before the clock starts.
  run.waiter.sleep(run.options.number("--settle", 0.5));

  const std::string body(body_size, 'x');
  std::vector<std::string> stanzas(pair_count);  // one prebuilt message per pair
  for (std::size_t i = 0; i < pair_count; ++i)
    stanzas[i] = "<message to='" + pairs[i].receiver->jid() + "' type='chat'><body>" + body + "</body></message>";

  std::string batch;
  auto top_up = [&] {
    for (std::size_t i = 0; i < pair_count; ++i) {
      Pair& pair = pairs[i];
      const std::size_t in_flight = pair.sent - pair.received;
      std::size_t room = std::min(window - std::min(window, in_flight), pair.quota - pair.sent);
      if (room == 0) continue;
      batch.clear();
      for (std::size_t k = 0; k < room; ++k) batch += stanzas[i];
      pair.sender->send(batch);
      pair.sent += room;
    }
  };

  const auto cpu_before = run.probe.cpu_at_start();
  const uint64_t start_ns = uv_hrtime();
  const bool done = run.waiter.run_until([&] { return delivered + errors >= total; }, run.timeout_s, top_up);
  const uint64_t end_ns = delivered ? last_receipt_ns : uv_hrtime();
  const auto cpu_after = run.probe.cpu_at_end();
  ramp.finish_all();

  const double elapsed = seconds_between(start_ns, end_ns);
  result.add("pairs", static_cast<double>(pair_count));
  result.add("window", static_cast<double>(window));
  result.add("body_bytes", static_cast<double>(body_size));
  result.add("msgs", static_cast<double>(delivered));
  result.add("errors", static_cast<double>(errors));
  result.add("msgs_per_s", elapsed > 0 ? static_cast<double>(delivered) / elapsed : 0);
  if (cpu_before && cpu_after) {
    const double cpu = *cpu_after - *cpu_before;
    result.add("cpu_s", cpu);
    result.add("msgs_per_cpu_s", cpu > 0 ? static_cast<double>(delivered) / cpu : 0);
  }
  if (!done || errors) {
    result.ok = false;
    result.note = !done ? "timeout after " + std::to_string(delivered) + " of " + std::to_string(total)
                        : std::to_string(errors) + " messages bounced";
    if (!ramp.first_error().empty()) result.note += " (" + ramp.first_error() + ")";
  }
  return result;
}

}  // namespace parley::bench
