#include <doctest/doctest.h>

#include <string>

#include "stanza_scanner.hpp"

using parley::bench::StanzaScanner;
using Event = StanzaScanner::Event;

TEST_CASE("scanner returns the stream header, stanzas and the stream close") {
  StanzaScanner s;
  s.feed("<?xml version='1.0'?><stream:stream xmlns='jabber:client' id='a'>"
         "<stream:features><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'><required/></starttls></stream:features>"
         "<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/></stream:stream>");
  CHECK(s.next() == Event::stream_open);
  CHECK(s.text() == "<stream:stream xmlns='jabber:client' id='a'>");
  CHECK(s.next() == Event::stanza);
  CHECK(s.text() ==
        "<stream:features><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'><required/></starttls></stream:features>");
  CHECK(s.next() == Event::stanza);
  CHECK(s.text() == "<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>");
  CHECK(s.next() == Event::stream_close);
  CHECK(s.next() == Event::need_more);
  CHECK(s.buffered() == 0);
}

TEST_CASE("scanner reassembles a stanza split at every byte") {
  const std::string stream = "<stream:stream>";
  const std::string stanza = "<message to='a@b' x=\"1>2\"><body>hi &amp; bye</body><x/></message>";
  StanzaScanner s;
  s.feed(stream);
  REQUIRE(s.next() == Event::stream_open);
  for (std::size_t i = 0; i + 1 < stanza.size(); ++i) {
    s.feed(stanza.substr(i, 1));
    REQUIRE(s.next() == Event::need_more);
  }
  s.feed(stanza.substr(stanza.size() - 1));
  CHECK(s.next() == Event::stanza);
  CHECK(s.text() == stanza);
}

TEST_CASE("scanner keeps '>' inside quoted attribute values") {
  StanzaScanner s;
  s.feed("<stream:stream><iq id='a>b' type='result'/>");
  REQUIRE(s.next() == Event::stream_open);
  CHECK(s.next() == Event::stanza);
  CHECK(s.text() == "<iq id='a>b' type='result'/>");
}

TEST_CASE("scanner drops consumed bytes and starts over on reset") {
  StanzaScanner s;
  s.feed("<stream:stream><a/><b>");
  REQUIRE(s.next() == Event::stream_open);
  REQUIRE(s.next() == Event::stanza);
  CHECK(s.next() == Event::need_more);
  CHECK(s.buffered() == 3);  // "<b>" awaits its end tag
  s.reset();
  CHECK(s.buffered() == 0);
  s.feed("<stream:stream id='2'>");
  CHECK(s.next() == Event::stream_open);
  CHECK(s.text() == "<stream:stream id='2'>");
}

TEST_CASE("scanner reports comments and stray end tags as malformed") {
  StanzaScanner a;
  a.feed("<stream:stream><!-- hi -->");
  REQUIRE(a.next() == Event::stream_open);
  CHECK(a.next() == Event::malformed);
  StanzaScanner b;
  b.feed("</x>");
  CHECK(b.next() == Event::malformed);
}

TEST_CASE("root_name strips the prefix of the root element") {
  using parley::bench::root_name;
  CHECK(root_name("<stream:features><bind/></stream:features>") == "features");
  CHECK(root_name("<presence/>") == "presence");
  CHECK(root_name("<iq\ttype='get'/>") == "iq");
  CHECK(root_name("text") == "");
}

TEST_CASE("root_attribute reads the root start tag only") {
  using parley::bench::root_attribute;
  const std::string presence =
      "<presence xml:id='x' from=\"bench1@localhost/hub\" id='p1'><status id='inner'>away</status></presence>";
  CHECK(root_attribute(presence, "from") == "bench1@localhost/hub");
  CHECK(root_attribute(presence, "id") == "p1");  // not xml:id, not the child's id
  CHECK(root_attribute(presence, "type") == "");
  CHECK(root_attribute("<iq type='result'/>", "type") == "result");
  CHECK(root_attribute("<iq type='unterminated>", "type") == "");
}

TEST_CASE("count_elements counts start tags of exactly that name") {
  using parley::bench::count_elements;
  const std::string roster =
      "<iq type='result' id='r'><query xmlns='jabber:iq:roster' ver='3'>"
      "<item jid='a@x' subscription='both'/><item\tjid='b@x'><group>g</group></item>"
      "<items/><item>odd</item></query></iq>";
  CHECK(count_elements(roster, "item") == 3);
  CHECK(count_elements(roster, "group") == 1);
  CHECK(count_elements(roster, "iq") == 1);
  CHECK(count_elements(roster, "query") == 1);
  CHECK(count_elements("<iq type='result'/>", "item") == 0);
  CHECK(count_elements("<item", "item") == 0);  // cut off: not a whole start tag
}
