#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "xml/element.hpp"
#include "xml/stream_parser.hpp"
#include "xml/writer.hpp"

using namespace parley::xml;

namespace {

std::string text_escaped(std::string_view s) {
    std::string out;
    escape_text(s, out);
    return out;
}

std::string attr_escaped(std::string_view s) {
    std::string out;
    escape_attr(s, out);
    return out;
}

// Parses "<stream:stream …>" + xml and returns the first stanza.
struct Collect : StreamHandler {
    std::vector<Element> stanzas;
    std::vector<std::string> errors;
    void on_stream_open(const Element&, std::string_view) override {}
    void on_stanza(Element&& e) override { stanzas.push_back(std::move(e)); }
    void on_stream_close() override {}
    void on_stream_error(StreamError e, std::string_view) override { errors.emplace_back(stream_error_condition(e)); }
};

Element parse_stanza(const std::string& xml) {
    Collect c;
    StreamParser parser(c);
    parser.feed("<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>");
    parser.feed(xml);
    REQUIRE(c.errors.empty());
    REQUIRE(c.stanzas.size() == 1);
    return c.stanzas.front();
}

}  // namespace

TEST_CASE("writer: text escaping") {
    CHECK(text_escaped("plain") == "plain");
    CHECK(text_escaped("a & b < c > d") == "a &amp; b &lt; c &gt; d");
    CHECK(text_escaped("x]]>y") == "x]]&gt;y");
    CHECK(text_escaped("'quotes\" stay") == "'quotes\" stay");
    CHECK(text_escaped("tab\tline\n") == "tab\tline\n");
    CHECK(text_escaped("cr\r") == "cr&#xD;");
    CHECK(text_escaped("") == "");
}

TEST_CASE("writer: attribute escaping") {
    CHECK(attr_escaped("a\"b'c<d>e&f") == "a&quot;b&apos;c&lt;d&gt;e&amp;f");
    CHECK(attr_escaped("]]>") == "]]&gt;");
    CHECK(attr_escaped("t\tn\nr\r") == "t&#x9;n&#xA;r&#xD;");
}

TEST_CASE("writer: output stays well-formed UTF-8") {
    // Valid multi-byte characters pass unchanged: é, ☺, 𝄞.
    CHECK(text_escaped("\xC3\xA9\xE2\x98\xBA\xF0\x9D\x84\x9E") == "\xC3\xA9\xE2\x98\xBA\xF0\x9D\x84\x9E");
    // Forbidden controls, stray continuation bytes, truncated and overlong
    // sequences, surrogates and U+FFFF become U+FFFD, one per bad byte.
    CHECK(text_escaped(std::string("a\x01" "b\0c", 5)) == "a\xEF\xBF\xBD" "b\xEF\xBF\xBD" "c");
    CHECK(text_escaped("\xC3\x28") == "\xEF\xBF\xBD(");
    CHECK(text_escaped("\x80") == "\xEF\xBF\xBD");
    CHECK(text_escaped("\xE2\x98") == "\xEF\xBF\xBD\xEF\xBF\xBD");
    CHECK(text_escaped("\xC0\xAF") == "\xEF\xBF\xBD\xEF\xBF\xBD");
    CHECK(text_escaped("\xED\xA0\x80") == "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");
    CHECK(text_escaped("\xEF\xBF\xBF") == "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");
    CHECK(attr_escaped("\xF5\x80\x80\x80") == "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");
}

TEST_CASE("writer: empty elements and attributes") {
    CHECK(to_string(Element("presence", "jabber:client"), "jabber:client") == "<presence/>");
    Element m("message", "jabber:client");
    m.set_attr("to", "juliet@example.com");
    m.set_attr("body", "it's <b> & \"q\"");
    CHECK(to_string(m, "jabber:client") ==
          "<message to='juliet@example.com' body='it&apos;s &lt;b&gt; &amp; &quot;q&quot;'/>");
}

TEST_CASE("writer: namespaces are declared only where they change") {
    Element msg("message", "jabber:client");
    msg.append(Element("body", "jabber:client")).append_text("hi");
    Element& x = msg.append(Element("x", "jabber:x:data"));
    x.append(Element("field", "jabber:x:data")).append(Element("value", "jabber:x:data"));
    x.append(Element("inner", "urn:inner"));
    msg.append(Element("thread", "jabber:client"));

    CHECK(to_string(msg, "jabber:client") ==
          "<message><body>hi</body><x xmlns='jabber:x:data'><field><value/></field>"
          "<inner xmlns='urn:inner'/></x><thread/></message>");
    CHECK(to_string(msg) ==
          "<message xmlns='jabber:client'><body>hi</body><x xmlns='jabber:x:data'><field><value/></field>"
          "<inner xmlns='urn:inner'/></x><thread/></message>");
}

TEST_CASE("writer: an element in no namespace undeclares the default") {
    Element outer("outer", "urn:a");
    outer.append(Element("bare"));
    CHECK(to_string(outer) == "<outer xmlns='urn:a'><bare xmlns=''/></outer>");
    CHECK(to_string(Element("bare")) == "<bare/>");
}

TEST_CASE("writer: namespaced attributes") {
    Element e("message", "jabber:client");
    e.set_attr("lang", "en", std::string(xml_namespace));
    e.set_attr("a", "1", "urn:one");
    e.set_attr("b", "2", "urn:two");
    e.set_attr("c", "3", "urn:one");
    e.set_attr("plain", "4");
    CHECK(to_string(e, "jabber:client") ==
          "<message xml:lang='en' xmlns:ns1='urn:one' ns1:a='1' xmlns:ns2='urn:two' ns2:b='2' ns1:c='3' plain='4'/>");
}

TEST_CASE("writer: mixed content keeps document order") {
    Element p("p");
    p.append_text("a<");
    p.append(Element("b")).append_text("bold");
    p.append_text("&c");
    p.append(Element("i"));
    p.append_text("d");
    CHECK(to_string(p) == "<p>a&lt;<b>bold</b>&amp;c<i/>d</p>");
}

TEST_CASE("writer: stream header and close through the element writer") {
    Element root("stream", std::string(streams_namespace));
    root.set_attr("from", "example.com");
    root.set_attr("id", "abc'1");
    root.set_attr("version", "1.0");
    root.set_attr("lang", "en", std::string(xml_namespace));
    const NamespaceDecl decls[] = {{"", "jabber:client"}, {"stream", streams_namespace}};
    std::string out;
    write_open_tag(root, out, {}, decls);
    CHECK(out ==
          "<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' "
          "from='example.com' id='abc&apos;1' version='1.0' xml:lang='en'>");

    // Stream-level children written inside it reuse the stream prefix.
    Element features("features", std::string(streams_namespace));
    features.append(Element("starttls", "urn:ietf:params:xml:ns:xmpp-tls")).append(Element("required", "urn:ietf:params:xml:ns:xmpp-tls"));
    const NamespaceDecl in_scope[] = {{"stream", streams_namespace}};
    CHECK(to_string(features, "jabber:client", in_scope) ==
          "<stream:features><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'><required/></starttls></stream:features>");

    out.clear();
    write_close_tag(root, out, {}, decls);
    CHECK(out == "</stream:stream>");

    // Open tag without declarations: the element namespace becomes the default.
    Element plain("open", "urn:ietf:params:xml:ns:xmpp-framing");
    out.clear();
    write_open_tag(plain, out);
    CHECK(out == "<open xmlns='urn:ietf:params:xml:ns:xmpp-framing'>");
    out.clear();
    write_close_tag(plain, out);
    CHECK(out == "</open>");
}

TEST_CASE("writer: round trip parse -> serialize -> parse gives an equal tree") {
    const std::string source =
        "<message to='juliet@example.com/balcony' type='chat' xml:lang='en' id='a&amp;b&quot;'>"
        "<body>Wherefore &lt;art&gt; thou? ]]&gt; &#x263A; &#13; tab\there</body>"
        "<html xmlns='http://jabber.org/protocol/xhtml-im'><body xmlns='http://www.w3.org/1999/xhtml'>"
        "<p style='a:b'>mixed <em>con</em>tent</p></body></html>"
        "<x:data xmlns:x='urn:x' xmlns:y='urn:y' x:attr='1' y:attr='2' attr='&#9;3'><x:item/><item xmlns='urn:z'/></x:data>"
        "<empty xmlns=''/>"
        "</message>";
    const Element first = parse_stanza(source);
    CHECK(first.first_child("body")->text() == "Wherefore <art> thou? ]]> \xE2\x98\xBA \r tab\there");

    const std::string written = to_string(first, "jabber:client");
    const Element second = parse_stanza(written);
    CHECK(second == first);
    CHECK(to_string(second, "jabber:client") == written);
}
