// XEP-0198 Stream Management for client sessions: acknowledgements, without
// resumption. A phone whose connection dies without a FIN keeps "receiving"
// into a dead socket until the liveness ping notices (c2s.ping_interval +
// ping_timeout). With acknowledgements the server knows what never arrived;
// when the session ends it stores those messages offline if this was the
// account's last available resource, as Prosody's mod_smacks does.
#include <charconv>

#include "core/config.hpp"
#include "core/log.hpp"
#include "core/worker.hpp"
#include "xml/fragment.hpp"
#include "xml/writer.hpp"
#include "xmpp/c2s_session.hpp"
#include "xmpp/namespaces.hpp"
#include "xmpp/router.hpp"

namespace parley::xmpp {

namespace {

xml::Element sm_element(std::string name) { return xml::Element(std::move(name), std::string(ns::sm)); }

xml::Element sm_failed(StanzaErrorCondition condition) {
  xml::Element failed = sm_element("failed");
  failed.append(xml::Element(std::string(condition.name), std::string(ns::stanza_errors)));
  return failed;
}

// What the account's other resources got of a message to its bare JID
// (RFC 6121 §8.5.2.1): chat messages reach all of them, normal ones only
// those with the highest priority.
struct OtherResources {
  bool available = false;  // with a non-negative priority
  bool got_normal = false;  // one of them has at least the ending session's priority
};

// What a session that ends does with a stanza its client never acknowledged.
//  - A chat or normal message from another account: if no other resource of
//    the account is available, it goes to offline storage (routed to the bare
//    JID, which now has no recipient). If it was addressed to this resource
//    alone, its sender gets <recipient-unavailable/>. Otherwise it was
//    addressed to the bare JID: the other resources got it too and it is
//    dropped, unless it is a normal message that only this resource got as
//    the one with the highest priority; that one is routed to the bare JID
//    again, for the resources that come first now.
//  - An IQ request is answered as for a resource that is gone
//    (<service-unavailable/>, RFC 6121 §8.5.3.2.3).
//  - The rest (presence, headlines, errors, the account's own carbon copies)
//    is stale or exists elsewhere, and is dropped.
enum class Redo { RouteToBare, Refuse, Bounce, Drop };

Redo redo_for(const xml::Element& stanza, const Jid& session_jid, OtherResources others) {
  std::optional<Jid> from = Jid::parse(stanza.attr("from"));
  if (!from) return Redo::Drop;
  std::string_view type = stanza.attr("type");
  if (stanza.name() == "iq") return type == "get" || type == "set" ? Redo::Bounce : Redo::Drop;
  if (stanza.name() != "message" || from->bare() == session_jid.bare()) return Redo::Drop;
  if (!type.empty() && type != "normal" && type != "chat") return Redo::Drop;
  if (!others.available) return Redo::RouteToBare;
  if (stanza.attr("to") == session_jid.str()) return Redo::Refuse;
  return type != "chat" && !others.got_normal ? Redo::RouteToBare : Redo::Drop;
}

// Past this many times c2s.sm_max_unacked, or this many times
// limits.max_output_buffer in bytes, a session is dropped at once: memory
// stays bounded even while the ack request has time to be answered.
constexpr size_t kHardLimitFactor = 4;
constexpr size_t kHardBytesFactor = 16;

// A stanza as send_serialized() wrote it: in the stream's default namespace,
// jabber:client, which it does not declare; to read it alone, it must.
std::optional<xml::Element> parse_sent(std::string_view bytes) {
  size_t name_end = bytes.find_first_of(" />");
  if (bytes.size() < 2 || bytes[0] != '<' || name_end == std::string_view::npos) return std::nullopt;
  std::string text;
  text.reserve(bytes.size() + 24);
  text.append(bytes.substr(0, name_end)).append(" xmlns='jabber:client'").append(bytes.substr(name_end));
  return xml::parse_element(text);
}

}  // namespace

bool C2sSession::offers_stream_management() const {
  return worker_.config().get_bool("c2s.stream_management", host_);
}

void C2sSession::handle_stream_management(const xml::Element& element) {
  const std::string& name = element.name();
  if (name == "r") {
    if (!sm_) {
      close_with_stream_error("unsupported-stanza-type", "stream management is not enabled");
      return;
    }
    xml::Element a = sm_element("a");
    a.set_attr("h", std::to_string(sm_->handled));
    write_element(a);
  } else if (name == "a") {
    if (!sm_) {
      close_with_stream_error("unsupported-stanza-type", "stream management is not enabled");
      return;
    }
    sm_acknowledge(element);
  } else if (name == "enable") {
    write_element(enable_stream_management());
  } else if (name == "resume") {
    // XEP-0198 §5: a server that does not keep sessions says so.
    write_element(sm_failed(errors::feature_not_implemented));
  } else {
    close_with_stream_error("unsupported-stanza-type", "unknown stream management element");
  }
}

xml::Element C2sSession::enable_stream_management() {
  // XEP-0198 §3: after resource binding, once.
  if (!bound_ || sm_ || !offers_stream_management()) return sm_failed(errors::unexpected_request);
  sm_.emplace();
  sm_->max_unacked = static_cast<size_t>(worker_.config().get_int("c2s.sm_max_unacked", host_));
  worker_.log().debug("c2s", id(), "stream management enabled");
  return sm_element("enabled");  // no 'resume': resumption is not offered
}

bool C2sSession::sm_count_sent(std::string_view stanza) {
  sm_->unacked.emplace_back(stanza);
  sm_->unacked_bytes += stanza.size();
  if (sm_->unacked.size() > kHardLimitFactor * sm_->max_unacked ||
      sm_->unacked_bytes > kHardBytesFactor * worker_.max_output_buffer()) {
    // As for a client that stops reading: we may be inside a fan-out over
    // this account's sessions, so the session leaves routing in on_closed,
    // where the queue is handled.
    worker_.log().warn("c2s", id(), "client acknowledges nothing (", sm_->unacked.size(), " stanzas, ",
                       sm_->unacked_bytes, " bytes waiting); dropping the session");
    state_ = State::Closing;
    connection_->abort();
    return false;
  }
  if (!sm_->ack_requested) sm_request_ack();
  return true;
}

void C2sSession::sm_request_ack() {
  // Written behind the stanza in the same flush: no extra packet.
  connection_->write("<r xmlns='urn:xmpp:sm:3'/>");
  sm_->ack_requested = true;
  sm_->requested_ms = uv_now(worker_.loop());
}

bool C2sSession::sm_overdue(uint64_t now_ms, uint64_t timeout_ms) const {
  return sm_ && sm_->ack_requested && sm_->unacked.size() > sm_->max_unacked &&
         now_ms - sm_->requested_ms >= timeout_ms;
}

void C2sSession::sm_acknowledge(const xml::Element& a) {
  std::string_view text = a.attr("h");
  uint32_t h = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), h);
  if (error != std::errc() || end != text.data() + text.size() || text.empty()) {
    close_with_stream_error("invalid-xml", "'h' must be an unsigned 32-bit integer");
    return;
  }
  // h counts modulo 2^32 (XEP-0198 §5).
  uint32_t newly = h - sm_->acknowledged;
  if (newly > sm_->unacked.size()) {
    // XEP-0198 §4 (handled-count-too-high): the client claims more than we sent.
    xml::Element error = make_stream_error("undefined-condition", "acknowledged more stanzas than were sent");
    xml::Element& detail = error.append(sm_element("handled-count-too-high"));
    detail.set_attr("h", std::to_string(h));
    detail.set_attr("send-count", std::to_string(sm_->acknowledged + static_cast<uint32_t>(sm_->unacked.size())));
    worker_.log().info("c2s", id(), "sending stream error undefined-condition (handled-count-too-high)");
    write_element(error);
    close_stream();
    return;
  }
  for (uint32_t i = 0; i < newly; ++i) {
    sm_->unacked_bytes -= sm_->unacked.front().size();
    sm_->unacked.pop_front();
  }
  sm_->acknowledged = h;
  sm_->ack_requested = false;
  // Stanzas went out after our <r/>: ask about them too.
  if (!sm_->unacked.empty()) sm_request_ack();
}

void C2sSession::sm_route_unacked() {
  if (!sm_ || sm_->unacked.empty()) return;
  std::deque<std::string> unacked = std::move(sm_->unacked);
  sm_.reset();
  // The session is already unbound: these are the account's other resources.
  OtherResources others;
  for_each_bare_message_recipient(worker_.sessions().resources(jid().bare()), "chat", [&](Session* other) {
    others.available = true;
    others.got_normal |= other->priority() >= priority();
  });
  size_t rerouted = 0;
  for (const std::string& bytes : unacked) {
    std::optional<xml::Element> stanza = parse_sent(bytes);
    if (!stanza) continue;
    switch (redo_for(*stanza, jid(), others)) {
      case Redo::RouteToBare:
        stanza->set_attr("to", jid().bare_str());
        worker_.router().send_from_server(std::move(*stanza));
        ++rerouted;
        break;
      case Redo::Refuse:
        worker_.router().send_from_server(make_error_reply(*stanza, errors::recipient_unavailable));
        break;
      case Redo::Bounce:
        worker_.router().send_from_server(make_error_reply(*stanza, errors::service_unavailable));
        break;
      case Redo::Drop:
        break;
    }
  }
  worker_.log().info("c2s", id(), unacked.size(), " stanzas were not acknowledged; ", rerouted, " messages go ",
                     others.available ? "to the account's other resources" : "to offline storage");
}

}  // namespace parley::xmpp
