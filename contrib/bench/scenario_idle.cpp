// idle: each round opens N more authenticated connections with initial
// presence and keeps them, waits until the server has processed them (each
// client's ping is answered; a server handles one stream's stanzas in order,
// RFC 6120 §10.1), lets it settle, and divides the growth of the server's
// RSS by N. Connections accumulate over the rounds (round r holds r*N, on
// accounts (r-1)*N+1 .. r*N) because closing them between rounds would let
// the next round reuse freed memory and report too little.
#include "client_ramp.hpp"

namespace parley::bench {
namespace {

constexpr std::string_view settle_id = "settle1";

class IdleRounds : public ScenarioRounds {
 public:
  explicit IdleRounds(BenchRun& run) : run_(run) {}
  ~IdleRounds() override {
    // drain() waits for every socket of the run, so end all streams first.
    for (auto& ramp : ramps_) ramp->finish_streams();
    run_.drain();
  }

  RoundResult run_round(int round) override {
    ClientRamp::Settings settings;
    settings.count = static_cast<std::size_t>(run_.options.integer("-n", 1000));
    settings.concurrency = static_cast<std::size_t>(run_.options.integer("-c", 100));
    settings.first_user = static_cast<std::size_t>(round - 1) * settings.count + 1;
    settings.presence = true;
    const double settle_s = run_.options.number("--settle", 1.0);
    RoundResult result;
    if (!run_.probe.enabled()) {
      result.ok = false;
      result.note = "idle needs --server-pid";
      return result;
    }

    const auto rss_before = run_.probe.rss_kib();
    auto& ramp = *ramps_.emplace_back(std::make_unique<ClientRamp>(run_, settings));
    std::size_t settled = 0;
    // XEP-0199 ping to the server; any answer (even an error) proves that
    // the presence sent before it was processed.
    const std::string ping = "<iq type='get' id='" + std::string(settle_id) + "' to='" + run_.clients.domain +
                             "'><ping xmlns='urn:xmpp:ping'/></iq>";
    ramp.on_ready_hook = [ping](Client& client) { client.send(ping); };
    ramp.on_stanza_hook = [&settled](Client&, std::string_view stanza) {
      if (stanza.rfind("<iq", 0) == 0 && stanza.find(settle_id) != std::string_view::npos) ++settled;
    };
    bool ok = ramp.run();
    ok = run_.waiter.run_until([&] { return settled == ramp.ready(); }, run_.timeout_s) && ok;
    ramp.on_stanza_hook = nullptr;  // `settled` goes out of scope
    run_.waiter.sleep(settle_s);
    const auto rss_after = run_.probe.rss_kib();

    const std::size_t open = ramp.ready();
    held_ += open;
    result.add("n", static_cast<double>(settings.count));
    result.add("ok", static_cast<double>(open));
    result.add("failed", static_cast<double>(settings.count - open));
    result.add("open_total", static_cast<double>(held_));
    if (rss_before && rss_after) {
      const double delta = static_cast<double>(*rss_after - *rss_before);
      const double per_conn = open ? delta / static_cast<double>(open) : 0;
      result.add("rss_before_kib", static_cast<double>(*rss_before));
      result.add("rss_after_kib", static_cast<double>(*rss_after));
      result.add("kib_per_conn", per_conn);
      result.add("conns_per_gib", per_conn > 0 ? 1024.0 * 1024.0 / per_conn : 0);
    } else {
      ok = false;
      result.note = "could not read the server's RSS";
    }
    if (!ok) {
      result.ok = false;
      if (result.note.empty()) result.note = ramp.first_error().empty() ? "timeout" : ramp.first_error();
    }
    return result;
  }

 private:
  BenchRun& run_;
  std::vector<std::unique_ptr<ClientRamp>> ramps_;
  std::size_t held_ = 0;
};

}  // namespace

std::unique_ptr<ScenarioRounds> start_idle(BenchRun& run) { return std::make_unique<IdleRounds>(run); }

}  // namespace parley::bench
