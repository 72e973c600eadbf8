#include "modules/s2s/incoming_link.hpp"

#include "core/base64.hpp"
#include "core/log.hpp"
#include "modules/s2s/federation.hpp"
#include "xmpp/jid.hpp"
#include "xmpp/namespaces.hpp"
#include "xmpp/router.hpp"
#include "xmpp/stanza.hpp"

namespace parley::modules::s2s {

IncomingLink::IncomingLink(Federation& federation, uint64_t id, std::unique_ptr<net::Connection> connection,
                           bool direct_tls)
    : Link(federation, id, {}, {}), direct_tls_(direct_tls) {
  attach(std::move(connection));
  remote_ip_ = connection_->remote_ip();
  tokens_ = federation.rate_limit();
  limited_ = tokens_ > 0;
}

void IncomingLink::start() {
  federation_.log().info("s2s", id_, "incoming link from ", connection_->remote_address(),
                         direct_tls_ ? " (direct TLS)" : "");
  if (direct_tls_) connection_->start_tls(federation_.default_server_context());
  connection_->start(*this);
}

void IncomingLink::refill(uint64_t per_second) {
  limited_ = per_second > 0;
  tokens_ = per_second;
  while (!held_.empty() && (!limited_ || tokens_ > 0)) {
    xml::Element stanza = std::move(held_.front());
    held_.pop_front();
    if (limited_) --tokens_;
    deliver(std::move(stanza));
    if (closed()) return;
  }
  if (held_.empty()) resume_reading();
}

// XEP-0198 counts a stanza once it is routed, not when it is read: one held
// back by the rate limit is lost if the link drops, so the peer must still
// count it as unacknowledged.
void IncomingLink::deliver(xml::Element&& stanza) {
  if (sm_enabled_) ++sm_handled_;
  deliver_remote(std::move(stanza));
}

void IncomingLink::handle_stream_management(const xml::Element& element) {
  if (element.name() == "enable") {
    if (!authenticated_ || sm_enabled_) {
      xml::Element failed("failed", std::string(xmpp::ns::sm));
      failed.append(xml::Element("unexpected-request", std::string(xmpp::ns::stanza_errors)));
      write_element(failed);
      return;
    }
    // XEP-0198 §3: without resumption; counting starts now.
    sm_enabled_ = true;
    write_element(xml::Element("enabled", std::string(xmpp::ns::sm)));
  } else if (element.name() == "r" && sm_enabled_) {
    xml::Element ack("a", std::string(xmpp::ns::sm));
    ack.set_attr("h", std::to_string(sm_handled_));
    write_element(ack);
  }
  // <a/> from the peer acknowledges stanzas of a bidirectional link, which
  // are not tracked; anything else is ignored too.
}

bool IncomingLink::send(xml::Element&& stanza) {
  if (!bidi_ready_ || closed()) return false;
  write_stanza(std::move(stanza));
  return true;
}

// XEP-0288 §2.2: once the peer's authenticated stream is open, this link
// carries our stanzas to it too.
void IncomingLink::offer_bidi() {
  if (!bidi_ || bidi_ready_ || !authenticated_) return;
  bidi_ready_ = true;
  federation_.bidi_ready(*this);
  federation_.log().info("s2s", id_, "link ", remote_, " <-> ", local_, " is bidirectional (XEP-0288)");
}

void IncomingLink::on_stream_open(const xml::Element& root, std::string_view default_ns) {
  // Domains compare after RFC 7622 preparation (case, a final dot).
  const std::string to = xmpp::prep_domain(root.attr("to")).value_or(std::string());
  const std::string from = xmpp::prep_domain(root.attr("from")).value_or(std::string());
  // RFC 6120 §4.9.3.10: this port speaks jabber:server only.
  if (default_ns != kServerNs) {
    close_with_stream_error("invalid-namespace", "this port serves jabber:server streams");
    return;
  }
  // RFC 6120 §4.9.3.6: the stream must be for a domain we serve here with s2s on.
  if (!federation_.serves(to)) {
    close_with_stream_error("host-unknown", "that domain is not served here");
    return;
  }
  if (!local_.empty() && local_ != to) {
    close_with_stream_error("host-unknown", "a restarted stream must keep its domain");
    return;
  }
  local_ = to;
  if (!from.empty()) claimed_ = from;
  std::string_view version = root.attr("version");
  send_stream_header(true);
  if (version.empty() || version.substr(0, 2) != "1.") {
    close_with_stream_error("unsupported-version", "XMPP 1.0 is required");
    return;
  }
  stream_open_ = true;
  send_features();
  offer_bidi();
}

void IncomingLink::send_features() {
  xml::Element features("features", std::string(xmpp::ns::streams));
  bool plaintext = !tls_ && federation_.plaintext_allowed(claimed_);
  if (!tls_) {
    // TLS is required on every link (DESIGN.md security defaults), except
    // for legacy peers in modules.s2s.plaintext_domains, which may go on in
    // clear with dialback.
    xml::Element& starttls = features.append(xml::Element("starttls", std::string(xmpp::ns::tls)));
    if (!plaintext) starttls.append(xml::Element("required", std::string(xmpp::ns::tls)));
  }
  if (plaintext && !authenticated_) {
    xml::Element& db = features.append(xml::Element("dialback", std::string(kDialbackFeatureNs)));
    db.append(xml::Element("errors", std::string(kDialbackFeatureNs)));
  } else if (tls_ && !authenticated_) {
    // XEP-0178 §3: offer EXTERNAL when the certificate proves the claimed
    // domain; XEP-0220 §2.1 dialback when policy accepts it for that domain.
    // With neither the peer has no way in: say so rather than leave it waiting.
    bool certificate = !claimed_.empty() && certificate_valid_for(claimed_);
    bool dialback = federation_.dialback_allowed(claimed_);
    if (!certificate && !dialback) {
      federation_.log().warn("s2s", id_, "refusing ", claimed_.empty() ? "a peer without 'from'" : claimed_,
                             ": no valid certificate for that domain");
      close_with_stream_error("not-authorized", "no valid certificate for " + claimed_);
      return;
    }
    if (certificate) {
      xml::Element& mechanisms = features.append(xml::Element("mechanisms", std::string(xmpp::ns::sasl)));
      mechanisms.append(xml::Element("mechanism", std::string(xmpp::ns::sasl))).append_text("EXTERNAL");
    }
    if (dialback) {
      xml::Element& db = features.append(xml::Element("dialback", std::string(kDialbackFeatureNs)));
      db.append(xml::Element("errors", std::string(kDialbackFeatureNs)));
    }
    if (federation_.bidi_enabled()) features.append(xml::Element("bidi", std::string(kBidiFeatureNs)));
  }
  // XEP-0198: the peer may ask for acknowledgements once authenticated.
  if (tls_ || plaintext) features.append(xml::Element("sm", std::string(xmpp::ns::sm)));
  write_element(features);
}

bool IncomingLink::certificate_valid_for(const std::string& claimed) const {
  const net::TlsSession* tls = connection_ ? connection_->tls() : nullptr;
  if (!tls) return false;
  if (!federation_.policy_allows(claimed)) return false;
  return tls->peer_certificate_matches(claimed);
}

void IncomingLink::on_tls_established() {
  tls_ = true;
  const net::TlsSession* tls = connection_->tls();
  federation_.log().debug("s2s", id_, "TLS established (", tls ? tls->protocol_version() : "", ")");
}

void IncomingLink::on_stanza(xml::Element&& element) {
  touch();
  const std::string& ns = element.ns();
  if (ns == xmpp::ns::tls) {
    if (element.name() != "starttls" || tls_ || direct_tls_) {
      close_with_stream_error("policy-violation", "TLS is already in place");
      return;
    }
    write_element(xml::Element("proceed", std::string(xmpp::ns::tls)));
    connection_->start_tls(federation_.server_context(local_));
    restart_stream();
    return;
  }
  if (ns == xmpp::ns::sasl) {
    handle_auth(element);
    return;
  }
  if (ns == kBidiNs && element.name() == "bidi" && tls_ && !authenticated_ && federation_.bidi_enabled()) {
    bidi_ = true;  // XEP-0288 §2.2: requested before authentication; no answer
    return;
  }
  if (ns == kDialbackNs && (tls_ || federation_.plaintext_allowed(claimed_))) {
    if (element.name() == "result" && element.attr("type").empty()) {
      handle_dialback_result(element);
    } else if (element.name() == "verify" && element.attr("type").empty()) {
      handle_dialback_verify(element);
    } else {
      close_with_stream_error("unsupported-stanza-type", "unexpected dialback element");
    }
    return;
  }
  if (ns == xmpp::ns::sm) {
    handle_stream_management(element);
    return;
  }
  if (!authenticated_) {
    // RFC 6120 §4.9.3.12: nothing but negotiation before authentication.
    close_with_stream_error("not-authorized", "authenticate first");
    return;
  }
  handle_stanza(std::move(element));
}

void IncomingLink::handle_auth(const xml::Element& auth) {
  if (!tls_ || authenticated_ || auth.name() != "auth" || auth.attr("mechanism") != "EXTERNAL") {
    xml::Element failure("failure", std::string(xmpp::ns::sasl));
    failure.append(xml::Element("invalid-mechanism", std::string(xmpp::ns::sasl)));
    write_element(failure);
    return;
  }
  // XEP-0178 §3: the authorization identity is the peer's domain, or empty
  // ("=") to mean the domain of the stream header.
  std::string authzid = claimed_;
  std::string data = auth.text();
  if (!data.empty() && data != "=") {
    std::optional<std::string> decoded = core::base64_decode(data);
    if (!decoded) {
      xml::Element failure("failure", std::string(xmpp::ns::sasl));
      failure.append(xml::Element("incorrect-encoding", std::string(xmpp::ns::sasl)));
      write_element(failure);
      close_stream();
      return;
    }
    authzid = xmpp::prep_domain(*decoded).value_or(std::string());
  }
  // XEP-0178 §3: the stream's 'from' names the peer; a certificate that
  // also names other domains does not let it authenticate as one of them.
  if (!claimed_.empty() && authzid != claimed_) {
    xml::Element failure("failure", std::string(xmpp::ns::sasl));
    failure.append(xml::Element("invalid-authzid", std::string(xmpp::ns::sasl)));
    write_element(failure);
    federation_.log().warn("s2s", id_, "SASL EXTERNAL for '", authzid, "' on a stream from ", claimed_, " refused");
    close_stream();
    return;
  }
  if (authzid.empty() || !certificate_valid_for(authzid)) {
    xml::Element failure("failure", std::string(xmpp::ns::sasl));
    failure.append(xml::Element("not-authorized", std::string(xmpp::ns::sasl)));
    write_element(failure);
    federation_.log().warn("s2s", id_, "SASL EXTERNAL refused for '", authzid, "'");
    close_stream();
    return;
  }
  remote_ = authzid;
  authenticated_ = true;
  write_element(xml::Element("success", std::string(xmpp::ns::sasl)));
  restart_stream();
  federation_.log().info("s2s", id_, "incoming link ", remote_, " -> ", local_, " authenticated by certificate");
}

void IncomingLink::handle_dialback_result(const xml::Element& result) {
  const std::string from = xmpp::prep_domain(result.attr("from")).value_or(std::string());
  const std::string to = xmpp::prep_domain(result.attr("to")).value_or(std::string());
  if (to != local_) {
    close_with_stream_error("host-unknown", "db:result for a domain this stream is not for");
    return;
  }
  bool allowed = federation_.dialback_allowed(from) && (tls_ || federation_.plaintext_allowed(from));
  if (authenticated_ || dialback_pending_ || from.empty() || !allowed) {
    // One domain per incoming link; and only where policy accepts dialback.
    federation_.log().warn("s2s", id_, "dialback from '", from, "' not accepted here");
    dialback_outcome(from, false);
    return;
  }
  dialback_pending_ = true;
  federation_.log().info("s2s", id_, "checking the dialback key of ", from, " with its authoritative server");
  Federation& federation = federation_;
  uint64_t id = id_;
  std::weak_ptr<bool> alive = federation.alive_token();
  federation.verify_dialback(local_, from, stream_id_, result.text(), [&federation, id, from, alive](bool valid) {
    if (alive.expired()) return;
    auto* self = dynamic_cast<IncomingLink*>(federation.find_link(id));
    if (!self || self->closed()) return;
    self->dialback_pending_ = false;
    self->dialback_outcome(from, valid);
  });
}

void IncomingLink::dialback_outcome(const std::string& domain, bool valid) {
  xml::Element answer("result", std::string(kDialbackNs));
  answer.set_attr("from", local_);
  answer.set_attr("to", domain);
  answer.set_attr("type", valid ? "valid" : "invalid");
  write_element(answer);
  if (!valid) {
    federation_.log().warn("s2s", id_, "dialback for ", domain, " failed; closing");
    close_stream();
    return;
  }
  remote_ = domain;
  authenticated_ = true;
  federation_.log().info("s2s", id_, "incoming link ", remote_, " -> ", local_, " authenticated by dialback");
  offer_bidi();
}

// XEP-0220 §2.1.2: we are the authoritative server for `to`; the key is
// valid if we computed it for that receiving server and stream id.
void IncomingLink::handle_dialback_verify(const xml::Element& verify) {
  const std::string from = xmpp::prep_domain(verify.attr("from")).value_or(std::string());
  const std::string to = xmpp::prep_domain(verify.attr("to")).value_or(std::string());
  std::string stream_id(verify.attr("id"));
  bool valid = federation_.serves(to) && !stream_id.empty() &&
               verify.text() == federation_.dialback_key(from, to, stream_id);
  xml::Element answer("verify", std::string(kDialbackNs));
  answer.set_attr("from", to);
  answer.set_attr("to", from);
  answer.set_attr("id", stream_id);
  answer.set_attr("type", valid ? "valid" : "invalid");
  write_element(answer);
  federation_.log().info("s2s", id_, "db:verify from ", from, " for ", to, ": ", valid ? "valid" : "invalid");
}

void IncomingLink::handle_stanza(xml::Element&& stanza) {
  if (!check_remote_stanza(stanza)) return;
  if (limited_) {
    // Out of allowance: the stanza waits for the next second, and so does
    // reading (TCP back-pressure slows the peer down; nothing is dropped).
    if (tokens_ == 0 || !held_.empty()) {
      if (!paused()) federation_.log().debug("s2s", id_, "rate limit reached; reading again next second");
      held_.push_back(std::move(stanza));
      pause_reading();
      return;
    }
    --tokens_;
  }
  deliver(std::move(stanza));
}

void IncomingLink::on_finish(std::string_view) {}

}  // namespace parley::modules::s2s
