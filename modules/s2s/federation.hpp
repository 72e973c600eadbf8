#pragma once
// Federation: the s2s state of one worker, shared by every local domain that
// enables the module (Services::shared_state). It owns the s2s listener, the
// links in both directions, the TLS contexts that present our certificates,
// and the reconnect back-off; it sends stanzas for remote domains over the
// right link, and answers their senders when that cannot be done.
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "modules/s2s/link.hpp"
#include "net/listener.hpp"
#include "net/tls_context.hpp"
#include "xml/stream_parser.hpp"
#include "xmpp/module_api.hpp"
#include "xmpp/stanza.hpp"

namespace parley::core {
class Logger;
class Config;
}  // namespace parley::core

namespace parley::modules::s2s {

class OutgoingLink;
class IncomingLink;

// Where to connect for a domain: an IP address and port, plain or direct TLS.
struct Endpoint {
  std::string address;
  uint16_t port = 5269;
  bool direct_tls = false;
};

// "domain=address:port" or "domain=tls:address:port" (a static route from
// modules.s2s.routes); IPv6 addresses in brackets. nullopt if malformed.
std::optional<std::pair<std::string, Endpoint>> parse_route(std::string_view text);

class Federation final : public xmpp::ModuleState {
 public:
  explicit Federation(xmpp::Services& services);
  ~Federation() override;
  // SIGTERM: no new links; every open one ends with </stream:stream>.
  void shutdown() override;

  // A local domain starts the module (at start-up or after a reload):
  // (re)reads the settings and opens the listener the first time.
  void attach_host(const std::string& host);
  // A stanza for a remote domain from one of ours (route/remote).
  void send(const std::string& local, const std::string& remote, xml::Element stanza);

  // For links.
  xmpp::Services& services() { return services_; }
  core::Logger& log();
  const xml::StreamLimits& stream_limits() const { return limits_; }
  size_t queue_limit() const { return queue_limit_; }
  uint64_t rate_limit() const { return rate_limit_; }
  // Whether `domain` is ours and federates: a host with s2s enabled, or a
  // component domain of one (proxy.<host>, upload.<host>).
  bool serves(std::string_view domain);
  // Whether the per-domain policy lets `domain` in at all, and whether it
  // accepts Server Dialback (XEP-0220) where its certificate does not verify.
  bool policy_allows(std::string_view domain) const;
  bool dialback_allowed(std::string_view domain) const;
  // modules.s2s.plaintext_domains: a legacy peer that may skip TLS.
  bool plaintext_allowed(std::string_view domain) const;
  // XEP-0185 §3: HMAC-SHA256(SHA256(secret), receiving ' ' originating ' ' stream id), hex.
  std::string dialback_key(std::string_view receiving, std::string_view originating,
                           std::string_view stream_id) const;
  // As receiving server: asks the authoritative server of `remote` whether
  // `key` is its key for our stream `stream_id` (XEP-0220 §2.1.2, db:verify),
  // over our outgoing link to it. `done(valid)` runs later, unless the
  // federation is destroyed first.
  void verify_dialback(const std::string& local, const std::string& remote, const std::string& stream_id,
                       const std::string& key, std::function<void(bool valid)> done);
  SSL_CTX* server_context(const std::string& local);
  SSL_CTX* default_server_context();
  SSL_CTX* client_context(const std::string& local);
  Link* find_link(uint64_t id);
  std::weak_ptr<bool> alive_token() const { return alive_; }
  void link_ready(OutgoingLink& link);
  // XEP-0288 (modules.s2s.bidi): an incoming link that now carries our
  // stanzas to its peer as well.
  bool bidi_enabled() const { return bidi_; }
  void bidi_ready(IncomingLink& link);
  void link_failed(const std::string& remote);
  // Destroys the link on the next loop turn, outside its own callbacks.
  void retire(uint64_t id);
  // Answers `stanza` (which did not reach its remote recipient) with an error.
  void bounce(const xml::Element& stanza, xmpp::StanzaErrorCondition condition, std::string_view text);

 private:
  struct TlsPair {
    net::SslCtxPtr server;
    net::SslCtxPtr client;
  };
  // The outgoing link for (local, remote), made and started if needed; null
  // (with the error to answer) when there is none to be had.
  OutgoingLink* outgoing_link(const std::string& local, const std::string& remote,
                              xmpp::StanzaErrorCondition& condition, std::string& why);
  const std::string& policy_for(std::string_view domain) const;
  void read_settings();
  void open_listeners();
  void accept(std::unique_ptr<net::Connection> connection, bool direct_tls);
  TlsPair* tls_for(const std::string& local);
  // The host `domain` belongs to (itself, or a component's owner) if s2s is on there.
  xmpp::HostContext* local_host(std::string_view domain);
  std::optional<Endpoint> endpoint_for(const std::string& remote) const;
  // Once a second: connection timeouts, idle links, rate-limit refills.
  void housekeeping();
  static void on_timer(uv_timer_t* timer);
  static void on_reap(uv_check_t* check);

  xmpp::Services& services_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
  std::string dialback_secret_;  // random per process; keys only need to survive one exchange
  xml::StreamLimits limits_;
  size_t queue_limit_ = 0;
  uint64_t rate_limit_ = 0;
  uint64_t connect_timeout_ms_ = 0;
  uint64_t idle_timeout_ms_ = 0;
  uint64_t backoff_ms_ = 0;
  std::string default_policy_;
  std::map<std::string, std::string, std::less<>> policies_;
  std::map<std::string, Endpoint, std::less<>> routes_;
  std::set<std::string, std::less<>> plaintext_domains_;
  std::filesystem::path ca_file_;
  std::map<std::string, TlsPair, std::less<>> tls_;
  std::vector<std::unique_ptr<net::Listener>> listeners_;
  bool listening_ = false;
  bool shutting_down_ = false;
  int64_t max_links_per_ip_ = 0;
  std::unordered_map<std::string, int64_t> links_per_ip_;  // incoming links now open, by peer IP
  uint64_t next_id_ = 1;
  std::unordered_map<uint64_t, std::unique_ptr<Link>> links_;
  // The outgoing link for each (local, remote) pair, and the bidirectional
  // incoming links that can stand in for one.
  std::map<std::pair<std::string, std::string>, uint64_t> outgoing_;
  std::map<std::pair<std::string, std::string>, uint64_t> bidi_links_;
  bool bidi_ = false;
  // Reconnect back-off per remote domain: consecutive failures, next try.
  struct Backoff {
    int failures = 0;
    uint64_t retry_at = 0;
  };
  std::map<std::string, Backoff, std::less<>> backoff_;
  std::vector<std::unique_ptr<Link>> graveyard_;
  uv_timer_t* timer_;  // freed in its close callback
  uv_check_t* reaper_;  // likewise
};

}  // namespace parley::modules::s2s
