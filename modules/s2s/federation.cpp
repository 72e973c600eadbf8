#include "modules/s2s/federation.hpp"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <openssl/ssl.h>

#include <algorithm>
#include <charconv>

#include "core/bootstrap.hpp"
#include "core/config.hpp"
#include "core/log.hpp"
#include "net/resolver.hpp"
#include "modules/s2s/incoming_link.hpp"
#include "modules/s2s/locator.hpp"
#include "modules/s2s/outgoing_link.hpp"
#include "xmpp/router.hpp"
#include "xmpp/stanza.hpp"

namespace parley::modules::s2s {

namespace {

// RFC 6066 §3 on direct-TLS links: present the certificate of the domain the
// peer names, when we serve it.
int select_by_sni(SSL* ssl, int* /*alert*/, void* arg) {
  auto* federation = static_cast<Federation*>(arg);
  const char* name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
  if (federation == nullptr || name == nullptr || !federation->serves(name)) return SSL_TLSEXT_ERR_OK;
  SSL_CTX* chosen = federation->server_context(name);
  if (chosen != nullptr && chosen != SSL_get_SSL_CTX(ssl)) SSL_set_SSL_CTX(ssl, chosen);
  return SSL_TLSEXT_ERR_OK;
}

}  // namespace

std::optional<std::pair<std::string, Endpoint>> parse_route(std::string_view text) {
  size_t eq = text.find('=');
  if (eq == std::string_view::npos || eq == 0) return std::nullopt;
  std::string domain(text.substr(0, eq));
  std::string_view rest = text.substr(eq + 1);
  Endpoint endpoint;
  if (rest.starts_with("tls:")) {
    endpoint.direct_tls = true;
    rest.remove_prefix(4);
  }
  size_t colon = rest.rfind(':');
  if (colon == std::string_view::npos || colon == 0) return std::nullopt;
  std::string_view address = rest.substr(0, colon);
  std::string_view port = rest.substr(colon + 1);
  if (address.size() > 2 && address.front() == '[' && address.back() == ']') {
    address = address.substr(1, address.size() - 2);
  }
  unsigned value = 0;
  auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (ec != std::errc() || end != port.data() + port.size() || value == 0 || value > 65535) return std::nullopt;
  endpoint.address = std::string(address);
  endpoint.port = static_cast<uint16_t>(value);
  return std::make_pair(std::move(domain), std::move(endpoint));
}

Federation::Federation(xmpp::Services& services)
    : services_(services), timer_(new uv_timer_t), reaper_(new uv_check_t) {
  unsigned char secret[32];
  RAND_bytes(secret, sizeof secret);
  dialback_secret_.assign(reinterpret_cast<const char*>(secret), sizeof secret);
  uv_timer_init(services_.loop(), timer_);
  timer_->data = this;
  uv_timer_start(timer_, on_timer, 1000, 1000);
  uv_check_init(services_.loop(), reaper_);
  reaper_->data = this;
}

Federation::~Federation() {
  *alive_ = false;
  alive_.reset();
  listeners_.clear();
  links_.clear();
  graveyard_.clear();
  uv_close(reinterpret_cast<uv_handle_t*>(timer_), [](uv_handle_t* h) { delete reinterpret_cast<uv_timer_t*>(h); });
  uv_close(reinterpret_cast<uv_handle_t*>(reaper_), [](uv_handle_t* h) { delete reinterpret_cast<uv_check_t*>(h); });
}

core::Logger& Federation::log() { return services_.log(); }

void Federation::shutdown() {
  shutting_down_ = true;
  listeners_.clear();
  std::vector<Link*> open;
  for (auto& [id, link] : links_) open.push_back(link.get());
  for (Link* link : open) link->close_stream();  // queued stanzas bounce as the links finish
  if (!open.empty()) log().info("s2s", 0, "closing ", open.size(), " links");
}

void Federation::attach_host(const std::string& host) {
  read_settings();
  tls_.erase(host);  // certificates may have been replaced before a reload
  if (!listening_) open_listeners();
}

void Federation::read_settings() {
  const core::Config& config = services_.config();
  limits_.max_stanza_bytes = config.get_size("modules.s2s.max_stanza_size");
  limits_.max_depth = static_cast<size_t>(config.get_int("limits.max_xml_depth"));
  limits_.max_attributes = static_cast<size_t>(config.get_int("limits.max_attributes"));
  queue_limit_ = static_cast<size_t>(config.get_int("modules.s2s.queue_limit"));
  bidi_ = config.get_bool("modules.s2s.bidi");
  max_links_per_ip_ = config.get_int("modules.s2s.max_links_per_ip");
  rate_limit_ = static_cast<uint64_t>(config.get_int("modules.s2s.rate_limit"));
  connect_timeout_ms_ = static_cast<uint64_t>(config.get_duration("modules.s2s.connect_timeout").count());
  idle_timeout_ms_ = static_cast<uint64_t>(config.get_duration("modules.s2s.idle_timeout").count());
  backoff_ms_ = static_cast<uint64_t>(config.get_duration("modules.s2s.reconnect_backoff").count());
  default_policy_ = config.get_string("modules.s2s.default_policy");
  ca_file_ = config.get_path("modules.s2s.ca_file");
  policies_.clear();
  for (const std::string& entry : config.get_list("modules.s2s.domain_policies")) {
    size_t eq = entry.find('=');
    if (eq == std::string::npos) {
      log().warn("s2s", 0, "ignoring modules.s2s.domain_policies entry '", entry, "': expected domain=policy");
      continue;
    }
    std::string policy = entry.substr(eq + 1);
    if (policy != "certificate" && policy != "dialback" && policy != "refuse") {
      log().warn("s2s", 0, "ignoring modules.s2s.domain_policies entry '", entry,
                 "': the policy is certificate, dialback or refuse");
      continue;
    }
    policies_[entry.substr(0, eq)] = policy;
  }
  const std::vector<std::string>& plaintext = config.get_list("modules.s2s.plaintext_domains");
  plaintext_domains_ = {plaintext.begin(), plaintext.end()};
  routes_.clear();
  for (const std::string& entry : config.get_list("modules.s2s.routes")) {
    if (auto route = parse_route(entry)) {
      routes_[route->first] = route->second;
    } else {
      log().warn("s2s", 0, "ignoring modules.s2s.routes entry '", entry, "': expected domain=address:port");
    }
  }
}

void Federation::open_listeners() {
  listening_ = true;
  const core::Config& config = services_.config();
  struct Port {
    const char* option;
    bool direct_tls;
  };
  for (Port port : {Port{"modules.s2s.port", false}, Port{"modules.s2s.direct_tls_port", true}}) {
    int64_t number = config.get_int(port.option);
    if (number == 0) continue;
    std::string error;
    const bool direct_tls = port.direct_tls;
    std::vector<std::unique_ptr<net::Listener>> opened;
    if (!net::Listener::open_all(
            services_.net(), config.get_list("modules.s2s.bind_addresses"), static_cast<uint16_t>(number),
            [this, direct_tls](std::unique_ptr<net::Connection> connection) {
              accept(std::move(connection), direct_tls);
            },
            opened, error)) {
      log().error("s2s", 0, "cannot listen (", port.option, "): ", error);
      continue;
    }
    for (auto& listener : opened) {
      log().info("s2s", 0, "listening for servers on ", listener->address(), " port ", number,
                 direct_tls ? " (direct TLS)" : "");
      listeners_.push_back(std::move(listener));
    }
  }
}

void Federation::accept(std::unique_ptr<net::Connection> connection, bool direct_tls) {
  if (shutting_down_) return;
  if (direct_tls && !default_server_context()) return;  // no certificate to present
  std::string ip = connection->remote_ip();
  if (links_per_ip_[ip] >= max_links_per_ip_) {
    log().warn("s2s", 0, "refusing a link from ", ip, ": modules.s2s.max_links_per_ip reached");
    return;  // dropping the Connection closes it
  }
  ++links_per_ip_[ip];
  uint64_t id = next_id_++;
  auto link = std::make_unique<IncomingLink>(*this, id, std::move(connection), direct_tls);
  IncomingLink& ref = *link;
  links_.emplace(id, std::move(link));
  ref.start();
}

xmpp::HostContext* Federation::local_host(std::string_view domain) {
  xmpp::HostContext* host = services_.find_host(domain);
  if (!host) host = services_.component_owner(domain);
  if (!host) return nullptr;
  const auto& enabled = host->enabled_modules();
  return std::find(enabled.begin(), enabled.end(), "s2s") != enabled.end() ? host : nullptr;
}

bool Federation::serves(std::string_view domain) { return local_host(domain) != nullptr; }

const std::string& Federation::policy_for(std::string_view domain) const {
  auto it = policies_.find(domain);
  return it == policies_.end() ? default_policy_ : it->second;
}

bool Federation::policy_allows(std::string_view domain) const { return policy_for(domain) != "refuse"; }

bool Federation::dialback_allowed(std::string_view domain) const { return policy_for(domain) == "dialback"; }

bool Federation::plaintext_allowed(std::string_view domain) const {
  return !domain.empty() && plaintext_domains_.find(domain) != plaintext_domains_.end() && dialback_allowed(domain);
}

std::string Federation::dialback_key(std::string_view receiving, std::string_view originating,
                                     std::string_view stream_id) const {
  unsigned char hashed_secret[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(dialback_secret_.data()), dialback_secret_.size(), hashed_secret);
  // The key is the hex form of the secret's hash (XEP-0185 §3, example 1).
  static constexpr char hex[] = "0123456789abcdef";
  std::string hmac_key;
  for (unsigned char c : hashed_secret) {
    hmac_key += hex[c >> 4];
    hmac_key += hex[c & 15];
  }
  std::string text = std::string(receiving) + ' ' + std::string(originating) + ' ' + std::string(stream_id);
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int mac_length = 0;
  HMAC(EVP_sha256(), hmac_key.data(), static_cast<int>(hmac_key.size()),
       reinterpret_cast<const unsigned char*>(text.data()), text.size(), mac, &mac_length);
  std::string out;
  for (unsigned int i = 0; i < mac_length; ++i) {
    out += hex[mac[i] >> 4];
    out += hex[mac[i] & 15];
  }
  return out;
}

void Federation::verify_dialback(const std::string& local, const std::string& remote, const std::string& stream_id,
                                 const std::string& key, std::function<void(bool valid)> done) {
  xmpp::StanzaErrorCondition condition = xmpp::errors::remote_server_not_found;
  std::string why;
  OutgoingLink* link = outgoing_link(local, remote, condition, why);
  if (!link) {
    log().info("s2s", 0, "cannot verify dialback from ", remote, ": ", why);
    done(false);
    return;
  }
  link->request_verify(stream_id, key, std::move(done));
}

// A component (proxy.<host>) presents its host's certificate. Where that
// names only the host, peers authenticate the component by dialback.
Federation::TlsPair* Federation::tls_for(const std::string& local) {
  xmpp::HostContext* host = local_host(local);
  const std::string& owner = host ? host->name() : local;
  auto it = tls_.find(owner);
  if (it != tls_.end()) return &it->second;
  const core::Config& config = services_.config();
  std::string error;
  TlsPair pair;
  pair.server = net::make_peer_context(true, core::certificate_path(config, owner), core::key_path(config, owner),
                                       ca_file_, error);
  if (pair.server) {
    pair.client = net::make_peer_context(false, core::certificate_path(config, owner),
                                         core::key_path(config, owner), ca_file_, error);
  }
  if (!pair.server || !pair.client) {
    log().error("s2s", 0, "TLS for ", owner, ": ", error);
    return nullptr;
  }
  SSL_CTX_set_tlsext_servername_callback(pair.server.get(), select_by_sni);
  SSL_CTX_set_tlsext_servername_arg(pair.server.get(), this);
  return &tls_.emplace(owner, std::move(pair)).first->second;
}

SSL_CTX* Federation::server_context(const std::string& local) {
  TlsPair* pair = tls_for(local);
  return pair ? pair->server.get() : nullptr;
}

SSL_CTX* Federation::client_context(const std::string& local) {
  TlsPair* pair = tls_for(local);
  return pair ? pair->client.get() : nullptr;
}

SSL_CTX* Federation::default_server_context() {
  for (const std::string& host : services_.config().hosts()) {
    if (serves(host)) return server_context(host);
  }
  return nullptr;
}

std::optional<Endpoint> Federation::endpoint_for(const std::string& remote) const {
  auto it = routes_.find(remote);
  if (it != routes_.end()) return it->second;
  return std::nullopt;
}

void Federation::send(const std::string& local, const std::string& remote, xml::Element stanza) {
  if (auto bidi = bidi_links_.find({local, remote}); bidi != bidi_links_.end() && policy_allows(remote)) {
    auto* link = static_cast<IncomingLink*>(find_link(bidi->second));
    if (link && link->send(std::move(stanza))) return;
  }
  xmpp::StanzaErrorCondition condition = xmpp::errors::remote_server_not_found;
  std::string why;
  OutgoingLink* link = outgoing_link(local, remote, condition, why);
  if (!link) {
    bounce(stanza, condition, why);
    return;
  }
  if (!link->send(std::move(stanza))) {
    // The queue is bounded (modules.s2s.queue_limit): the sender hears of it.
    bounce(stanza, xmpp::errors::resource_constraint, "too many stanzas waiting for the link to " + remote);
  }
}

OutgoingLink* Federation::outgoing_link(const std::string& local, const std::string& remote,
                                        xmpp::StanzaErrorCondition& condition, std::string& why) {
  if (shutting_down_) {
    why = "this server is shutting down";
    return nullptr;
  }
  if (!policy_allows(remote)) {
    why = "this server does not federate with " + remote;
    return nullptr;
  }
  if (auto existing = outgoing_.find({local, remote}); existing != outgoing_.end()) {
    auto* link = static_cast<OutgoingLink*>(find_link(existing->second));
    if (link && !link->closed()) return link;
  }
  uint64_t now = uv_now(services_.loop());
  if (auto b = backoff_.find(remote); b != backoff_.end() && now < b->second.retry_at) {
    why = "the link to " + remote + " failed recently; retrying in " +
          std::to_string((b->second.retry_at - now + 999) / 1000) + " s";
    return nullptr;
  }
  std::optional<Endpoint> route = endpoint_for(remote);
  net::Resolver* resolver = services_.resolver();
  if (!route && !resolver) {
    why = "no route to " + remote + " and no DNS resolver";
    return nullptr;
  }
  if (!client_context(local)) {
    condition = xmpp::errors::internal_server_error;
    why = "no certificate to present for " + local;
    return nullptr;
  }
  uint64_t id = next_id_++;
  auto owned = std::make_unique<OutgoingLink>(*this, id, local, remote);
  OutgoingLink* link = owned.get();
  links_.emplace(id, std::move(owned));
  outgoing_[{local, remote}] = id;
  if (route) {
    link->connect({*route});
    if (link->closed()) {  // an address that cannot even be tried
      why = "cannot connect to " + remote;
      return nullptr;
    }
    return link;
  }
  locate(*resolver, remote, alive_, [this, id, remote](std::vector<Endpoint> endpoints, std::string error) {
    auto* located = static_cast<OutgoingLink*>(find_link(id));
    if (!located || located->closed()) return;
    if (endpoints.empty()) {
      log().info("s2s", id, "cannot find a server for ", remote, ": ", error);
      located->fail(xmpp::errors::remote_server_not_found, "cannot find a server for " + remote);
      return;
    }
    located->connect(std::move(endpoints));
  });
  return link;
}

Link* Federation::find_link(uint64_t id) {
  auto it = links_.find(id);
  return it == links_.end() ? nullptr : it->second.get();
}

void Federation::link_ready(OutgoingLink& link) { backoff_.erase(link.remote()); }

void Federation::bidi_ready(IncomingLink& link) { bidi_links_[{link.local(), link.remote()}] = link.id(); }

void Federation::link_failed(const std::string& remote) {
  Backoff& b = backoff_[remote];
  ++b.failures;
  // Exponential back-off, capped at 64 times the configured step.
  b.retry_at = uv_now(services_.loop()) + (backoff_ms_ << std::min(b.failures - 1, 6));
}

void Federation::retire(uint64_t id) {
  auto it = links_.find(id);
  if (it == links_.end()) return;
  Link& link = *it->second;
  if (!link.outgoing()) {
    auto ip = links_per_ip_.find(static_cast<IncomingLink&>(link).remote_ip());
    if (ip != links_per_ip_.end() && --ip->second <= 0) links_per_ip_.erase(ip);
  }
  auto& table = link.outgoing() ? outgoing_ : bidi_links_;
  auto entry = table.find({link.local(), link.remote()});
  if (entry != table.end() && entry->second == id) table.erase(entry);
  graveyard_.push_back(std::move(it->second));
  links_.erase(it);
  uv_check_start(reaper_, on_reap);
}

void Federation::on_reap(uv_check_t* check) {
  auto* self = static_cast<Federation*>(check->data);
  self->graveyard_.clear();
  uv_check_stop(check);
}

void Federation::bounce(const xml::Element& stanza, xmpp::StanzaErrorCondition condition, std::string_view text) {
  const std::optional<xmpp::StanzaKind> kind = xmpp::stanza_kind(stanza);
  if (!kind || !xmpp::takes_error_reply(*kind, stanza.attr("type"))) return;
  services_.router().send_from_server(xmpp::make_error_reply(stanza, condition, text));
}

void Federation::on_timer(uv_timer_t* timer) { static_cast<Federation*>(timer->data)->housekeeping(); }

void Federation::housekeeping() {
  uint64_t now = uv_now(services_.loop());
  std::vector<Link*> links;
  links.reserve(links_.size());
  for (auto& [id, link] : links_) links.push_back(link.get());
  // Collected first: links may close (and leave links_) as we go.
  for (Link* link : links) {
    if (link->closed()) continue;
    if (link->outgoing()) {
      auto* out = static_cast<OutgoingLink*>(link);
      if (!out->ready() && now - out->created() >= connect_timeout_ms_) {
        out->fail(xmpp::errors::remote_server_timeout, "the link to " + out->remote() + " took too long to set up");
        continue;
      }
    } else {
      auto* in = static_cast<IncomingLink*>(link);
      // An incoming link gets as long to authenticate as ours get to come up.
      if (!in->authenticated() && now - in->created() >= connect_timeout_ms_) {
        in->close_with_stream_error("connection-timeout", "negotiation took too long");
        continue;
      }
      in->refill(rate_limit_);
    }
    if (idle_timeout_ms_ > 0 && now - link->last_activity() >= idle_timeout_ms_) {
      log().info("s2s", link->id(), "closing idle link with ", link->remote());
      link->close_stream();
    }
  }
}

}  // namespace parley::modules::s2s
