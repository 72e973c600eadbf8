#include "modules/s2s/link.hpp"

#include <openssl/rand.h>

#include "core/log.hpp"
#include "modules/s2s/federation.hpp"
#include "xml/writer.hpp"
#include "xmpp/jid.hpp"
#include "xmpp/router.hpp"
#include "xmpp/namespaces.hpp"
#include "xmpp/stanza.hpp"

namespace parley::modules::s2s {

namespace {

// Our s2s stream header declares jabber:server as default, the stream:
// prefix, and db: for Server Dialback (XEP-0220 §2.1 asks for it even when
// dialback is not used, so that peers which look for it are satisfied).
constexpr xml::NamespaceDecl kDeclarationList[] = {
    {"", kServerNs}, {"stream", xmpp::ns::streams}, {"db", kDialbackNs}};
constexpr std::span<const xml::NamespaceDecl> kDeclarations{kDeclarationList};

std::string random_id() {
  unsigned char raw[12];
  RAND_bytes(raw, sizeof raw);
  static constexpr char hex[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : raw) {
    out += hex[c >> 4];
    out += hex[c & 15];
  }
  return out;
}

}  // namespace

void rename_namespace(xml::Element& element, std::string_view from, std::string_view to) {
  if (element.ns() != from) return;
  element.set_ns(std::string(to));
  for (xml::Element& child : element.children()) rename_namespace(child, from, to);
}

Link::Link(Federation& federation, uint64_t id, std::string local, std::string remote)
    : federation_(federation),
      id_(id),
      local_(std::move(local)),
      remote_(std::move(remote)),
      parser_(*this, federation.stream_limits()) {
  touch();
  created_ = last_activity_;
}

Link::~Link() = default;

void Link::attach(std::unique_ptr<net::Connection> connection) {
  connection_ = std::move(connection);
}

void Link::touch() { last_activity_ = uv_now(federation_.services().loop()); }

void Link::send_stream_header(bool with_id) {
  xml::Element root("stream", std::string(xmpp::ns::streams));
  // RFC 6120 §4.7.1-2: from and to are the two domains of the link.
  if (!local_.empty()) root.set_attr("from", local_);
  if (!remote_.empty()) root.set_attr("to", remote_);
  if (with_id) {
    stream_id_ = random_id();
    root.set_attr("id", stream_id_);
  }
  root.set_attr("version", "1.0");
  std::string out = "<?xml version='1.0'?>";
  xml::write_open_tag(root, out, {}, kDeclarations);
  connection_->write(out);
  header_sent_ = true;
}

void Link::write_element(const xml::Element& element) {
  if (!connection_ || closed_) return;
  std::string out;
  xml::serialize(element, out, kServerNs, kDeclarations);
  connection_->write(out);
}

void Link::write_stanza(xml::Element stanza) {
  rename_namespace(stanza, kClientNs, kServerNs);
  write_element(stanza);
  touch();
}

bool Link::check_remote_stanza(const xml::Element& stanza) {
  if (!xmpp::stanza_kind(stanza) || stanza.ns() != kServerNs) {
    close_with_stream_error("unsupported-stanza-type", "only message, presence and iq are accepted");
    return false;
  }
  // RFC 6120 §8.1.1.2 and §8.1.2.2: servers must address every stanza, and
  // its 'from' must belong to the domain this link authenticated.
  std::optional<xmpp::Jid> from = xmpp::Jid::parse(stanza.attr("from"));
  std::optional<xmpp::Jid> to = xmpp::Jid::parse(stanza.attr("to"));
  if (!from || !to) {
    federation_.log().warn("s2s", id_, "stanza from ", remote_, " without valid from/to; closing");
    close_with_stream_error("improper-addressing", "stanzas between servers need a valid 'from' and 'to'");
    return false;
  }
  if (from->domain() != remote_) {
    federation_.log().warn("s2s", id_, "link authenticated as ", remote_, " sent a stanza from ", from->domain(),
                           "; closing");
    close_with_stream_error("invalid-from", "this link is authenticated for " + remote_ + " only");
    return false;
  }
  // Only our federating domains take stanzas from other servers; an answer
  // from any other domain would have no link to go back on.
  if (!federation_.serves(to->domain())) {
    federation_.log().warn("s2s", id_, remote_, " sent a stanza for ", to->domain(),
                           ", which does not federate here; closing");
    close_with_stream_error("host-unknown", to->domain() + " does not federate here");
    return false;
  }
  return true;
}

void Link::deliver_remote(xml::Element&& stanza) {
  rename_namespace(stanza, kServerNs, kClientNs);
  federation_.services().router().route_from_remote(std::move(stanza));
}

void Link::restart_stream() {
  parser_.reset();
  header_sent_ = false;
}

void Link::close_stream() {
  if (closing_ || closed_) return;
  closing_ = true;
  if (connection_) {
    connection_->write("</stream:stream>");
    connection_->close();
  } else {
    finish("closed before connecting");
  }
}

void Link::close_with_stream_error(std::string_view condition, std::string_view text) {
  if (closing_ || closed_) return;
  federation_.log().info("s2s", id_, "sending stream error ", condition, ": ", text);
  if (connection_ && !header_sent_) send_stream_header(!outgoing());
  write_element(xmpp::make_stream_error(condition, text));
  close_stream();
}

void Link::pause_reading() {
  if (paused_ || !connection_) return;
  paused_ = true;
  connection_->pause_reading();
}

void Link::resume_reading() {
  if (!paused_ || !connection_) return;
  paused_ = false;
  connection_->resume_reading();
}

void Link::on_data(std::string_view plaintext) {
  if (closed_ || closing_) return;
  touch();
  parser_.feed(plaintext);
}

void Link::on_closed(std::string_view reason) { finish(reason); }

void Link::on_stream_close() {
  federation_.log().debug("s2s", id_, "peer closed its stream");
  close_stream();
}

void Link::on_stream_error(xml::StreamError error, std::string_view text) {
  federation_.log().info("s2s", id_, "stream error ", xml::stream_error_condition(error), ": ", text);
  close_with_stream_error(xml::stream_error_condition(error), text);
}

void Link::finish(std::string_view reason) {
  if (closed_) return;
  closed_ = true;
  federation_.log().info("s2s", id_, outgoing() ? "outgoing" : "incoming", " link ", local_, " <-> ",
                         remote_.empty() ? "?" : remote_, " closed: ", reason);
  on_finish(reason);
  federation_.retire(id_);
}

}  // namespace parley::modules::s2s
