// Stream parser: events, restricted XML, limits. Every input is fed whole,
// split at every byte boundary, and one byte at a time; the events must be
// the same every way.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "xml/stream_parser.hpp"
#include "xml/writer.hpp"

using namespace parley::xml;

namespace {

const std::string kOpen =
    "<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' "
    "to='example.com' version='1.0' xml:lang='en'>";

// Records events as text so runs can be compared exactly.
struct Recorder : StreamHandler {
  std::vector<std::string> events;
  std::vector<Element> stanzas;
  StreamParser* parser = nullptr;
  bool reset_on_starttls = false;
  void on_stream_open(const Element& root, std::string_view default_ns) override {
    events.push_back("open " + root.name() + " ns=" + std::string(default_ns) + " to=" +
                     std::string(root.attr("to")) + " lang=" +
                     (root.find_attr("lang", xml_namespace) ? *root.find_attr("lang", xml_namespace) : ""));
  }
  void on_stanza(Element&& e) override {
    events.push_back("stanza " + to_string(e, "jabber:client"));
    if (reset_on_starttls && e.name() == "starttls") parser->reset();
    stanzas.push_back(std::move(e));
  }
  void on_stream_close() override { events.push_back("close"); }
  void on_stream_error(StreamError error, std::string_view) override {
    events.push_back("error " + std::string(stream_error_condition(error)));
  }
};

std::vector<std::string> run(const std::string& input, const std::vector<size_t>& cuts, StreamLimits limits = {}) {
  Recorder recorder;
  StreamParser parser(recorder, limits);
  size_t at = 0;
  for (size_t cut : cuts) {
    parser.feed(std::string_view(input).substr(at, cut - at));
    at = cut;
  }
  parser.feed(std::string_view(input).substr(at));
  return recorder.events;
}

// Feeds `input` whole, in two pieces at every boundary, and byte by byte;
// checks every way gives the same events, and returns them.
std::vector<std::string> events_for(const std::string& input, StreamLimits limits = {}) {
  std::vector<std::string> whole = run(input, {}, limits);
  for (size_t cut = 1; cut < input.size(); ++cut) {
    std::vector<std::string> split = run(input, {cut}, limits);
    CAPTURE(cut);
    REQUIRE(split == whole);
  }
  std::vector<size_t> every;
  for (size_t i = 1; i < input.size(); ++i) every.push_back(i);
  CHECK(run(input, every, limits) == whole);
  return whole;
}

}  // namespace

TEST_CASE("a stream with stanzas, keepalives and a close") {
  std::string input = kOpen + " <message to='a@b' type='chat'><body>hi &amp; &lt;x&gt; &#x263A;</body></message>\n \t"
                      "<iq type='get' id='1'><query xmlns='jabber:iq:roster'/></iq></stream:stream>";
  std::vector<std::string> events = events_for(input);
  REQUIRE(events.size() == 4);
  CHECK(events[0] == "open stream ns=jabber:client to=example.com lang=en");
  CHECK(events[1] == "stanza <message to='a@b' type='chat'><body>hi &amp; &lt;x&gt; \xE2\x98\xBA</body></message>");
  CHECK(events[2] == "stanza <iq type='get' id='1'><query xmlns='jabber:iq:roster'/></iq>");
  CHECK(events[3] == "close");
}

TEST_CASE("namespaces, prefixes and mixed content survive") {
  std::string input = kOpen +
                      "<message xmlns:h='http://jabber.org/protocol/xhtml-im'><h:html><body "
                      "xmlns='http://www.w3.org/1999/xhtml'>a<b>bold</b>c</body></h:html></message>";
  std::vector<std::string> events = events_for(input);
  REQUIRE(events.size() == 2);
  CHECK(events[1] ==
        "stanza <message><html xmlns='http://jabber.org/protocol/xhtml-im'><body "
        "xmlns='http://www.w3.org/1999/xhtml'>a<b>bold</b>c</body></html></message>");
}

TEST_CASE("restricted XML is refused (RFC 6120 §11.1)") {
  CHECK(events_for("<!DOCTYPE x>" + kOpen).back() == "error restricted-xml");
  CHECK(events_for(kOpen + "<!-- hi -->").back() == "error restricted-xml");
  CHECK(events_for(kOpen + "<?php echo 1; ?>").back() == "error restricted-xml");
  CHECK(events_for(kOpen + "<message><body>&nbsp;</body></message>").back() == "error restricted-xml");
  std::string laughs = "<?xml version='1.0'?><!DOCTYPE l [<!ENTITY a 'aaaaaaaaaa'><!ENTITY b '&a;&a;&a;&a;'>]>" + kOpen;
  std::vector<std::string> events = events_for(laughs);
  REQUIRE(events.size() == 1);
  CHECK(events[0] == "error restricted-xml");
}

TEST_CASE("malformed input gives not-well-formed, and nothing after it") {
  CHECK(events_for(kOpen + "<message><body>x</message>").back() == "error not-well-formed");
  CHECK(events_for(kOpen + "<a:b/>").back() == "error not-well-formed");  // unbound prefix
  CHECK(events_for(kOpen + "<message>\xff\xfe</message>").back() == "error not-well-formed");
  std::vector<std::string> garbage = events_for("GET / HTTP/1.1\r\n\r\n");
  REQUIRE(garbage.size() == 1);
  CHECK(garbage[0] == "error not-well-formed");
}

TEST_CASE("the wrong root or text between stanzas") {
  CHECK(events_for("<html xmlns='http://www.w3.org/1999/xhtml'>").back() == "error invalid-namespace");
  CHECK(events_for(kOpen + "stray text").back() == "error bad-format");
}

TEST_CASE("limits: depth, attributes, stanza size") {
  std::string deep = kOpen + "<message>";
  for (int i = 0; i < 100000; ++i) deep += "<a>";
  StreamLimits limits;
  limits.max_depth = 64;
  CHECK(run(deep, {}, limits).back() == "error policy-violation");

  std::string shallow = kOpen + "<message><a><b/></a></message>";
  limits.max_depth = 3;
  CHECK(events_for(shallow, limits).back() == "stanza <message><a><b/></a></message>");
  limits.max_depth = 2;
  CHECK(events_for(shallow, limits).back() == "error policy-violation");

  limits = StreamLimits{};
  limits.max_attributes = 2;
  CHECK(events_for(kOpen + "<message a='1' b='2'/>", limits).back() == "stanza <message a='1' b='2'/>");
  CHECK(events_for(kOpen + "<message a='1' b='2' c='3'/>", limits).back() == "error policy-violation");
}

TEST_CASE("a 10 MiB stanza is refused before it is all read") {
  StreamLimits limits;
  limits.max_stanza_bytes = 256 * 1024;
  Recorder recorder;
  StreamParser parser(recorder, limits);
  parser.feed(kOpen + "<message><body>");
  std::string chunk(64 * 1024, 'x');
  int fed = 0;
  while (!parser.failed() && fed < 160) {
    parser.feed(chunk);
    ++fed;
  }
  CHECK(parser.failed());
  CHECK(fed <= 5);
  CHECK(recorder.events.back() == "error policy-violation");

  // A huge opening tag counts the same way.
  Recorder tag_recorder;
  StreamParser tag_parser(tag_recorder, limits);
  tag_parser.feed(kOpen + "<message a='");
  for (int i = 0; i < 10 && !tag_parser.failed(); ++i) tag_parser.feed(chunk);
  CHECK(tag_recorder.events.back() == "error policy-violation");

  // Many small stanzas and keepalives never add up to a violation.
  Recorder many_recorder;
  StreamParser many(many_recorder, limits);
  many.feed(kOpen);
  for (int i = 0; i < 20000; ++i) many.feed("<message><body>0123456789</body></message>  ");
  CHECK_FALSE(many.failed());
  CHECK(many_recorder.stanzas.size() == 20000);
}

TEST_CASE("reset from inside on_stanza starts a new stream and drops the rest of the chunk") {
  Recorder recorder;
  StreamParser parser(recorder);
  recorder.parser = &parser;
  recorder.reset_on_starttls = true;
  parser.feed(kOpen + "<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/><message>injected</message>");
  parser.feed(kOpen + "<presence/>");
  REQUIRE(recorder.events.size() == 4);
  CHECK(recorder.events[1] == "stanza <starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>");
  CHECK(recorder.events[2].rfind("open stream", 0) == 0);
  CHECK(recorder.events[3] == "stanza <presence/>");
}
