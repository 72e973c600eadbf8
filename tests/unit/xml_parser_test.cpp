#include <doctest/doctest.h>

#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

#include "xml/element.hpp"
#include "xml/stream_parser.hpp"
#include "xml/writer.hpp"

using namespace parley::xml;

template <>
struct doctest::StringMaker<std::vector<std::string>> {
    static doctest::String convert(const std::vector<std::string>& events) {
        std::string out = "[";
        for (const std::string& e : events) out += "\n  " + (e.size() > 300 ? e.substr(0, 300) + "..." : e);
        return (out + "]").c_str();
    }
};

namespace {

const std::string header =
    "<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' "
    "to='example.com' version='1.0' xml:lang='en'>";
const std::string open_event =
    "open jabber:client <stream xmlns='http://etherx.jabber.org/streams' to='example.com' version='1.0' "
    "xml:lang='en'/>";

// Records events as text: "open <default ns> <root>", "stanza <xml>",
// "close", "error <condition>". Stanzas are written with jabber:client as
// the inherited default, so their own xmlns only shows when it differs.
struct Recorder : StreamHandler {
    std::vector<std::string> events;
    std::vector<Element> stanzas;
    std::function<void(const Element&)> after_stanza;

    void on_stream_open(const Element& root, std::string_view default_ns) override {
        REQUIRE(root.element_count() == 0);
        events.push_back("open " + std::string(default_ns) + " " + to_string(root));
    }
    void on_stanza(Element&& element) override {
        events.push_back("stanza " + to_string(element, "jabber:client"));
        stanzas.push_back(std::move(element));
        if (after_stanza) after_stanza(stanzas.back());
    }
    void on_stream_close() override { events.emplace_back("close"); }
    void on_stream_error(StreamError error, std::string_view) override {
        events.push_back("error " + std::string(stream_error_condition(error)));
    }
};

using Events = std::vector<std::string>;

// Feeds `input` cut at the given offsets (ascending).
Events run(std::string_view input, const std::vector<std::size_t>& cuts, StreamLimits limits = {}) {
    Recorder recorder;
    StreamParser parser(recorder, limits);
    std::size_t start = 0;
    for (std::size_t cut : cuts) {
        parser.feed(input.substr(start, cut - start));
        start = cut;
    }
    parser.feed(input.substr(start));
    return recorder.events;
}

// The same events must come out whatever the chunking: whole, cut in two at
// every byte boundary (or, for inputs over `exhaustive_limit`, at every
// boundary of the first 1 KiB and a spread of others), and one byte at a time.
void expect_events(std::string_view input, const Events& expected, StreamLimits limits = {},
                   std::size_t exhaustive_limit = 8192) {
    CHECK(run(input, {}, limits) == expected);

    for (std::size_t cut = 1; cut < input.size();
         cut += (input.size() <= exhaustive_limit || cut < 1024) ? 1 : 32749) {
        const Events got = run(input, {cut}, limits);
        if (got != expected) {
            INFO("split at byte " << cut);
            CHECK(got == expected);
            break;
        }
    }

    std::vector<std::size_t> every_byte;
    for (std::size_t i = 1; i < input.size(); ++i) every_byte.push_back(i);
    CHECK(run(input, every_byte, limits) == expected);
}

}  // namespace

TEST_CASE("parser: stream error conditions are named as in RFC 6120") {
    CHECK(stream_error_condition(StreamError::NotWellFormed) == "not-well-formed");
    CHECK(stream_error_condition(StreamError::RestrictedXml) == "restricted-xml");
    CHECK(stream_error_condition(StreamError::PolicyViolation) == "policy-violation");
    CHECK(stream_error_condition(StreamError::InvalidNamespace) == "invalid-namespace");
    CHECK(stream_error_condition(StreamError::BadFormat) == "bad-format");
    CHECK(stream_error_condition(StreamError::UnsupportedEncoding) == "unsupported-encoding");
}

TEST_CASE("parser: stream open with attributes and default namespace") {
    expect_events(header, {open_event});

    Recorder r;
    Element root("unset");
    std::string ns;
    struct Capture : Recorder {
        Element* root;
        std::string* ns;
        void on_stream_open(const Element& e, std::string_view d) override {
            *root = e;
            *ns = d;
        }
    } capture;
    capture.root = &root;
    capture.ns = &ns;
    StreamParser parser(capture);
    parser.feed(header);
    CHECK(root.name() == "stream");
    CHECK(root.ns() == streams_namespace);
    CHECK(ns == "jabber:client");
    CHECK(root.attributes() == std::vector<Attribute>{{"to", "example.com", ""},
                                                      {"version", "1.0", ""},
                                                      {"lang", "en", std::string(xml_namespace)}});

    // Server-to-server and namespace-less headers report their own default.
    expect_events("<stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams'>",
                  {"open jabber:server <stream xmlns='http://etherx.jabber.org/streams'/>"});
    expect_events("<s:stream xmlns:s='http://etherx.jabber.org/streams'>",
                  {"open  <stream xmlns='http://etherx.jabber.org/streams'/>"});
}

TEST_CASE("parser: stanzas, whitespace keepalives and close") {
    const std::string input = header +
                              "<message to='romeo@example.net' type='chat'><body>hi &amp; &lt;bye&gt; &#x263A; "
                              "&apos;&quot;</body></message> \n\t \r\n<presence/>"
                              "<iq type='get' id='r1'><query xmlns='jabber:iq:roster'/></iq>\n"
                              "<stream:features><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/></stream:features>"
                              "</stream:stream>";
    expect_events(input, {open_event,
                          "stanza <message to='romeo@example.net' type='chat'><body>hi &amp; &lt;bye&gt; \xE2\x98\xBA "
                          "'\"</body></message>",
                          "stanza <presence/>",
                          "stanza <iq type='get' id='r1'><query xmlns='jabber:iq:roster'/></iq>",
                          "stanza <features xmlns='http://etherx.jabber.org/streams'><starttls "
                          "xmlns='urn:ietf:params:xml:ns:xmpp-tls'/></features>",
                          "close"});
}

TEST_CASE("parser: bytes after the stream close are ignored") {
    expect_events(header + "<presence/></stream:stream><<<garbage", {open_event, "stanza <presence/>", "close"});
}

TEST_CASE("parser: nested namespaces, prefixes and xml:lang") {
    const std::string input = header +
                              "<message xml:lang='fr'><x:data xmlns:x='urn:x' x:attr='1' plain='2'>"
                              "<x:item/><item xmlns='urn:y'><deep/></item><item/></x:data></message>";
    expect_events(input, {open_event,
                          "stanza <message xml:lang='fr'><data xmlns='urn:x' xmlns:ns1='urn:x' ns1:attr='1' "
                          "plain='2'><item/><item xmlns='urn:y'><deep/></item><item xmlns='jabber:client'/></data></message>"});

    Recorder r;
    StreamParser parser(r);
    parser.feed(input);
    REQUIRE(r.stanzas.size() == 1);
    const Element& msg = r.stanzas[0];
    CHECK(msg.ns() == "jabber:client");
    CHECK(*msg.find_attr("lang", xml_namespace) == "fr");
    const Element* data = msg.first_child("data", "urn:x");
    REQUIRE(data != nullptr);
    CHECK(data->attributes() == std::vector<Attribute>{{"attr", "1", "urn:x"}, {"plain", "2", ""}});
    REQUIRE(data->element_count() == 3);
    CHECK(data->children()[0].ns() == "urn:x");
    CHECK(data->children()[1].ns() == "urn:y");
    CHECK(data->children()[1].first_child("deep", "urn:y") != nullptr);
    CHECK(data->children()[2].ns() == "jabber:client");
}

TEST_CASE("parser: restricted XML is refused (RFC 6120 11.1)") {
    SUBCASE("DOCTYPE") {
        expect_events("<?xml version='1.0'?><!DOCTYPE stream:stream>" + header, {"error restricted-xml"});
    }
    SUBCASE("billion laughs is stopped at the DOCTYPE") {
        std::string bomb = "<?xml version='1.0'?><!DOCTYPE lolz [<!ENTITY lol 'lol'>";
        for (int i = 1; i < 10; ++i) {
            bomb += "<!ENTITY lol" + std::to_string(i) + " '";
            for (int j = 0; j < 10; ++j) bomb += "&lol" + (i == 1 ? std::string() : std::to_string(i - 1)) + ";";
            bomb += "'>";
        }
        bomb += "]><stream:stream xmlns:stream='http://etherx.jabber.org/streams'><message><body>&lol9;</body></message>";
        expect_events(bomb, {"error restricted-xml"});
    }
    SUBCASE("comment between stanzas") {
        expect_events(header + "<presence/><!-- hi -->", {open_event, "stanza <presence/>", "error restricted-xml"});
    }
    SUBCASE("comment inside a stanza") {
        expect_events(header + "<message><!--x--></message>", {open_event, "error restricted-xml"});
    }
    SUBCASE("comment before the stream") {
        expect_events("<!-- x -->" + header, {"error restricted-xml"});
    }
    SUBCASE("processing instruction") {
        expect_events(header + "<message><?php echo 1; ?></message>", {open_event, "error restricted-xml"});
        expect_events("<?xml-stylesheet href='a'?>" + header, {"error restricted-xml"});
    }
    SUBCASE("undefined entity") {
        expect_events(header + "<message><body>&nbsp;</body></message>", {open_event, "error restricted-xml"});
        expect_events(header + "<message to='&foo;'/>", {open_event, "error restricted-xml"});
    }
}

TEST_CASE("parser: not-well-formed input") {
    SUBCASE("garbage bytes") { expect_events("\x01\x02garbage", {"error not-well-formed"}); }
    SUBCASE("garbage after the header") {
        expect_events(header + "<presence/>\x01garbage", {open_event, "stanza <presence/>", "error not-well-formed"});
    }
    SUBCASE("mismatched tags") {
        expect_events(header + "<message><body></message>", {open_event, "error not-well-formed"});
    }
    SUBCASE("invalid UTF-8") {
        expect_events(header + "<message><body>\xC3\x28</body></message>", {open_event, "error not-well-formed"});
        expect_events(header + "<message to='\xFF'/>", {open_event, "error not-well-formed"});
    }
    SUBCASE("unbound prefix") {
        expect_events(header + "<foo:bar/>", {open_event, "error not-well-formed"});
    }
    SUBCASE("duplicate attribute") {
        expect_events(header + "<message to='a' to='b'/>", {open_event, "error not-well-formed"});
    }
}

TEST_CASE("parser: wrong root is invalid-namespace") {
    expect_events("<stream xmlns='jabber:client'>", {"error invalid-namespace"});
    expect_events("<stream:stream xmlns:stream='urn:wrong' xmlns='jabber:client'>", {"error invalid-namespace"});
    expect_events("<stream:other xmlns:stream='http://etherx.jabber.org/streams'>", {"error invalid-namespace"});
}

TEST_CASE("parser: text directly in the stream root is bad-format") {
    expect_events(header + "<presence/> \nhello<presence/>", {open_event, "stanza <presence/>", "error bad-format"});
}

TEST_CASE("parser: only UTF-8 is accepted (RFC 6120 11.6)") {
    expect_events("<?xml version='1.0' encoding='ISO-8859-1'?>" + header.substr(21), {"error unsupported-encoding"});
    expect_events("<?xml version='1.0' encoding='utf-8'?>" + header.substr(21), {open_event});
    // A UTF-16 byte order mark, without a declaration to refuse: little and
    // big endian. A UTF-8 one is harmless.
    std::string little = "\xFF\xFE", big = "\xFE\xFF";
    for (char c : header) {
        little += c;
        little += '\0';
        big += '\0';
        big += c;
    }
    expect_events(little, {"error unsupported-encoding"});
    expect_events(big, {"error unsupported-encoding"});
    expect_events("\xEF\xBB\xBF" + header, {open_event});
}

TEST_CASE("parser: nesting deeper than max_depth is a policy violation") {
    std::string deep = header;
    for (int i = 0; i < 100000; ++i) deep += "<a>";
    expect_events(deep, {open_event, "error policy-violation"});

    // Exactly max_depth levels are accepted.
    std::string ok = header;
    for (int i = 0; i < 4; ++i) ok += "<a>";
    for (int i = 0; i < 4; ++i) ok += "</a>";
    expect_events(ok, {open_event, "stanza <a><a><a><a/></a></a></a>"}, StreamLimits{262144, 4, 64});
    std::string over = header;
    for (int i = 0; i < 5; ++i) over += "<a>";
    expect_events(over, {open_event, "error policy-violation"}, StreamLimits{262144, 4, 64});
}

TEST_CASE("parser: attribute count limit") {
    const auto with_attributes = [](int n) {
        std::string s = header + "<message";
        for (int i = 0; i < n; ++i) s += " a" + std::to_string(i) + "='v'";
        return s + "/>";
    };
    expect_events(with_attributes(65), {open_event, "error policy-violation"});
    Recorder r;
    StreamParser parser(r);
    parser.feed(with_attributes(64));
    REQUIRE(r.events.size() == 2);
    CHECK(r.stanzas.at(0).attributes().size() == 64);

    // Namespace declarations count too: they cost the same to process.
    std::string decls = header + "<message";
    for (int i = 0; i < 65; ++i) decls += " xmlns:p" + std::to_string(i) + "='urn:" + std::to_string(i) + "'";
    expect_events(decls + "/>", {open_event, "error policy-violation"});
}

TEST_CASE("parser: a 10 MiB stanza fed in 64 KiB chunks is refused early") {
    constexpr std::size_t chunk = 64 * 1024;
    std::string stanza = "<message><body>";
    stanza.resize(10 * 1024 * 1024, 'x');
    Recorder r;
    StreamParser parser(r);
    parser.feed(header);
    std::size_t chunks_fed = 0;
    for (std::size_t off = 0; off < stanza.size() && !parser.failed(); off += chunk) {
        parser.feed(std::string_view(stanza).substr(off, chunk));
        ++chunks_fed;
    }
    CHECK(parser.failed());
    // 256 KiB is exactly four chunks; the byte after them trips the limit.
    CHECK(chunks_fed == 5);
    CHECK(r.events == Events{open_event, "error policy-violation"});

    // Same with the chunking of expect_events (sampled splits, one byte at a time).
    expect_events(header + stanza, {open_event, "error policy-violation"});
}

TEST_CASE("parser: a 10 MiB opening tag and an over-long header are refused") {
    std::string tag = header + "<message to='";
    tag.resize(tag.size() + 10 * 1024 * 1024, 'x');
    expect_events(tag, {open_event, "error policy-violation"});

    std::string long_header = "<stream:stream xmlns:stream='http://etherx.jabber.org/streams' to='";
    long_header.resize(300 * 1024, 'x');
    expect_events(long_header, {"error policy-violation"});
}

TEST_CASE("parser: long tags trickled in are delivered exactly when complete") {
    // Attribute values containing '>' and the other quote must not end the
    // tag early; holding back bytes of a long tag must not delay it either.
    const std::string value = std::string(50000, 'v') + ">\"" + std::string(50000, 'w');
    std::string comment_body;  // single dashes and '>' are allowed inside a comment
    for (int i = 0; i < 3000; ++i) comment_body += "->a";
    const std::string input = header + "<message id='" + value + "'><body>" + std::string(20000, 'b') +
                              "</body></message><!-- " + comment_body + " -->";
    expect_events(input, {open_event,
                          "stanza <message id='" + std::string(50000, 'v') + "&gt;&quot;" + std::string(50000, 'w') +
                              "'><body>" + std::string(20000, 'b') + "</body></message>",
                          "error restricted-xml"});

    // The stanza is reported on the very read that completes it.
    Recorder r;
    StreamParser parser(r);
    parser.feed(header);
    const std::string stanza = "<presence status='" + std::string(30000, 's') + "'/>";
    for (std::size_t i = 0; i + 1 < stanza.size(); ++i) parser.feed(std::string_view(stanza).substr(i, 1));
    CHECK(r.events.size() == 1);
    parser.feed(std::string_view(stanza).substr(stanza.size() - 1));
    CHECK(r.events.size() == 2);
    CHECK(r.stanzas.at(0).attr("status").size() == 30000);
}

TEST_CASE("parser: the stanza limit counts from the last stanza boundary") {
    const std::string stanza = "<message><body>" + std::string(900, 'x') + "</body></message>";
    std::string input = header;
    for (int i = 0; i < 20; ++i) input += stanza + std::string(500, ' ');
    const StreamLimits limits{1024, 64, 64};  // each stanza fits, the total does not
    Events expected{open_event};
    for (int i = 0; i < 20; ++i) expected.push_back("stanza " + stanza);
    expect_events(input, expected, limits);

    expect_events(header + "<message><body>" + std::string(1100, 'x') + "</body></message>",
                  {open_event, "error policy-violation"}, limits);
}

TEST_CASE("parser: a stanza of exactly max_stanza_bytes passes and one byte more is refused") {
    const StreamLimits limits{1024, 64, 64};
    const std::string frame = "<message><body></body></message>";
    const std::string fits = "<message><body>" + std::string(1024 - frame.size(), 'x') + "</body></message>";
    const std::string over = "<message><body>" + std::string(1025 - frame.size(), 'x') + "</body></message>";
    REQUIRE(fits.size() == 1024);
    REQUIRE(over.size() == 1025);
    expect_events(header + fits, {open_event, "stanza " + fits}, limits);
    expect_events(header + over, {open_event, "error policy-violation"}, limits);

    // The same bound holds for the stream header.
    const std::string padded_header =
        "<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' id='" +
        std::string(2000, 'i') + "'>";
    expect_events(padded_header, {"error policy-violation"}, StreamLimits{padded_header.size() - 1, 64, 64});
    CHECK(run(padded_header, {}, StreamLimits{padded_header.size(), 64, 64}).at(0).rfind("open", 0) == 0);
}

TEST_CASE("parser: reset from inside on_stanza starts a fresh stream") {
    const std::string first = header + "<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>";
    const std::string second = header + "<presence/>";
    const auto run_twice = [&](std::size_t cut1, std::size_t cut2) {
        Recorder r;
        StreamParser parser(r);
        r.after_stanza = [&](const Element& e) {
            if (e.name() == "starttls") parser.reset();
        };
        parser.feed(std::string_view(first).substr(0, cut1));
        parser.feed(std::string_view(first).substr(cut1));
        parser.feed(std::string_view(second).substr(0, cut2));
        parser.feed(std::string_view(second).substr(cut2));
        return r.events;
    };
    const Events expected{open_event, "stanza <starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>", open_event,
                          "stanza <presence/>"};
    for (std::size_t cut = 0; cut <= first.size(); ++cut) CHECK(run_twice(cut, second.size() / 2) == expected);
    for (std::size_t cut = 0; cut <= second.size(); ++cut) CHECK(run_twice(first.size(), cut) == expected);

    // Whatever follows the stanza in the same chunk belongs to the old stream
    // (it was sent before TLS) and is discarded.
    Recorder r;
    StreamParser parser(r);
    r.after_stanza = [&](const Element&) { parser.reset(); };
    parser.feed(first + "<message>plaintext injection</message>");
    parser.feed(second);
    CHECK(r.events == Events{open_event, "stanza <starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>", open_event,
                             "stanza <presence/>"});
}

TEST_CASE("parser: no events after an error until reset") {
    Recorder r;
    StreamParser parser(r);
    parser.feed(header + "<a></b>");
    CHECK(parser.failed());
    parser.feed("<presence/>");
    CHECK(r.events == Events{open_event, "error not-well-formed"});
    parser.reset();
    CHECK_FALSE(parser.failed());
    parser.feed(header + "<presence/>");
    CHECK(r.events == Events{open_event, "error not-well-formed", open_event, "stanza <presence/>"});
}

TEST_CASE("parser: stop from a callback ends delivery") {
    Recorder r;
    StreamParser parser(r);
    r.after_stanza = [&](const Element&) { parser.stop(); };
    parser.feed(header + "<presence/><message/>");
    parser.feed("<iq/>");
    CHECK(r.events == Events{open_event, "stanza <presence/>"});
    CHECK_FALSE(parser.failed());
}

TEST_CASE("parser: an exception from a handler propagates out of feed, not through Expat") {
    Recorder r;
    StreamParser parser(r);
    r.after_stanza = [](const Element&) { throw std::runtime_error("handler failed"); };
    CHECK_THROWS_WITH_AS(parser.feed(header + "<presence/><message/>"), "handler failed", std::runtime_error);
    parser.feed("<iq/>");
    CHECK(r.events == Events{open_event, "stanza <presence/>"});
}

TEST_CASE("parser: lowering limits applies to the stanza in progress") {
    Recorder r;
    StreamParser parser(r);
    parser.feed(header + "<message><body>" + std::string(2000, 'x'));
    CHECK_FALSE(parser.failed());
    parser.set_limits(StreamLimits{1024, 64, 64});
    parser.feed("y");
    CHECK(r.events == Events{open_event, "error policy-violation"});
}
