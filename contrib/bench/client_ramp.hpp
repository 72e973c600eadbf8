// Logs in a batch of clients with bounded concurrency: the common first
// phase of every scenario.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "scenario.hpp"

namespace parley::bench {

class ClientRamp : public ClientListener {
 public:
  struct Settings {
    std::size_t count = 0;        // clients to log in
    std::size_t concurrency = 1;  // at most this many negotiating at once
    std::size_t first_user = 1;   // client i logs in as account first_user + i
    bool presence = false;        // send initial presence after bind
    bool finish_when_ready = false;  // close each client as soon as it is ready
    std::string resource = "bench";
  };

  ClientRamp(BenchRun& run, Settings settings);

  // Starts clients and runs the loop until every client is ready or has
  // failed, or run.timeout_s passes. True if all became ready.
  bool run();

  // Called for a client once bound (after the ramp's own bookkeeping).
  std::function<void(Client&)> on_ready_hook;
  // Called for every stanza a ready client receives.
  std::function<void(Client&, std::string_view)> on_stanza_hook;

  std::vector<std::unique_ptr<Client>>& clients() { return clients_; }
  std::size_t ready() const { return ready_; }
  std::size_t failed() const { return failed_; }
  std::size_t started() const { return next_; }
  const std::string& first_error() const { return first_error_; }
  const std::vector<double>& latencies_ms() const { return latencies_ms_; }  // start -> bound
  uint64_t first_start_ns() const { return first_start_ns_; }
  uint64_t last_ready_ns() const { return last_ready_ns_; }

  // Ends every client's stream without waiting.
  void finish_streams();
  // finish_streams(), then waits until no socket of the run is open and
  // drops the clients.
  void finish_all();

  void on_ready(Client& client) override;
  void on_stanza(Client& client, std::string_view stanza) override;
  void on_closed(Client& client, std::string_view reason) override;

 private:
  void start_more();

  BenchRun& run_;
  Settings settings_;
  std::vector<std::unique_ptr<Client>> clients_;
  std::size_t next_ = 0;
  std::size_t in_flight_ = 0;
  std::size_t ready_ = 0;
  std::size_t failed_ = 0;
  std::string first_error_;
  std::vector<double> latencies_ms_;
  uint64_t first_start_ns_ = 0;
  uint64_t last_ready_ns_ = 0;
};

}  // namespace parley::bench
