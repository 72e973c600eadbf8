#include "client_ramp.hpp"

namespace parley::bench {

ClientRamp::ClientRamp(BenchRun& run, Settings settings) : run_(run), settings_(std::move(settings)) {
  clients_.reserve(settings_.count);
}

bool ClientRamp::run() {
  first_start_ns_ = uv_hrtime();
  start_more();
  return run_.waiter.run_until([this] { return ready_ + failed_ == settings_.count; }, run_.timeout_s) &&
         failed_ == 0;
}

// Starting clients from inside callbacks keeps the concurrency bound exact.
void ClientRamp::start_more() {
  while (in_flight_ < settings_.concurrency && next_ < settings_.count) {
    const std::size_t i = next_++;
    ++in_flight_;
    clients_.push_back(std::make_unique<Client>(run_.clients, *this, run_.username(settings_.first_user + i),
                                                run_.password, settings_.resource, settings_.presence, i));
    clients_.back()->start();
  }
}

void ClientRamp::on_ready(Client& client) {
  --in_flight_;
  ++ready_;
  last_ready_ns_ = client.ready_ns();
  latencies_ms_.push_back(static_cast<double>(client.ready_ns() - client.started_ns()) / 1e6);
  if (settings_.finish_when_ready) client.finish();
  if (on_ready_hook) on_ready_hook(client);
  start_more();
}

void ClientRamp::on_stanza(Client& client, std::string_view stanza) {
  if (on_stanza_hook) on_stanza_hook(client, stanza);
}

void ClientRamp::on_closed(Client& client, std::string_view reason) {
  if (first_error_.empty()) first_error_ = std::string(reason);
  if (client.ready_ns() == 0) {  // failed while negotiating
    --in_flight_;
    ++failed_;
    start_more();
  }
}

void ClientRamp::finish_streams() {
  for (auto& client : clients_) client->finish();
}

void ClientRamp::finish_all() {
  finish_streams();
  run_.drain();
  clients_.clear();
}

}  // namespace parley::bench
