#include "modules/s2s/outgoing_link.hpp"

#include <algorithm>
#include <stdexcept>
#include <string>

#include "core/base64.hpp"
#include "core/log.hpp"
#include "modules/s2s/federation.hpp"
#include "net/net_loop.hpp"
#include "xmpp/namespaces.hpp"

namespace parley::modules::s2s {

namespace {
// Far more than travel during one acknowledgement round trip, even at full speed.
constexpr size_t kMaxUnacked = 20000;
}  // namespace

OutgoingLink::OutgoingLink(Federation& federation, uint64_t id, std::string local, std::string remote)
    : Link(federation, id, std::move(local), std::move(remote)) {}

void OutgoingLink::connect(std::vector<Endpoint> endpoints) {
  endpoints_.assign(endpoints.begin(), endpoints.end());
  try_next_endpoint();
}

// RFC 6120 §3.2.1: on a connection failure, the next target in order.
void OutgoingLink::try_next_endpoint() {
  if (endpoints_.empty()) {
    finish(failure_text_.empty() ? "no address to connect to" : failure_text_);
    return;
  }
  Endpoint endpoint = std::move(endpoints_.front());
  endpoints_.pop_front();
  federation_.log().info("s2s", id_, "connecting to ", remote_, " at ", endpoint.address, " port ", endpoint.port,
                         endpoint.direct_tls ? " (direct TLS)" : "");
  Federation& federation = federation_;
  uint64_t id = id_;
  bool direct_tls = endpoint.direct_tls;
  // The link may be gone when the connection completes; look it up again.
  std::weak_ptr<bool> alive = federation.alive_token();
  net::Connection::connect(
      federation.services().net(), endpoint.address, endpoint.port,
      [&federation, id, direct_tls, alive](std::unique_ptr<net::Connection> connection, std::string error) {
        if (alive.expired()) return;
        auto* self = dynamic_cast<OutgoingLink*>(federation.find_link(id));
        if (!self || self->closed_) return;
        if (!connection) {
          self->failure_text_ = error;
          self->try_next_endpoint();
          return;
        }
        self->attach(std::move(connection));
        if (direct_tls) {
          // XEP-0368: TLS first (SNI and certificate for the domain), then the stream.
          self->connection_->start_tls_client(self->federation_.client_context(self->local_), self->remote_);
        }
        self->connection_->start(*self);
        self->send_stream_header(false);
        self->state_ = State::AwaitFeatures;
      });
}

bool OutgoingLink::send(xml::Element&& stanza) {
  // A link on its way out writes nothing more; what comes meanwhile waits in
  // the queue and goes back to its sender when the link is over.
  if (state_ == State::Ready && !closing_) {
    transmit(std::move(stanza));
    return true;
  }
  if (queue_.size() >= federation_.queue_limit()) return false;
  queue_.push_back(std::move(stanza));
  return true;
}

void OutgoingLink::fail(xmpp::StanzaErrorCondition condition, std::string_view text) {
  failure_ = condition;
  failure_text_ = std::string(text);
  if (connection_) {
    close_with_stream_error("connection-timeout", text);
  } else {
    finish(text);
  }
}

void OutgoingLink::request_verify(std::string stream_id, std::string key, std::function<void(bool valid)> done) {
  verifies_.push_back({std::move(stream_id), std::move(key), std::move(done)});
  // Not between <auth/> and the stream restart: the peer discards what it
  // read on the old stream, so the verify waits for the new one.
  if (can_verify_ && state_ != State::AwaitSasl) send_verifies();
}

// XEP-0220 §2.1.2: <db:verify/> may go out before this stream is itself
// authenticated.
void OutgoingLink::send_verifies() {
  for (Verify& v : verifies_) {
    if (v.sent) continue;
    xml::Element verify("verify", std::string(kDialbackNs));
    verify.set_attr("from", local_);
    verify.set_attr("to", remote_);
    verify.set_attr("id", v.stream_id);
    verify.append_text(v.key);
    write_element(verify);
    v.sent = true;
  }
}

void OutgoingLink::on_dialback(const xml::Element& element) {
  std::string_view type = element.attr("type");
  if (element.name() == "verify") {
    for (auto it = verifies_.begin(); it != verifies_.end(); ++it) {
      if (it->sent && it->stream_id == element.attr("id")) {
        std::function<void(bool)> done = std::move(it->done);
        verifies_.erase(it);
        done(type == "valid");
        return;
      }
    }
    return;  // an answer to nothing we asked: ignored
  }
  if (element.name() == "result" && state_ == State::AwaitDialback) {
    if (type == "valid") {
      federation_.log().info("s2s", id_, "link ", local_, " -> ", remote_, " authenticated by dialback");
      become_ready();
      return;
    }
    failure_text_ = remote_ + " did not accept our dialback key";
    close_stream();
    return;
  }
  close_with_stream_error("unsupported-stanza-type", "unexpected dialback element");
}

void OutgoingLink::on_stream_open(const xml::Element& root, std::string_view default_ns) {
  stream_id_ = std::string(root.attr("id"));
  // RFC 6120 §4.9.3.10: the peer must speak jabber:server to us.
  if (default_ns != kServerNs) {
    close_with_stream_error("invalid-namespace", "expected jabber:server");
    return;
  }
  std::string_view version = root.attr("version");
  if (version.empty() || version.substr(0, 2) != "1.") {
    // Pre-1.0 peers have no STARTTLS; we do not talk to them in clear.
    close_with_stream_error("unsupported-version", "XMPP 1.0 is required");
  }
}

void OutgoingLink::on_stanza(xml::Element&& element) {
  touch();
  const std::string& ns = element.ns();
  if (element.name() == "features" && ns == xmpp::ns::streams) {
    on_features(element);
    return;
  }
  if (element.name() == "error" && ns == xmpp::ns::streams) {
    std::string condition = element.first_child() ? element.first_child()->name() : "undefined-condition";
    failure_text_ = "the peer sent a stream error: " + condition;
    federation_.log().info("s2s", id_, failure_text_);
    close_stream();
    return;
  }
  if (state_ == State::AwaitProceed && ns == xmpp::ns::tls) {
    if (element.name() != "proceed") {
      failure_text_ = "the peer refused STARTTLS";
      close_stream();
      return;
    }
    // RFC 6120 §5.4.3.3: TLS, then a fresh stream.
    connection_->start_tls_client(federation_.client_context(local_), remote_);
    restart_stream();
    send_stream_header(false);
    state_ = State::AwaitFeatures;
    return;
  }
  if (ns == kDialbackNs && (tls_ || federation_.plaintext_allowed(remote_))) {
    on_dialback(element);
    return;
  }
  if (ns == xmpp::ns::sm) {
    handle_stream_management(element);
    return;
  }
  if (state_ == State::AwaitSasl && ns == xmpp::ns::sasl) {
    if (element.name() != "success") {
      failure_text_ = "the peer did not accept our certificate (SASL EXTERNAL)";
      federation_.log().warn("s2s", id_, failure_text_, " for ", local_);
      close_stream();
      return;
    }
    authenticated_ = true;
    restart_stream();  // RFC 6120 §6.4.6
    send_stream_header(false);
    state_ = State::AwaitFeatures;
    return;
  }
  // Stanzas come our way on a link we opened only if it is bidirectional.
  if (state_ == State::Ready && bidi_) {
    if (check_remote_stanza(element)) deliver_remote(std::move(element));
    return;
  }
  close_with_stream_error("unsupported-stanza-type", "this link carries stanzas one way only");
}

void OutgoingLink::on_features(const xml::Element& features) {
  if (state_ != State::AwaitFeatures) {
    close_with_stream_error("policy-violation", "unexpected stream features");
    return;
  }
  peer_offers_sm_ = features.first_child("sm", xmpp::ns::sm) != nullptr;
  if (authenticated_) {
    send_verifies();  // those asked for during the SASL exchange
    become_ready();
    return;
  }
  if (!tls_) {
    if (features.first_child("starttls", xmpp::ns::tls)) {
      write_element(xml::Element("starttls", std::string(xmpp::ns::tls)));
      state_ = State::AwaitProceed;
      return;
    }
    // Encryption is required on every link (DESIGN.md, security defaults),
    // except with legacy peers listed in modules.s2s.plaintext_domains.
    if (!federation_.plaintext_allowed(remote_)) {
      failure_text_ = "the peer does not offer TLS";
      close_with_stream_error("policy-violation", failure_text_);
      return;
    }
    federation_.log().warn("s2s", id_, remote_, " offers no TLS; continuing in clear as plaintext_domains allows");
  }
  can_verify_ = true;
  send_verifies();
  // XEP-0288 §2.2: ask, before authenticating, to receive on this link too.
  if (!bidi_ && federation_.bidi_enabled() && features.first_child("bidi", kBidiFeatureNs)) {
    write_element(xml::Element("bidi", std::string(kBidiNs)));
    bidi_ = true;
  }
  // Before sending anything we must trust the peer's certificate for its
  // domain (RFC 6120 §13.7.2.1, RFC 6125), unless policy accepts dialback for
  // it: then, as with any dialback peer, DNS is what vouches for it.
  long verified = connection_->tls() && tls_ ? connection_->tls()->verify_result() : -1;
  if (verified != 0) {
    if (!federation_.dialback_allowed(remote_)) {
      failure_text_ = "the certificate of " + remote_ + " could not be verified";
      federation_.log().warn("s2s", id_, failure_text_, " (X509 error ", verified, ")");
      close_with_stream_error("not-authorized", failure_text_);
      return;
    }
    federation_.log().info("s2s", id_, "certificate of ", remote_, " not verified (X509 error ", verified,
                           "); continuing as its policy allows dialback");
  }
  bool external = false;
  if (const xml::Element* mechanisms = features.first_child("mechanisms", xmpp::ns::sasl)) {
    for (const xml::Element& m : mechanisms->children()) {
      if (m.name() == "mechanism" && m.text() == "EXTERNAL") external = true;
    }
  }
  if (external) {
    // XEP-0178 §3: the authorization identity is our domain.
    xml::Element auth("auth", std::string(xmpp::ns::sasl));
    auth.set_attr("mechanism", "EXTERNAL");
    auth.append_text(core::base64_encode(local_));
    write_element(auth);
    state_ = State::AwaitSasl;
    return;
  }
  if (features.first_child("dialback", kDialbackFeatureNs)) {
    // XEP-0220 §2.1.1: our key for this stream, checked by the peer with us.
    xml::Element result("result", std::string(kDialbackNs));
    result.set_attr("from", local_);
    result.set_attr("to", remote_);
    result.append_text(federation_.dialback_key(remote_, local_, stream_id_));
    write_element(result);
    state_ = State::AwaitDialback;
    return;
  }
  failure_text_ = remote_ + " does not accept our certificate and offers no dialback";
  close_with_stream_error("not-authorized", failure_text_);
}

void OutgoingLink::on_tls_established() { tls_ = true; }

void OutgoingLink::become_ready() {
  state_ = State::Ready;
  // XEP-0198 on a one-way link: stanzas written from here on are counted by
  // the peer, so they are tracked at once, before <enabled/> comes back.
  if (peer_offers_sm_ && !bidi_) {
    write_element(xml::Element("enable", std::string(xmpp::ns::sm)));
    sm_enabled_ = true;
  }
  federation_.log().info("s2s", id_, "link ", local_, " -> ", remote_, " ready; ", queue_.size(), " stanzas queued");
  federation_.link_ready(*this);
  while (!queue_.empty()) {
    transmit(std::move(queue_.front()));
    queue_.pop_front();
  }
}

void OutgoingLink::transmit(xml::Element&& stanza) {
  if (!sm_enabled_) {
    write_stanza(std::move(stanza));
    return;
  }
  // A peer that offers acknowledgements but never sends them would have us
  // keep copies for ever: past this many the link ends and they bounce.
  if (unacked_.size() >= std::max<size_t>(kMaxUnacked, federation_.queue_limit())) {
    failure_ = xmpp::errors::remote_server_timeout;
    failure_text_ = remote_ + " does not acknowledge what it receives";
    federation_.bounce(stanza, failure_, failure_text_);
    close_with_stream_error("connection-timeout", failure_text_);
    return;
  }
  unacked_.push_back(stanza);
  write_stanza(std::move(stanza));
  // One request at a time: the answer covers everything written before it.
  if (!ack_requested_) {
    write_element(xml::Element("r", std::string(xmpp::ns::sm)));
    ack_requested_ = true;
  }
}

void OutgoingLink::handle_stream_management(const xml::Element& element) {
  if (element.name() == "enabled") {
    sm_enabled_ = true;
  } else if (element.name() == "failed") {
    sm_enabled_ = false;
    unacked_.clear();
  } else if (element.name() == "a" && sm_enabled_) {
    uint32_t h = 0;
    try {
      h = static_cast<uint32_t>(std::stoul(std::string(element.attr("h"))));
    } catch (const std::exception&) {
      close_with_stream_error("undefined-condition", "<a/> without a valid 'h'");
      return;
    }
    uint32_t newly = h - sm_acked_;  // modulo 2^32 (XEP-0198 §4)
    if (newly > unacked_.size()) {
      // XEP-0198 §4: acknowledging more than was sent.
      close_with_stream_error("undefined-condition", "acknowledged more stanzas than were sent");
      return;
    }
    unacked_.erase(unacked_.begin(), unacked_.begin() + newly);
    sm_acked_ = h;
    ack_requested_ = false;
    if (!unacked_.empty()) {
      write_element(xml::Element("r", std::string(xmpp::ns::sm)));
      ack_requested_ = true;
    }
  }
}

void OutgoingLink::on_finish(std::string_view reason) {
  if (state_ != State::Ready) federation_.link_failed(remote_);
  // Dialback checks we could not make count as failed (XEP-0220 §2.4).
  std::vector<Verify> verifies = std::move(verifies_);
  for (Verify& v : verifies) v.done(false);
  // Never lose a stanza silently: what did not leave goes back to its sender.
  std::string text = failure_text_.empty() ? std::string(reason) : failure_text_;
  // Written but never acknowledged (XEP-0198): the peer may not have them.
  for (const xml::Element& stanza : unacked_) {
    federation_.bounce(stanza, xmpp::errors::remote_server_timeout,
                       "the link to " + remote_ + " ended before " + remote_ + " confirmed receipt: " + text);
  }
  unacked_.clear();
  while (!queue_.empty()) {
    federation_.bounce(queue_.front(), failure_, text);
    queue_.pop_front();
  }
}

}  // namespace parley::modules::s2s
