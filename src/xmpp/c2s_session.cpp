#include "xmpp/c2s_session.hpp"

#include <openssl/rand.h>

#include "core/base64.hpp"
#include "core/config.hpp"
#include "core/hex.hpp"
#include "core/log.hpp"
#include "core/worker.hpp"
#include "xml/writer.hpp"
#include "xmpp/namespaces.hpp"
#include "xmpp/router.hpp"
#include "xmpp/session_registry.hpp"
#include "xmpp/stanza.hpp"

namespace parley::xmpp {

namespace {

// What our stream header declares: jabber:client as default, stream: prefix.
constexpr xml::NamespaceDecl kStreamDeclarationList[] = {{"", ns::client}, {"stream", ns::streams}};
constexpr std::span<const xml::NamespaceDecl> kStreamDeclarations{kStreamDeclarationList};

std::string random_token(size_t bytes) {
  std::string raw(bytes, '\0');
  RAND_bytes(reinterpret_cast<unsigned char*>(raw.data()), static_cast<int>(bytes));
  return core::hex_encode(raw);
}

xml::StreamLimits limits_from(const core::Config& config) {
  xml::StreamLimits limits;
  limits.max_stanza_bytes = config.get_size("limits.max_stanza_bytes");
  limits.max_depth = static_cast<size_t>(config.get_int("limits.max_xml_depth"));
  limits.max_attributes = static_cast<size_t>(config.get_int("limits.max_attributes"));
  return limits;
}

}  // namespace

C2sSession::C2sSession(core::Worker& worker, uint64_t id, std::unique_ptr<net::Connection> connection,
                       bool direct_tls)
    : Session(id),
      worker_(worker),
      connection_(std::move(connection)),
      parser_(*this, limits_from(worker.config())),
      direct_tls_(direct_tls) {
  remote_ip_ = connection_->remote_ip();
}

C2sSession::~C2sSession() = default;

void C2sSession::check_liveness(uint64_t now_ms, uint64_t interval_ms, uint64_t timeout_ms) {
  if (!bound_ || state_ != State::Negotiating) return;
  if (sm_overdue(now_ms, timeout_ms)) {
    worker_.log().info("c2s", id(), sm_->unacked.size(), " stanzas unacknowledged, no answer to <r/> for ",
                       timeout_ms, " ms");
    close_with_stream_error("resource-constraint", "too many stanzas left unacknowledged");
    return;
  }
  if (!ping_id_.empty()) {
    // Any input counts as a sign of life, not only the pong.
    if (last_input_ms_ > ping_sent_ms_) {
      ping_id_.clear();
    } else if (now_ms - ping_sent_ms_ >= timeout_ms) {
      worker_.log().info("c2s", id(), "no answer to a ping for ", timeout_ms, " ms");
      close_with_stream_error("connection-timeout", "no answer to ping");
      return;
    }
  }
  if (ping_id_.empty() && now_ms - last_input_ms_ >= interval_ms) {
    ping_id_ = "ping-" + random_token(6);
    ping_sent_ms_ = now_ms;
    xml::Element ping("iq", std::string(ns::client));
    ping.set_attr("from", host_);
    ping.set_attr("to", jid().str());
    ping.set_attr("type", "get");
    ping.set_attr("id", ping_id_);
    ping.append(xml::Element("ping", "urn:xmpp:ping"));
    write_stanza(ping);
  }
}

bool C2sSession::answers_ping(const xml::Element& iq) {
  if (ping_id_.empty() || iq.attr("id") != ping_id_) return false;
  std::string_view type = iq.attr("type");
  if (type != "result" && type != "error") return false;
  ping_id_.clear();  // an error reply is an answer too: the client is there
  return true;
}

void C2sSession::start() {
  last_input_ms_ = uv_now(worker_.loop());
  worker_.log().info("c2s", id(), "connection from ", connection_->remote_address(),
                     direct_tls_ ? " (direct TLS)" : "");
  if (direct_tls_) connection_->start_tls(worker_.tls_context());
  connection_->start(*this);
}

// ---- transport events -------------------------------------------------------

void C2sSession::on_data(std::string_view plaintext) {
  if (state_ == State::Closed || state_ == State::Closing) return;
  last_input_ms_ = uv_now(worker_.loop());
  parser_.feed(plaintext);
}

void C2sSession::on_tls_established() {
  tls_ = true;
  const net::TlsSession* tls = connection_->tls();
  worker_.log().debug("c2s", id(), "TLS established (", tls ? tls->protocol_version() : "", ")");
}

void C2sSession::on_closed(std::string_view reason) {
  finish(reason);
}

// Unbinds the session and hands it back to the worker for destruction.
void C2sSession::finish(std::string_view reason) {
  if (state_ == State::Closed) return;
  state_ = State::Closed;
  worker_.log().info("c2s", id(), "closed: ", reason);
  leave_routing();
  worker_.retire(id());
}

// ---- stream events ----------------------------------------------------------

void C2sSession::on_stream_open(const xml::Element& root, std::string_view default_ns) {
  // RFC 6120 §4.7.2: 'to' names a domain; a JID with a local part or a
  // resource is no domain, and falls through to host-unknown.
  const std::string to = prep_domain(root.attr("to")).value_or(std::string());
  // RFC 6120 §4.9.3.10 and §4.9.3.6: a c2s stream speaks jabber:client to a domain we serve.
  if (default_ns != ns::client) {
    close_with_stream_error("invalid-namespace", "this port serves jabber:client streams");
    return;
  }
  if (!worker_.find_host(to)) {
    close_with_stream_error("host-unknown", "that domain is not served here");
    return;
  }
  if (!host_.empty() && host_ != to) {
    close_with_stream_error("host-unknown", "a restarted stream must keep its domain");
    return;
  }
  host_ = to;
  send_stream_header(host_);
  std::string_view version = root.attr("version");
  // RFC 6120 §4.7.5: we speak 1.0; a stream without version is pre-1.0.
  if (version.empty() || version.substr(0, 2) != "1.") {
    close_with_stream_error("unsupported-version", "XMPP 1.0 is required");
    return;
  }
  state_ = State::Negotiating;
  send_features();
}

void C2sSession::send_stream_header(std::string_view from_host) {
  xml::Element root("stream", std::string(ns::streams));
  if (!from_host.empty()) root.set_attr("from", std::string(from_host));
  root.set_attr("id", random_token(12));
  root.set_attr("version", "1.0");
  root.set_attr("lang", "en", std::string(ns::xml));
  std::string out = "<?xml version='1.0'?>";
  xml::write_open_tag(root, out, {}, kStreamDeclarations);
  connection_->write(out);
  header_sent_ = true;
}

void C2sSession::send_features() {
  xml::Element features("features", std::string(ns::streams));
  bool tls_required = worker_.config().get_bool("c2s.require_encryption", host_);
  if (!tls_) {
    xml::Element& starttls = features.append(xml::Element("starttls", std::string(ns::tls)));
    if (tls_required) starttls.append(xml::Element("required", std::string(ns::tls)));
  }
  // XEP-0386 §3: what a SASL2 client may enable inside its Bind2 request;
  // modules add theirs through the stream/features event.
  xml::Element bind2_inline("inline", std::string(ns::bind2));
  bool offers_bind2 = false;
  bool offers_sm = offers_stream_management();
  if (!authenticated_) {
    if (tls_ || !tls_required) {
      features.append(mechanisms_feature());
      features.append(sasl2_feature());
      offers_bind2 = true;
      if (tls_) {
        // XEP-0440: tell the client which channel-binding types we support.
        xml::Element cb("sasl-channel-binding", std::string(ns::sasl_channel_binding));
        for (std::string_view type : {"tls-exporter", "tls-server-end-point"}) {
          if (!offers_channel_binding(type)) continue;
          xml::Element& item = cb.append(xml::Element("channel-binding", std::string(ns::sasl_channel_binding)));
          item.set_attr("type", std::string(type));
        }
        features.append(std::move(cb));
      }
    }
  } else {
    features.append(xml::Element("bind", std::string(ns::bind)));
    // RFC 3921 session establishment, kept for old clients (RFC 6121 appendix E).
    xml::Element& session = features.append(xml::Element("session", std::string(ns::session)));
    session.append(xml::Element("optional", std::string(ns::session)));
    if (offers_sm) features.append(xml::Element("sm", std::string(ns::sm)));
  }
  StreamFeaturesEvent event{*this, features, authenticated_, tls_, offers_bind2 ? &bind2_inline : nullptr};
  if (offers_sm) event.offer_bind2_inline(ns::sm);
  if (HostContext* host = worker_.find_host(host_)) host->hooks().fire(events::stream_features, event);
  if (offers_bind2 && bind2_inline.element_count() > 0) {  // an empty list is left out
    features.first_child("authentication", ns::sasl2)
        ->first_child("inline", ns::sasl2)
        ->first_child("bind", ns::bind2)
        ->append(std::move(bind2_inline));
  }
  write_element(features);
}

void C2sSession::on_stanza(xml::Element&& element) {
  if (state_ != State::Negotiating) return;
  // RFC 6120 §4.9.1: a stream error ends the stream. The peer's is not
  // answered with one of ours; only our side of the stream is closed.
  if (element.name() == "error" && element.ns() == ns::streams) {
    const xml::Element* condition = element.first_child();
    worker_.log().info("c2s", id(), "client sent stream error ", condition ? condition->name() : "(none)");
    close_stream();
    return;
  }
  if (element.ns() == ns::tls) {
    handle_starttls(element);
    return;
  }
  if (element.ns() == ns::sasl) {
    handle_sasl(element);
    return;
  }
  if (element.ns() == ns::sasl2) {
    handle_sasl2(element);
    return;
  }
  if (!authenticated_ || sasl_busy_) {
    if (!authenticated_ && !sasl_busy_ && offer_unauthenticated_iq(element)) return;
    // RFC 6120 §4.9.3.12: stanzas before authentication.
    close_with_stream_error("not-authorized", "authenticate first");
    return;
  }
  if (element.ns() == ns::sm) {
    handle_stream_management(element);
    return;
  }
  if (bound_ && element.ns() != ns::client && offer_stream_element(element)) return;
  handle_stanza(std::move(element));
}

// Other top-level elements of a bound stream (XEP-0352's <inactive/>) are
// for modules; what none handles is refused by handle_stanza.
bool C2sSession::offer_stream_element(const xml::Element& element) {
  HostContext* host = worker_.find_host(host_);
  if (!host) return false;
  StreamElementEvent event{*this, *host, element};
  try {
    return host->hooks().fire(events::stream_element, event) == HookResult::Handled;
  } catch (const std::exception& e) {
    worker_.log().error("c2s", id(), "handler for ", events::stream_element.name, " failed: ", e.what());
    return true;  // STYLE.md principle 10: a failing handler costs the element, not the stream
  }
}

// XEP-0077 in-band registration: modules may answer IQs before SASL.
bool C2sSession::offer_unauthenticated_iq(const xml::Element& element) {
  HostContext* host = worker_.find_host(host_);
  if (!host || element.name() != "iq" || element.ns() != ns::client) return false;
  std::string_view type = element.attr("type");
  if (element.attr("id").empty() || (type != "get" && type != "set") || element.element_count() != 1) return false;
  core::Worker& worker = worker_;
  uint64_t session_id = id();
  UnauthenticatedIqEvent event{*host, element, tls_, remote_ip_,
                               [&worker, session_id](const xml::Element& answer) {
                                 C2sSession* self = worker.find_c2s(session_id);
                                 if (self && !self->authenticated_) self->send(answer);
                               },
                               [&worker, session_id](std::chrono::milliseconds how_long) {
                                 C2sSession* self = worker.find_c2s(session_id);
                                 if (self && !self->authenticated_) worker.extend_negotiation(*self, how_long);
                               }};
  try {
    bool handled = host->hooks().fire(events::unauthenticated_iq, event) == HookResult::Handled;
    if (handled) worker_.extend_negotiation(*this);
    return handled;
  } catch (const std::exception& e) {
    // STYLE.md principle 10: a failing handler costs one stanza.
    worker_.log().error("c2s", id(), "handler for ", events::unauthenticated_iq.name, " failed: ", e.what());
    write_element(make_error_reply(element, errors::internal_server_error));
    return true;
  }
}

void C2sSession::on_stream_close() {
  worker_.log().debug("c2s", id(), "client closed its stream");
  close_stream();
}

void C2sSession::on_stream_error(xml::StreamError error, std::string_view text) {
  worker_.log().info("c2s", id(), "stream error ", xml::stream_error_condition(error), ": ", text);
  close_with_stream_error(xml::stream_error_condition(error), text);
}

void C2sSession::close_with_stream_error(std::string_view condition, std::string_view text) {
  if (state_ == State::Closing || state_ == State::Closed) return;
  worker_.log().info("c2s", id(), "sending stream error ", condition);
  // RFC 6120 §4.9.1.2: a stream error needs an open stream, even at the very start.
  if (!header_sent_) send_stream_header(host_.empty() ? worker_.default_host() : host_);
  write_element(make_stream_error(condition, text));
  close_stream();
}

void C2sSession::close_stream() {
  if (state_ == State::Closing || state_ == State::Closed) return;
  state_ = State::Closing;
  connection_->write("</stream:stream>");
  connection_->close();
  // The session leaves the routing tables now; the connection finishes
  // flushing and reports on_closed, which retires the session.
  leave_routing();
}

void C2sSession::leave_routing() {
  if (!bound_) return;
  bound_ = false;
  worker_.sessions().unbind(*this);
  if (HostContext* host = worker_.find_host(host_)) {
    SessionEvent event{*this, *host};
    host->hooks().fire(events::session_closed, event);
  }
  sm_route_unacked();
}

// ---- STARTTLS (RFC 6120 §5) -------------------------------------------------

void C2sSession::handle_starttls(const xml::Element& element) {
  if (element.name() != "starttls" || tls_ || direct_tls_) {
    close_with_stream_error("policy-violation", "TLS is already in place");
    return;
  }
  write_element(xml::Element("proceed", std::string(ns::tls)));
  connection_->start_tls(worker_.tls_context());
  restart_stream();
}

// A new stream follows STARTTLS and SASL success; the old parser state and
// any bytes after the triggering element are discarded (RFC 6120 §5.4.3.3).
void C2sSession::restart_stream() {
  parser_.reset();
  header_sent_ = false;
  state_ = State::AwaitStream;
}

// ---- output -----------------------------------------------------------------

// Stream-level elements (features, errors) use the stream: prefix our header
// declared, as clients expect.
void C2sSession::write_element(const xml::Element& element) {
  std::string out;
  xml::serialize(element, out, ns::client, kStreamDeclarations);
  connection_->write(out);
}

void C2sSession::write_stanza(const xml::Element& stanza) {
  std::string out;
  xml::serialize(stanza, out, ns::client);
  send_serialized(out, &stanza);
}

void C2sSession::send(const xml::Element& stanza) {
  if (state_ != State::Negotiating) return;
  std::string out;
  xml::serialize(stanza, out, ns::client);
  send_serialized(out, &stanza);
}

void C2sSession::send_serialized(std::string_view bytes, const xml::Element* stanza) {
  if (state_ != State::Negotiating) {
    // A dropped client stays bound until on_closed. With stream management
    // what arrives meanwhile joins the unacknowledged, to be routed again.
    if (state_ == State::Closing && sm_ && bound_) sm_->unacked.emplace_back(bytes);
    return;
  }
  if (OutputGate* gate = output_gate()) {
    if (gate->hold(bytes, stanza)) return;
    for (const std::string& held : gate->release()) {
      if (!write_out(held)) return;
    }
  }
  write_out(bytes);
}

bool C2sSession::write_out(std::string_view bytes) {
  connection_->write(bytes);
  if (sm_ && !sm_count_sent(bytes)) return false;
  // A client that stops reading must not make the server buffer without
  // bound: past the limit the session is dropped (docs/ARCHITECTURE.md).
  if (connection_->pending_output_bytes() > worker_.max_output_buffer()) {
    worker_.log().warn("c2s", id(), "client is not reading; dropping the session");
    // Unbinding waits for on_closed: we may be inside a fan-out loop over
    // this account's sessions. Until then, Closing drops further output.
    state_ = State::Closing;
    connection_->abort();
    return false;
  }
  return true;
}

// ---- resource binding (RFC 6120 §7) and stanzas -----------------------------

void C2sSession::handle_stanza(xml::Element&& element) {
  std::optional<StanzaKind> kind = stanza_kind(element);
  if (!kind || element.ns() != ns::client) {
    close_with_stream_error("unsupported-stanza-type", "only message, presence and iq are accepted");
    return;
  }
  if (sm_) ++sm_->handled;  // XEP-0198 §4: every stanza received counts, answered or refused
  if (!bound_) {
    if (*kind == StanzaKind::Iq && element.first_child("bind", ns::bind) && element.attr("type") == "set") {
      handle_bind(element);
    } else {
      close_with_stream_error("not-authorized", "bind a resource first");
    }
    return;
  }
  if (*kind == StanzaKind::Iq && answers_ping(element)) return;
  if (*kind == StanzaKind::Iq && element.attr("type") == "set" && element.first_child("session", ns::session)) {
    handle_session_iq(element);
    return;
  }
  if (*kind == StanzaKind::Iq && element.first_child("bind", ns::bind)) {
    write_stanza(make_error_reply(element, errors::not_allowed, "a resource is already bound"));
    return;
  }
  // RFC 6120 §8.1.2.1: the server stamps 'from'; a client may only claim itself.
  if (const std::string* from = element.find_attr("from")) {
    std::optional<Jid> claimed = Jid::parse(*from);
    if (!claimed || (*claimed != jid() && *claimed != jid().bare())) {
      close_with_stream_error("invalid-from", "'from' does not match the bound JID");
      return;
    }
  }
  element.set_attr("from", jid().str());
  worker_.router().route_from_session(*this, std::move(element));
}

void C2sSession::handle_bind(const xml::Element& iq) {
  if (iq.attr("id").empty()) {  // RFC 6120 §8.1.3: the answer could not be matched
    write_element(make_error_reply(iq, errors::bad_request, "an IQ needs an id"));
    return;
  }
  const xml::Element* bind = iq.first_child("bind", ns::bind);
  std::string resource;
  if (const xml::Element* r = bind->first_child("resource", ns::bind)) resource = r->text();
  std::string refused = bind_resource(std::move(resource));
  if (refused == "bad-request") {
    write_element(make_error_reply(iq, errors::bad_request, "that resource is not valid"));
    return;
  }
  if (!refused.empty()) {
    write_element(make_error_reply(iq, errors::resource_constraint, "too many sessions for this account"));
    return;
  }
  xml::Element result = make_iq_result(iq);
  result.remove_attr("to");
  xml::Element& b = result.append(xml::Element("bind", std::string(ns::bind)));
  b.append(xml::Element("jid", std::string(ns::bind))).append_text(jid().str());
  write_element(result);
  announce_bound();
}

std::string C2sSession::random_resource() { return random_token(8); }

std::string C2sSession::bind_resource(std::string resource) {
  if (resource.empty()) resource = random_resource();
  std::optional<Jid> full = Jid::make(username_, host_, resource);
  if (!full) return "bad-request";
  // RFC 6120 §7.6.2.1: too many resources for one account.
  auto max_sessions = static_cast<size_t>(worker_.config().get_int("limits.max_sessions_per_account", host_));
  if (worker_.sessions().resources(full->bare()).size() >= max_sessions && !worker_.sessions().find(*full)) {
    return "resource-constraint";
  }
  set_jid(*full);
  bound_ = true;
  if (Session* previous = worker_.sessions().bind(*this)) {
    // RFC 6120 §7.7.2.2: the new session takes the resource over.
    previous->close_with_stream_error("conflict", "replaced by a new session with the same resource");
  }
  worker_.log().info("c2s", id(), "bound ", jid().str());
  return {};
}

// Modules hear of the session once the client knows its JID.
void C2sSession::announce_bound() {
  if (HostContext* host = worker_.find_host(host_)) {
    SessionEvent event{*this, *host};
    host->hooks().fire(events::session_bound, event);
  }
}

void C2sSession::handle_session_iq(const xml::Element& iq) {
  xml::Element result = make_iq_result(iq);
  result.remove_attr("to");
  write_stanza(result);
}

}  // namespace parley::xmpp
