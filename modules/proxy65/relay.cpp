#include "modules/proxy65/relay.hpp"

#include <openssl/evp.h>

#include <vector>

#include "core/hex.hpp"
#include "net/net_loop.hpp"

namespace parley::modules::proxy65 {

std::string stream_hash(std::string_view sid, std::string_view requester, std::string_view target) {
  std::string data;
  data.append(sid).append(requester).append(target);
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_Digest(data.data(), data.size(), digest, &length, EVP_sha1(), nullptr);
  return core::hex_encode(std::string_view(reinterpret_cast<const char*>(digest), length));
}

// One SOCKS5 client of the proxy. Before activation it reads only the
// handshake; afterwards it forwards what it reads to its peer, pausing when
// the peer's output backs up (the peer's drain resumes it) or when the
// bandwidth budget is spent (a timer resumes it).
class Socks5Connection final : public net::ConnectionHandler {
 public:
  static constexpr size_t kHighWater = 256 * 1024;

  Socks5Connection(Relay& relay, uint64_t id, std::unique_ptr<net::Connection> connection)
      : relay_(relay), id_(id), connection_(std::move(connection)), timer_(new uv_timer_t) {
    uv_timer_init(relay_.loop(), timer_);
    timer_->data = this;
    accepted_at_ = uv_now(relay_.loop());
  }
  ~Socks5Connection() {
    if (peer_) peer_->peer_ = nullptr;
    uv_timer_stop(timer_);
    uv_close(reinterpret_cast<uv_handle_t*>(timer_), [](uv_handle_t* h) { delete reinterpret_cast<uv_timer_t*>(h); });
  }
  void start() { connection_->start(*this); }
  uint64_t id() const { return id_; }
  uint64_t accepted_at() const { return accepted_at_; }
  const std::string& hash() const { return hash_; }
  void close() { connection_->close(); }

  void activate(Socks5Connection& peer) {
    peer_ = &peer;
    active_ = true;
    started_at_ = uv_now(relay_.loop());
    if (!pending_.empty()) {
      std::string early;
      early.swap(pending_);
      forward(early);
    }
    update_reading();
  }
  void peer_closed() {
    peer_ = nullptr;
    connection_->close();  // after what is queued for this side was sent
  }

 private:
  enum class Step { Greeting, Request, Waiting };

  void on_data(std::string_view bytes) override {
    if (active_) {
      forward(bytes);
      return;
    }
    in_.append(bytes);
    if (step_ == Step::Greeting) greeting();
    if (step_ == Step::Request) request();
    if (step_ == Step::Waiting && in_.size() > kHighWater) connection_->abort();  // data before activation
  }
  void on_tls_established() override {}
  void on_closed(std::string_view) override {
    if (peer_) peer_->peer_closed();
    relay_.closed(id_);  // destroys this
  }
  void on_output_drained() override {
    if (peer_) peer_->update_reading();
  }

  // RFC 1928 §3: VER NMETHODS METHODS; we accept only 0x00 (no authentication).
  void greeting() {
    if (in_.size() < 2) return;
    auto count = static_cast<unsigned char>(in_[1]);
    if (in_[0] != 5) return connection_->abort();
    if (in_.size() < 2u + count) return;
    bool none = in_.substr(2, count).find('\0') != std::string::npos;
    in_.erase(0, 2 + count);
    if (!none) {
      connection_->write(std::string_view("\x05\xff", 2));
      connection_->close();
      return;
    }
    connection_->write(std::string_view("\x05\x00", 2));
    step_ = Step::Request;
  }

  // RFC 1928 §4: VER CMD RSV ATYP=3 LEN HASH PORT; XEP-0065 §6.3.2 CONNECT only.
  void request() {
    if (in_.size() < 5) return;
    auto length = static_cast<unsigned char>(in_[4]);
    if (in_.size() < 5u + length + 2) return;
    bool ok = in_[0] == 5 && in_[1] == 1 && in_[2] == 0 && in_[3] == 3 && length == 40;
    std::string hash = in_.substr(5, length);
    std::string reply = in_.substr(0, 5 + length + 2);
    in_.erase(0, 5 + length + 2);
    if (ok) {
      for (char c : hash) ok = ok && ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'));
    }
    if (ok && !relay_.attach(hash, *this)) ok = false;
    reply[1] = ok ? 0x00 : 0x01;  // succeeded / general failure
    if (reply.size() > 3) reply[3] = 3;
    connection_->write(reply);
    if (!ok) {
      connection_->close();
      return;
    }
    hash_ = hash;
    step_ = Step::Waiting;
    pending_ = std::move(in_);
    in_.clear();
  }

  void forward(std::string_view bytes) {
    if (!peer_) return;
    peer_->connection_->write(bytes);
    forwarded_ += bytes.size();
    update_reading();
  }

  // Reads while the peer keeps up and the bandwidth budget allows.
  void update_reading() {
    if (!active_ || !peer_) return;
    if (peer_->connection_->pending_output_bytes() > kHighWater) {
      connection_->pause_reading();
      return;
    }
    uint64_t rate = relay_.bytes_per_second();
    if (rate > 0) {
      uint64_t due = started_at_ + forwarded_ * 1000 / rate;  // when these bytes were allowed
      uint64_t now = uv_now(relay_.loop());
      if (due > now) {
        connection_->pause_reading();
        uv_timer_start(timer_, [](uv_timer_t* t) { static_cast<Socks5Connection*>(t->data)->update_reading(); },
                       due - now, 0);
        return;
      }
    }
    connection_->resume_reading();
  }

  Relay& relay_;
  uint64_t id_;
  std::unique_ptr<net::Connection> connection_;
  uv_timer_t* timer_;
  Socks5Connection* peer_ = nullptr;
  std::string in_;       // handshake bytes
  std::string pending_;  // data that came before activation (bounded)
  std::string hash_;
  Step step_ = Step::Greeting;
  bool active_ = false;
  uint64_t accepted_at_ = 0;
  uint64_t started_at_ = 0;
  uint64_t forwarded_ = 0;
};

Relay::Relay(net::NetLoop& net, uint64_t bytes_per_second, uint64_t activation_timeout_ms)
    : net_(net),
      bytes_per_second_(bytes_per_second),
      activation_timeout_ms_(activation_timeout_ms),
      sweeper_(new uv_timer_t) {
  uv_timer_init(net_.loop(), sweeper_);
  sweeper_->data = this;
  uv_timer_start(sweeper_, [](uv_timer_t* t) { static_cast<Relay*>(t->data)->sweep(); }, 1000, 1000);
}

Relay::~Relay() {
  listener_.reset();
  streams_.clear();
  connections_.clear();
  uv_timer_stop(sweeper_);
  uv_close(reinterpret_cast<uv_handle_t*>(sweeper_), [](uv_handle_t* h) { delete reinterpret_cast<uv_timer_t*>(h); });
}

uv_loop_t* Relay::loop() { return net_.loop(); }

bool Relay::listen(const std::string& address, uint16_t port, std::string& error) {
  std::vector<std::unique_ptr<net::Listener>> opened;
  if (!net::Listener::open_all(
          net_, {address}, port,
          [this](std::unique_ptr<net::Connection> connection) {
            uint64_t id = next_id_++;
            auto socks = std::make_unique<Socks5Connection>(*this, id, std::move(connection));
            Socks5Connection& ref = *socks;
            connections_.emplace(id, std::move(socks));
            ref.start();
          },
          opened, error)) {
    return false;
  }
  listener_ = std::move(opened.front());
  return true;
}

bool Relay::attach(const std::string& hash, Socks5Connection& connection) {
  Stream& stream = streams_[hash];
  if (!stream.first) {
    stream.first = &connection;
    return true;
  }
  if (!stream.second) {
    stream.second = &connection;
    return true;
  }
  return false;
}

ActivateResult Relay::activate(const std::string& hash) {
  auto it = streams_.find(hash);
  if (it == streams_.end()) return ActivateResult::NoSuchStream;
  Stream& stream = it->second;
  if (stream.active) return ActivateResult::AlreadyActive;
  if (!stream.first || !stream.second) return ActivateResult::NotBothConnected;
  stream.active = true;
  stream.first->activate(*stream.second);
  stream.second->activate(*stream.first);
  return ActivateResult::Activated;
}

void Relay::closed(uint64_t id) {
  auto it = connections_.find(id);
  if (it == connections_.end()) return;
  const std::string& hash = it->second->hash();
  if (auto stream = streams_.find(hash); !hash.empty() && stream != streams_.end()) {
    if (stream->second.first == it->second.get()) stream->second.first = nullptr;
    if (stream->second.second == it->second.get()) stream->second.second = nullptr;
    if (!stream->second.first && !stream->second.second) streams_.erase(stream);
  }
  connections_.erase(it);
}

// Connections never activated (a transfer that was abandoned) do not stay.
void Relay::sweep() {
  uint64_t now = uv_now(net_.loop());
  std::vector<Socks5Connection*> stale;
  for (auto& [id, connection] : connections_) {
    auto stream = streams_.find(connection->hash());
    bool active = stream != streams_.end() && stream->second.active;
    if (!active && now - connection->accepted_at() > activation_timeout_ms_) stale.push_back(connection.get());
  }
  for (Socks5Connection* connection : stale) connection->close();
}

}  // namespace parley::modules::proxy65
