// XEP-0352: what the csi module holds back for an inactive client.
#include <doctest/doctest.h>

#include "modules/csi/held_output.hpp"
#include "xml/fragment.hpp"

using namespace parley;
using namespace parley::modules::csi;

namespace {

xml::Element element(std::string_view text) {
  std::optional<xml::Element> e = xml::parse_element(text);
  REQUIRE(e);
  return *e;
}

// Offers `text` to the gate as the session would: bytes and element.
bool offer(HeldOutput& gate, std::string_view text) {
  xml::Element e = element(text);
  return gate.hold(text, &e);
}

constexpr std::string_view kAway =
    "<presence xmlns='jabber:client' from='bob@x/phone'><show>away</show></presence>";
constexpr std::string_view kDnd = "<presence xmlns='jabber:client' from='bob@x/phone'><show>dnd</show></presence>";
constexpr std::string_view kCarolOnline = "<presence xmlns='jabber:client' from='carol@x/desk'/>";
constexpr std::string_view kComposing =
    "<message xmlns='jabber:client' from='bob@x/phone' to='alice@x/a' type='chat'>"
    "<composing xmlns='http://jabber.org/protocol/chatstates'/></message>";
constexpr std::string_view kPaused =
    "<message xmlns='jabber:client' from='bob@x/phone' to='alice@x/a' type='chat'>"
    "<paused xmlns='http://jabber.org/protocol/chatstates'/><thread>t1</thread>"
    "<no-store xmlns='urn:xmpp:hints'/></message>";

}  // namespace

TEST_CASE("presence and chat states wait; what the user reads or answers does not") {
  CHECK(waiting_key(element(kAway)) == "presence bob@x/phone");
  CHECK(waiting_key(element("<presence xmlns='jabber:client' from='bob@x/phone' type='unavailable'/>")));
  CHECK(waiting_key(element(kComposing)));
  CHECK(waiting_key(element(kPaused)));
  // Subscription requests and errors need the user.
  CHECK_FALSE(waiting_key(element("<presence xmlns='jabber:client' from='bob@x' type='subscribe'/>")));
  CHECK_FALSE(waiting_key(element("<presence xmlns='jabber:client' from='bob@x' type='error'/>")));
  // A chat state beside a body, or beside anything else, is part of a message.
  CHECK_FALSE(waiting_key(element("<message xmlns='jabber:client' from='bob@x/phone' type='chat'><body>hi</body>"
                                  "<active xmlns='http://jabber.org/protocol/chatstates'/></message>")));
  CHECK_FALSE(waiting_key(element("<message xmlns='jabber:client' from='bob@x/phone'>"
                                  "<request xmlns='urn:xmpp:receipts'/>"
                                  "<gone xmlns='http://jabber.org/protocol/chatstates'/></message>")));
  CHECK_FALSE(waiting_key(element("<message xmlns='jabber:client' from='bob@x/phone' type='error'>"
                                  "<gone xmlns='http://jabber.org/protocol/chatstates'/></message>")));
  CHECK_FALSE(waiting_key(element("<message xmlns='jabber:client' from='bob@x/phone'/>")));
  CHECK_FALSE(waiting_key(element("<iq xmlns='jabber:client' type='get' id='1'><ping xmlns='urn:xmpp:ping'/></iq>")));
}

TEST_CASE("a carbon copy waits if the message it carries would") {
  auto carbon = [](std::string_view inner) {
    return "<message xmlns='jabber:client' from='alice@x' to='alice@x/a' type='chat'>"
           "<sent xmlns='urn:xmpp:carbons:2'><forwarded xmlns='urn:xmpp:forward:0'>" +
           std::string(inner) + "</forwarded></sent></message>";
  };
  std::optional<std::string> state = waiting_key(element(carbon(
      "<message xmlns='jabber:client' from='alice@x/b' to='bob@x' type='chat'>"
      "<composing xmlns='http://jabber.org/protocol/chatstates'/></message>")));
  REQUIRE(state);
  CHECK(*state != *waiting_key(element(kComposing)));
  CHECK_FALSE(waiting_key(element(carbon("<message xmlns='jabber:client' from='alice@x/b' to='bob@x' type='chat'>"
                                         "<body>hi</body></message>"))));
}

TEST_CASE("a newer stanza replaces the held one with its key, and release keeps the order") {
  HeldOutput gate(10);
  CHECK(offer(gate, kAway));
  CHECK(offer(gate, kComposing));
  CHECK(offer(gate, kCarolOnline));
  CHECK(offer(gate, kDnd));     // replaces away, and moves behind carol
  CHECK(offer(gate, kPaused));  // replaces composing
  CHECK(gate.size() == 3);
  CHECK(gate.release() == std::vector<std::string>{std::string(kCarolOnline), std::string(kDnd), std::string(kPaused)});
  CHECK(gate.size() == 0);
  CHECK(gate.release().empty());
}

TEST_CASE("what must go now is not held, and neither is what comes without its element") {
  HeldOutput gate(10);
  CHECK(offer(gate, kAway));
  CHECK_FALSE(offer(gate, "<message xmlns='jabber:client' from='bob@x/phone' type='chat'><body>hi</body></message>"));
  CHECK_FALSE(gate.hold(kDnd, nullptr));
  CHECK(gate.size() == 1);  // the session releases it before writing either
}

TEST_CASE("one stanza past max_held is refused, so the session sends them all; replacing needs no room") {
  HeldOutput gate(2);
  CHECK(offer(gate, kAway));
  CHECK(offer(gate, kCarolOnline));
  CHECK(offer(gate, kDnd));  // same key as away: still two
  CHECK_FALSE(offer(gate, kComposing));
  CHECK(gate.size() == 2);
}
