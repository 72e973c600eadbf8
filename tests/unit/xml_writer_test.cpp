// The one escaping writer.
#include <doctest/doctest.h>

#include <optional>

#include "xml/stream_parser.hpp"
#include "xml/writer.hpp"

using namespace parley::xml;

namespace {
struct One : StreamHandler {
  std::optional<Element> element;
  void on_stream_open(const Element&, std::string_view) override {}
  void on_stanza(Element&& e) override { element = std::move(e); }
  void on_stream_close() override {}
  void on_stream_error(StreamError, std::string_view) override {}
};

Element parse(const std::string& xml) {
  One one;
  StreamParser parser(one);
  parser.feed("<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>" + xml);
  REQUIRE(one.element);
  return *one.element;
}
}  // namespace

TEST_CASE("text and attributes are escaped so peer text cannot escape its element") {
  Element message("message", "jabber:client");
  message.set_attr("to", "a'b\"c<d>&e");
  message.append(Element("body", "jabber:client")).append_text("</body><evil/>]]>&amp;");
  std::string out = to_string(message, "jabber:client");
  CHECK(out == "<message to='a&apos;b&quot;c&lt;d&gt;&amp;e'><body>&lt;/body&gt;&lt;evil/&gt;]]&gt;&amp;amp;</body></message>");
  Element back = parse(out);
  CHECK(back == message);
  CHECK(back.first_child("body")->text() == "</body><evil/>]]>&amp;");
}

TEST_CASE("xmlns is written only where the namespace changes") {
  Element iq("iq", "jabber:client");
  Element& query = iq.append(Element("query", "jabber:iq:roster"));
  query.append(Element("item", "jabber:iq:roster")).set_attr("jid", "x@y");
  iq.append(Element("extra", "jabber:client"));
  CHECK(to_string(iq, "jabber:client") ==
        "<iq><query xmlns='jabber:iq:roster'><item jid='x@y'/></query><extra/></iq>");
  CHECK(to_string(iq, "jabber:server") ==
        "<iq xmlns='jabber:client'><query xmlns='jabber:iq:roster'><item jid='x@y'/></query><extra/></iq>");
}

TEST_CASE("namespaced attributes: xml:lang and generated prefixes") {
  Element e("x", "urn:a");
  e.set_attr("lang", "en", std::string(xml_namespace));
  e.set_attr("flag", "1", "urn:b");
  std::string out = to_string(e);
  CHECK(out == "<x xmlns='urn:a' xml:lang='en' xmlns:ns1='urn:b' ns1:flag='1'/>");
  CHECK(parse(out) == e);
}

TEST_CASE("bound prefixes and the stream header") {
  Element features("features", "http://etherx.jabber.org/streams");
  features.append(Element("bind", "urn:ietf:params:xml:ns:xmpp-bind"));
  PrefixBinding stream{"http://etherx.jabber.org/streams", "stream"};
  CHECK(to_string(features, "jabber:client", {&stream, 1}) ==
        "<stream:features><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></stream:features>");
  Element root("stream", "http://etherx.jabber.org/streams");
  root.set_attr("from", "example.com");
  root.set_attr("id", "abc");
  std::string header;
  write_stream_header(root, "jabber:client", header);
  CHECK(header ==
        "<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' from='example.com' "
        "id='abc'>");
}

TEST_CASE("round trip of a nested tree with mixed content") {
  std::string xml =
      "<message type='chat'><body>one &amp; two</body><html xmlns='http://jabber.org/protocol/xhtml-im'><body "
      "xmlns='http://www.w3.org/1999/xhtml'>a<b>b</b>c</body></html></message>";
  Element first = parse(xml);
  CHECK(to_string(first, "jabber:client") == xml);
  CHECK(parse(to_string(first, "jabber:client")) == first);
}
