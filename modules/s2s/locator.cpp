#include "modules/s2s/locator.hpp"

#include <openssl/rand.h>

namespace parley::modules::s2s {

namespace {

constexpr uint16_t kDefaultPort = 5269;  // RFC 6120 §14.7

uint32_t random_up_to(uint32_t n) {
  uint32_t value = 0;
  RAND_bytes(reinterpret_cast<unsigned char*>(&value), sizeof value);
  return n == UINT32_MAX ? value : value % (n + 1);
}

struct Lookup {
  net::Resolver* resolver;
  std::string domain;
  std::weak_ptr<bool> alive;
  LocateCallback done;
  int pending = 2;
  std::vector<net::SrvRecord> records;
  std::vector<bool> direct_tls;  // parallel to records
  std::string error;
};

struct Targets {
  std::shared_ptr<Lookup> lookup;
  std::vector<net::SrvRecord> ordered;
  std::vector<bool> direct_tls;
  std::vector<std::vector<std::string>> addresses;
  size_t pending = 0;
  std::string error;
};

void finish_targets(const std::shared_ptr<Targets>& t) {
  std::vector<Endpoint> endpoints;
  for (size_t i = 0; i < t->ordered.size(); ++i) {
    for (const std::string& address : t->addresses[i]) {
      endpoints.push_back({address, t->ordered[i].port, t->direct_tls[i]});
    }
  }
  std::string error = endpoints.empty() ? t->error : std::string();
  t->lookup->done(std::move(endpoints), std::move(error));
}

void resolve_targets(const std::shared_ptr<Lookup>& lookup) {
  auto t = std::make_shared<Targets>();
  t->lookup = lookup;
  // One list for both services, so priorities and weights compare across them.
  std::vector<net::SrvRecord> ordered = net::order_srv(lookup->records, random_up_to);
  for (const net::SrvRecord& r : ordered) {
    for (size_t i = 0; i < lookup->records.size(); ++i) {
      if (lookup->records[i] == r) {
        t->ordered.push_back(r);
        t->direct_tls.push_back(lookup->direct_tls[i]);
        break;
      }
    }
  }
  t->addresses.resize(t->ordered.size());
  t->pending = t->ordered.size();
  for (size_t i = 0; i < t->ordered.size(); ++i) {
    lookup->resolver->addresses(t->ordered[i].target, [t, i](std::vector<std::string> addresses, std::string error) {
      if (t->lookup->alive.expired()) return;
      t->addresses[i] = std::move(addresses);
      if (!error.empty()) t->error = t->ordered[i].target + ": " + error;
      if (--t->pending == 0) finish_targets(t);
    });
  }
}

void srv_done(const std::shared_ptr<Lookup>& lookup) {
  if (--lookup->pending > 0) return;
  // RFC 2782 / RFC 6120 §3.2.1: a single record with target "." means the
  // service is decidedly not available.
  bool refused = lookup->records.size() == 1 && (lookup->records[0].target == "." || lookup->records[0].target.empty());
  if (refused) {
    lookup->done({}, lookup->domain + " announces that it does not federate");
    return;
  }
  if (!lookup->records.empty()) {
    resolve_targets(lookup);
    return;
  }
  if (!lookup->error.empty()) {
    lookup->done({}, lookup->error);
    return;
  }
  // RFC 6120 §3.2.2: no SRV records, so the domain itself on the default port.
  lookup->resolver->addresses(lookup->domain, [lookup](std::vector<std::string> addresses, std::string error) {
    if (lookup->alive.expired()) return;
    std::vector<Endpoint> endpoints;
    for (std::string& address : addresses) endpoints.push_back({std::move(address), kDefaultPort, false});
    std::string why = endpoints.empty() ? lookup->domain + ": " + error : std::string();
    lookup->done(std::move(endpoints), std::move(why));
  });
}

}  // namespace

void locate(net::Resolver& resolver, const std::string& domain, std::weak_ptr<bool> alive, LocateCallback done) {
  auto lookup = std::make_shared<Lookup>();
  lookup->resolver = &resolver;
  lookup->domain = domain;
  lookup->alive = std::move(alive);
  lookup->done = std::move(done);
  for (bool direct_tls : {true, false}) {
    std::string name = (direct_tls ? "_xmpps-server._tcp." : "_xmpp-server._tcp.") + domain;
    resolver.srv(name, [lookup, direct_tls](std::vector<net::SrvRecord> records, std::string error) {
      if (lookup->alive.expired()) return;
      for (net::SrvRecord& r : records) {
        lookup->records.push_back(std::move(r));
        lookup->direct_tls.push_back(direct_tls);
      }
      // A failed _xmpps-server lookup is not fatal while _xmpp-server answers.
      if (!error.empty() && !direct_tls) lookup->error = "DNS: " + error;
      srv_done(lookup);
    });
  }
}

}  // namespace parley::modules::s2s
