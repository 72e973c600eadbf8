#include "net/resolver.hpp"

#include <arpa/inet.h>
#include <ares.h>
#include <netinet/in.h>

#include <algorithm>

namespace parley::net {

std::vector<SrvRecord> order_srv(std::vector<SrvRecord> records, const std::function<uint32_t(uint32_t)>& random) {
  std::stable_sort(records.begin(), records.end(),
                   [](const SrvRecord& a, const SrvRecord& b) { return a.priority < b.priority; });
  std::vector<SrvRecord> ordered;
  ordered.reserve(records.size());
  auto group_begin = records.begin();
  while (group_begin != records.end()) {
    auto group_end = std::find_if(group_begin, records.end(),
                                  [&](const SrvRecord& r) { return r.priority != group_begin->priority; });
    std::vector<SrvRecord> group(group_begin, group_end);
    // RFC 2782: "arrange all SRV RRs (that have not been ordered yet) in any
    // order, except that all those with weight 0 are placed at the beginning".
    std::stable_partition(group.begin(), group.end(), [](const SrvRecord& r) { return r.weight == 0; });
    while (!group.empty()) {
      uint32_t sum = 0;
      for (const SrvRecord& r : group) sum += r.weight;
      uint32_t pick = random(sum);
      uint32_t running = 0;
      auto chosen = group.begin();
      for (auto it = group.begin(); it != group.end(); ++it) {
        running += it->weight;
        if (running >= pick) {
          chosen = it;
          break;
        }
      }
      ordered.push_back(*chosen);
      group.erase(chosen);
    }
    group_begin = group_end;
  }
  return ordered;
}

struct Resolver::Impl {
  uv_loop_t* loop;
  ares_channel channel = nullptr;
  std::unordered_map<ares_socket_t, uv_poll_t*> polls;
  uv_timer_t* timer = nullptr;  // freed by its close callback

  void rearm() {
    timeval tv{};
    timeval* next = ares_timeout(channel, nullptr, &tv);
    if (next == nullptr) {
      uv_timer_stop(timer);
      return;
    }
    uint64_t ms = static_cast<uint64_t>(next->tv_sec) * 1000 + static_cast<uint64_t>(next->tv_usec) / 1000;
    uv_timer_start(timer, on_timer, ms, 0);
  }

  static void on_timer(uv_timer_t* t) {
    auto* self = static_cast<Impl*>(t->data);
    ares_process_fd(self->channel, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
    self->rearm();
  }

  static void on_poll(uv_poll_t* poll, int status, int events) {
    auto* self = static_cast<Impl*>(poll->data);
    ares_socket_t fd = ARES_SOCKET_BAD;
    for (auto& [socket, p] : self->polls) {
      if (p == poll) fd = socket;
    }
    if (fd == ARES_SOCKET_BAD) return;
    // An error on the socket: let c-ares read it and notice.
    bool readable = status < 0 || (events & UV_READABLE);
    bool writable = status < 0 || (events & UV_WRITABLE);
    ares_process_fd(self->channel, readable ? fd : ARES_SOCKET_BAD, writable ? fd : ARES_SOCKET_BAD);
    self->rearm();
  }

  static void on_socket_state(void* data, ares_socket_t fd, int readable, int writable) {
    auto* self = static_cast<Impl*>(data);
    auto it = self->polls.find(fd);
    if (!readable && !writable) {
      if (it == self->polls.end()) return;
      uv_poll_stop(it->second);
      uv_close(reinterpret_cast<uv_handle_t*>(it->second), [](uv_handle_t* h) { delete reinterpret_cast<uv_poll_t*>(h); });
      self->polls.erase(it);
      return;
    }
    uv_poll_t* poll;
    if (it == self->polls.end()) {
      poll = new uv_poll_t;
      uv_poll_init_socket(self->loop, poll, fd);
      poll->data = self;
      self->polls.emplace(fd, poll);
    } else {
      poll = it->second;
    }
    uv_poll_start(poll, (readable ? UV_READABLE : 0) | (writable ? UV_WRITABLE : 0), on_poll);
  }
};

std::unique_ptr<Resolver> Resolver::create(uv_loop_t* loop, const Options& options, std::string& error) {
  // Reference-counted inside c-ares; paired with ares_library_cleanup below.
  if (int rc = ares_library_init(ARES_LIB_INIT_ALL); rc != ARES_SUCCESS) {
    error = std::string("c-ares: ") + ares_strerror(rc);
    return nullptr;
  }
  auto impl = std::make_unique<Impl>();
  impl->loop = loop;
  ares_options ao{};
  ao.sock_state_cb = Impl::on_socket_state;
  ao.sock_state_cb_data = impl.get();
  ao.timeout = options.timeout_ms;
  ao.tries = options.tries;
  int mask = ARES_OPT_SOCK_STATE_CB | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES;
  if (int rc = ares_init_options(&impl->channel, &ao, mask); rc != ARES_SUCCESS) {
    error = std::string("c-ares: ") + ares_strerror(rc);
    ares_library_cleanup();
    return nullptr;
  }
  if (!options.servers.empty()) {
    std::string csv;
    for (const std::string& server : options.servers) csv += (csv.empty() ? "" : ",") + server;
    if (int rc = ares_set_servers_ports_csv(impl->channel, csv.c_str()); rc != ARES_SUCCESS) {
      error = "DNS servers '" + csv + "': " + ares_strerror(rc);
      ares_destroy(impl->channel);
      ares_library_cleanup();
      return nullptr;
    }
  }
  impl->timer = new uv_timer_t;
  uv_timer_init(loop, impl->timer);
  impl->timer->data = impl.get();
  return std::unique_ptr<Resolver>(new Resolver(std::move(impl)));
}

Resolver::Resolver(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Resolver::~Resolver() {
  // Runs every pending callback with ARES_EDESTRUCTION; ours drop them.
  ares_destroy(impl_->channel);
  for (auto& [fd, poll] : impl_->polls) {
    uv_poll_stop(poll);
    uv_close(reinterpret_cast<uv_handle_t*>(poll), [](uv_handle_t* h) { delete reinterpret_cast<uv_poll_t*>(h); });
  }
  uv_close(reinterpret_cast<uv_handle_t*>(impl_->timer), [](uv_handle_t* h) { delete reinterpret_cast<uv_timer_t*>(h); });
  ares_library_cleanup();
}

namespace {

struct SrvRequest {
  Resolver::SrvCallback done;
};
struct AddressRequest {
  Resolver::AddressCallback done;
};

bool no_such_records(int status) { return status == ARES_ENOTFOUND || status == ARES_ENODATA; }

}  // namespace

void Resolver::srv(const std::string& name, SrvCallback done) {
  auto* request = new SrvRequest{std::move(done)};
  constexpr int kClassIn = 1;
  constexpr int kTypeSrv = 33;
  ares_query(
      impl_->channel, name.c_str(), kClassIn, kTypeSrv,
      [](void* arg, int status, int /*timeouts*/, unsigned char* answer, int length) {
        std::unique_ptr<SrvRequest> request(static_cast<SrvRequest*>(arg));
        if (status == ARES_EDESTRUCTION || status == ARES_ECANCELLED) return;
        if (status != ARES_SUCCESS) {
          request->done({}, no_such_records(status) ? std::string() : std::string(ares_strerror(status)));
          return;
        }
        ares_srv_reply* replies = nullptr;
        int rc = ares_parse_srv_reply(answer, length, &replies);
        if (rc != ARES_SUCCESS) {
          request->done({}, no_such_records(rc) ? std::string() : std::string(ares_strerror(rc)));
          return;
        }
        std::vector<SrvRecord> records;
        for (ares_srv_reply* r = replies; r != nullptr; r = r->next) {
          records.push_back({r->host, r->port, r->priority, r->weight});
        }
        ares_free_data(replies);
        request->done(std::move(records), {});
      },
      request);
  impl_->rearm();
}

void Resolver::addresses(const std::string& host, AddressCallback done) {
  auto* request = new AddressRequest{std::move(done)};
  ares_addrinfo_hints hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  ares_getaddrinfo(
      impl_->channel, host.c_str(), nullptr, &hints,
      [](void* arg, int status, int /*timeouts*/, ares_addrinfo* result) {
        std::unique_ptr<AddressRequest> request(static_cast<AddressRequest*>(arg));
        if (status == ARES_EDESTRUCTION || status == ARES_ECANCELLED) {
          if (result) ares_freeaddrinfo(result);
          return;
        }
        if (status != ARES_SUCCESS) {
          request->done({}, no_such_records(status) ? std::string("no address") : std::string(ares_strerror(status)));
          return;
        }
        std::vector<std::string> out;
        for (ares_addrinfo_node* node = result->nodes; node != nullptr; node = node->ai_next) {
          char text[INET6_ADDRSTRLEN] = {};
          if (node->ai_family == AF_INET) {
            inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(node->ai_addr)->sin_addr, text, sizeof text);
          } else if (node->ai_family == AF_INET6) {
            inet_ntop(AF_INET6, &reinterpret_cast<sockaddr_in6*>(node->ai_addr)->sin6_addr, text, sizeof text);
          } else {
            continue;
          }
          if (std::find(out.begin(), out.end(), text) == out.end()) out.emplace_back(text);
        }
        ares_freeaddrinfo(result);
        request->done(std::move(out), {});
      },
      request);
  impl_->rearm();
}

}  // namespace parley::net
