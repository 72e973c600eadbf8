// fanout: presence fan-out (issue 3, benchmark 5). The hub account
// <prefix>1 has N contacts <prefix>2 .. <prefix>N+1, subscribed both ways
// (the driver writes the rosters). Once, before the first round: the hub
// logs in and checks that its roster holds the N contacts, the contacts log
// in with initial presence, the hub sends initial presence, and the run
// waits until every contact has the hub's presence (RFC 6121 §4.2.2
// broadcast) and the hub has every contact's (the §4.3 probe answers), then
// until the streams are quiet. Each round the hub changes its presence
// (<show>away</show> and a round-specific status) and the round measures
// from that send until the last contact has received it (RFC 6121 §4.4.2).
// All clients stay online across rounds.
#include <optional>
#include <string>

#include "client_ramp.hpp"

namespace parley::bench {
namespace {

constexpr std::string_view roster_id = "roster1";

bool has_type(std::string_view stanza) { return !root_attribute(stanza, "type").empty(); }

class FanoutRounds : public ScenarioRounds {
 public:
  explicit FanoutRounds(BenchRun& run)
      : run_(run),
        contact_count_(static_cast<std::size_t>(run.options.integer("--contacts", 1000))),
        settle_s_(run.options.number("--settle", 1.0)) {}

  ~FanoutRounds() override {
    // drain() waits for every socket of the run, so end all streams first.
    if (hub_ramp_) hub_ramp_->finish_streams();
    if (contact_ramp_) contact_ramp_->finish_streams();
    run_.drain();
  }

  RoundResult run_round(int round) override {
    RoundResult result;
    if (!set_up_) {
      set_up_ = true;
      setup_error_ = set_up();
    }
    if (setup_error_) {
      result.ok = false;
      result.note = *setup_error_;
      return result;
    }
    current_tag_ = "fanout-round-" + std::to_string(round);
    received_ = 0;
    errors_ = 0;
    arrivals_ms_.clear();
    last_arrival_ns_ = 0;

    const auto cpu_before = run_.probe.cpu_at_start();
    send_ns_ = uv_hrtime();
    hub_->send("<presence><show>away</show><status>" + current_tag_ + "</status></presence>");
    const bool done = run_.waiter.run_until([this] { return received_ == contact_count_; }, run_.timeout_s);
    const uint64_t end_ns = received_ ? last_arrival_ns_ : uv_hrtime();
    const auto cpu_after = run_.probe.cpu_at_end();

    result.add("contacts", static_cast<double>(contact_count_));
    result.add("received", static_cast<double>(received_));
    result.add("fanout_ms", static_cast<double>(end_ns - send_ns_) / 1e6);
    result.add("lat_p50_ms", quantile(arrivals_ms_, 0.5));
    const double elapsed = seconds_between(send_ns_, end_ns);
    result.add("presences_per_s", elapsed > 0 ? static_cast<double>(received_) / elapsed : 0);
    if (cpu_before && cpu_after) result.add("cpu_ms", (*cpu_after - *cpu_before) * 1e3);
    if (!done || errors_) {
      result.ok = false;
      result.note = !done ? "timeout: " + std::to_string(received_) + " of " + std::to_string(contact_count_) +
                                " contacts received the presence"
                          : std::to_string(errors_) + " presence errors";
    }
    current_tag_.clear();
    wait_quiet();  // stragglers of this round must not run into the next
    return result;
  }

 private:
  // Logs everyone in and settles; an error message if the setup failed.
  std::optional<std::string> set_up() {
    ClientRamp::Settings hub_settings;
    hub_settings.count = 1;
    hub_settings.first_user = 1;
    hub_settings.resource = "hub";
    hub_ramp_ = std::make_unique<ClientRamp>(run_, hub_settings);
    hub_ramp_->on_stanza_hook = [this](Client&, std::string_view stanza) { hub_stanza(stanza); };
    if (!hub_ramp_->run()) return "hub login failed: " + hub_ramp_->first_error();
    hub_ = hub_ramp_->clients().front().get();

    // RFC 6121 §2.1.3: roster get, before initial presence as a client does.
    hub_->send("<iq type='get' id='" + std::string(roster_id) + "'><query xmlns='jabber:iq:roster'/></iq>");
    if (!run_.waiter.run_until([this] { return roster_items_.has_value() || !roster_error_.empty(); },
                               run_.timeout_s))
      return std::string("no answer to the hub's roster request");
    if (!roster_error_.empty()) return "roster request failed (no roster on the server?): " + roster_error_;
    if (*roster_items_ != contact_count_)
      return "the hub's roster has " + std::to_string(*roster_items_) + " items, expected " +
             std::to_string(contact_count_);

    ClientRamp::Settings contact_settings;
    contact_settings.count = contact_count_;
    contact_settings.concurrency = static_cast<std::size_t>(run_.options.integer("-c", 100));
    contact_settings.first_user = 2;
    contact_settings.presence = true;
    contact_ramp_ = std::make_unique<ClientRamp>(run_, contact_settings);
    contact_seen_round_.assign(contact_count_, "");
    contact_ramp_->on_stanza_hook = [this](Client& client, std::string_view stanza) {
      contact_stanza(client, stanza);
    };
    if (!contact_ramp_->run())
      return std::to_string(contact_ramp_->failed()) + " contact logins failed: " + contact_ramp_->first_error();

    current_tag_ = initial_tag;
    send_ns_ = uv_hrtime();
    hub_->send("<presence/>");
    const bool settled = run_.waiter.run_until(
        [this] { return received_ == contact_count_ && hub_presences_ >= contact_count_; }, run_.timeout_s);
    current_tag_.clear();
    if (!settled)
      return "after the hub's initial presence, " + std::to_string(received_) + " of " +
             std::to_string(contact_count_) + " contacts had it and the hub had " + std::to_string(hub_presences_) +
             " contact presences";
    wait_quiet();
    return std::nullopt;
  }

  void hub_stanza(std::string_view stanza) {
    last_stanza_ns_ = uv_hrtime();
    const std::string_view name = root_name(stanza);
    if (name == "iq" && root_attribute(stanza, "id") == roster_id) {
      if (root_attribute(stanza, "type") == "result")
        roster_items_ = count_elements(stanza, "item");
      else
        roster_error_ = std::string(stanza.substr(0, 300));
    } else if (name == "presence") {
      if (root_attribute(stanza, "type") == "error") ++errors_;
      if (!has_type(stanza)) ++hub_presences_;
    }
  }

  // Counts the hub's available presence carrying the current tag, once per
  // contact and round. The initial presence has no status, so during setup
  // any available presence from the hub counts.
  void contact_stanza(Client& client, std::string_view stanza) {
    last_stanza_ns_ = uv_hrtime();
    if (current_tag_.empty() || root_name(stanza) != "presence" || has_type(stanza)) return;
    if (root_attribute(stanza, "from") != hub_->jid()) return;
    if (current_tag_ != initial_tag && stanza.find(">" + current_tag_ + "<") == std::string_view::npos) return;
    std::string& seen = contact_seen_round_[client.index()];
    if (seen == current_tag_) return;
    seen = current_tag_;
    ++received_;
    last_arrival_ns_ = uv_hrtime();
    arrivals_ms_.push_back(static_cast<double>(last_arrival_ns_ - send_ns_) / 1e6);
  }

  // Runs the loop until no client has received anything for settle_s
  // (bounded by the run's timeout).
  void wait_quiet() {
    const uint64_t deadline = uv_hrtime() + static_cast<uint64_t>(run_.timeout_s * 1e9);
    const auto quiet_ns = static_cast<uint64_t>(settle_s_ * 1e9);
    last_stanza_ns_ = uv_hrtime();
    while (uv_hrtime() - last_stanza_ns_ < quiet_ns && uv_hrtime() < deadline) run_.waiter.sleep(0.05);
  }

  static constexpr std::string_view initial_tag = "initial";

  BenchRun& run_;
  const std::size_t contact_count_;
  const double settle_s_;
  bool set_up_ = false;
  std::optional<std::string> setup_error_;
  std::unique_ptr<ClientRamp> hub_ramp_;
  std::unique_ptr<ClientRamp> contact_ramp_;
  Client* hub_ = nullptr;

  std::optional<std::size_t> roster_items_;
  std::string roster_error_;
  std::size_t hub_presences_ = 0;
  std::size_t errors_ = 0;
  std::vector<std::string> contact_seen_round_;  // per contact: the last tag counted
  std::string current_tag_;                      // empty: not counting
  std::size_t received_ = 0;
  std::vector<double> arrivals_ms_;
  uint64_t send_ns_ = 0;
  uint64_t last_arrival_ns_ = 0;
  uint64_t last_stanza_ns_ = 0;
};

}  // namespace

std::unique_ptr<ScenarioRounds> start_fanout(BenchRun& run) { return std::make_unique<FanoutRounds>(run); }

}  // namespace parley::bench
