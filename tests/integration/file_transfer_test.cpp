// Peer-to-peer file transfer through the server: a SOCKS5 bytestream relayed
// by the proxy.localhost component (XEP-0065), in-band bytestreams
// (XEP-0047) and a Jingle file-transfer offer (XEP-0166, XEP-0234) passed
// between two clients by the router. Every transfer checks the bytes arrive
// intact.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <doctest/doctest.h>

#include <chrono>
#include <csignal>
#include <random>
#include <thread>

#include "core/base64.hpp"
#include "harness/raw_client.hpp"
#include "harness/test_server.hpp"
#include "modules/proxy65/relay.hpp"
#include "test_util.hpp"

using namespace parley;
using namespace parley::test;

namespace {

constexpr std::string_view kBytestreams = "http://jabber.org/protocol/bytestreams";

std::string random_bytes(size_t size, uint64_t seed) {
  std::mt19937_64 random(seed);
  std::string bytes(size, '\0');
  for (char& c : bytes) c = static_cast<char>(random());
  return bytes;
}

struct Pair {
  TestServer server;
  bool users;
  RawClient alice;
  RawClient bob;
  std::string alice_jid, bob_jid;
  explicit Pair(ServerOptions options)
      : server(std::move(options)), users(add_users()), alice(server.starttls_port()), bob(server.starttls_port()) {
    alice_jid = alice.login("alice", "a", "desk");
    bob_jid = bob.login("bob", "b", "phone");
  }
  bool add_users() {
    server.add_user("alice@localhost", "a");
    server.add_user("bob@localhost", "b");
    return true;
  }
};

ServerOptions proxy_options(const std::string& extra = {}) {
  ServerOptions options;
  options.modules = {"disco", "proxy65"};
  options.extra_config =
      "[modules.proxy65]\nport = " + std::to_string(free_port()) + "\nbind_address = \"127.0.0.1\"\n"
      "public_address = \"127.0.0.1\"\n" + extra;
  return options;
}

// A blocking SOCKS5 client (RFC 1928) for the proxy.
class Socks5 {
 public:
  explicit Socks5(uint16_t port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(port);
    inet_pton(AF_INET, "127.0.0.1", &address.sin_addr);
    REQUIRE(::connect(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
  }
  ~Socks5() { ::close(fd_); }
  void send(std::string_view bytes) {
    while (!bytes.empty()) {
      ssize_t n = ::write(fd_, bytes.data(), bytes.size());
      REQUIRE(n > 0);
      bytes.remove_prefix(static_cast<size_t>(n));
    }
  }
  // Exactly n bytes, or fewer if the connection ends or nothing comes for timeout_ms.
  std::string receive(size_t n, int timeout_ms = 5000) {
    std::string out;
    while (out.size() < n) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, timeout_ms) <= 0) break;
      char buffer[65536];
      ssize_t got = ::read(fd_, buffer, std::min(sizeof buffer, n - out.size()));
      if (got <= 0) break;
      out.append(buffer, static_cast<size_t>(got));
    }
    return out;
  }
  // Greeting and CONNECT with the stream hash; returns the reply's status byte.
  int connect_stream(const std::string& hash) {
    send(std::string("\x05\x01\x00", 3));
    if (receive(2) != std::string("\x05\x00", 2)) return -1;
    std::string request("\x05\x01\x00\x03", 4);
    request += static_cast<char>(hash.size());
    request += hash;
    request += std::string("\x00\x00", 2);
    send(request);
    std::string reply = receive(request.size());
    if (reply.size() != request.size()) return -1;
    return static_cast<unsigned char>(reply[1]);
  }

 private:
  int fd_ = -1;
};

std::optional<xml::Element> next_iq(RawClient& client, std::string_view type = {}) {
  while (std::optional<xml::Element> e = client.next()) {
    if (e->name() == "iq" && (type.empty() || e->attr("type") == type)) return e;
  }
  return std::nullopt;
}

// XEP-0065 §6.3.1: the port proxy.localhost gives as its streamhost.
uint16_t proxy_port(Pair& p) {
  xml::Element address = ask(p.alice, "proxy.localhost", "<query xmlns='http://jabber.org/protocol/bytestreams'/>");
  return static_cast<uint16_t>(
      std::stoi(std::string(address.first_child("query", kBytestreams)->first_child("streamhost")->attr("port"))));
}

// XEP-0065 §6.3.2: alice asks the proxy to activate stream `sid` towards `target`.
xml::Element activate(Pair& p, const std::string& sid, const std::string& target) {
  return ask(p.alice, "proxy.localhost",
             "<query xmlns='http://jabber.org/protocol/bytestreams' sid='" + sid + "'><activate>" + target +
                 "</activate></query>",
             "set");
}

}  // namespace

TEST_CASE("proxy65: discovery, the streamhost, and a transfer between two clients with activation") {
  Pair p(proxy_options());
  xml::Element items = ask(p.alice, "localhost", "<query xmlns='http://jabber.org/protocol/disco#items'/>");
  REQUIRE(items.first_child("query")->first_child("item"));
  CHECK(items.first_child("query")->first_child("item")->attr("jid") == "proxy.localhost");
  xml::Element info = ask(p.alice, "proxy.localhost", "<query xmlns='http://jabber.org/protocol/disco#info'/>");
  const xml::Element* identity = info.first_child("query")->first_child("identity");
  REQUIRE(identity);
  CHECK(identity->attr("category") == "proxy");
  CHECK(identity->attr("type") == "bytestreams");

  // §6.3.1: the proxy's network address.
  xml::Element address = ask(p.alice, "proxy.localhost", "<query xmlns='http://jabber.org/protocol/bytestreams'/>");
  REQUIRE(address.attr("type") == "result");
  const xml::Element* streamhost = address.first_child("query", kBytestreams)->first_child("streamhost");
  REQUIRE(streamhost);
  CHECK(streamhost->attr("jid") == "proxy.localhost");
  CHECK(streamhost->attr("host") == "127.0.0.1");
  auto port = static_cast<uint16_t>(std::stoi(std::string(streamhost->attr("port"))));

  // §5.3.1: the offer goes from alice to bob through the router.
  p.alice.send("<iq type='set' id='offer1' to='" + p.bob_jid +
               "'><query xmlns='http://jabber.org/protocol/bytestreams' sid='s1' mode='tcp'><streamhost "
               "jid='proxy.localhost' host='127.0.0.1' port='" +
               std::to_string(port) + "'/></query></iq>");
  std::optional<xml::Element> offer = next_iq(p.bob, "set");
  REQUIRE(offer);
  CHECK(offer->attr("from") == p.alice_jid);
  CHECK(offer->first_child("query", kBytestreams)->attr("sid") == "s1");

  std::string hash = modules::proxy65::stream_hash("s1", p.alice_jid, p.bob_jid);
  Socks5 target(port);
  CHECK(target.connect_stream(hash) == 0);
  // Activating with only one side connected is refused.
  xml::Element early = activate(p, "s1", p.bob_jid);
  CHECK(condition_of(early, kStanzaErrors) == "not-acceptable");

  p.bob.send("<iq type='result' id='offer1' to='" + p.alice_jid +
             "'><query xmlns='http://jabber.org/protocol/bytestreams' sid='s1'><streamhost-used "
             "jid='proxy.localhost'/></query></iq>");
  std::optional<xml::Element> used = next_iq(p.alice, "result");
  REQUIRE(used);
  CHECK(used->attr("id") == "offer1");

  Socks5 initiator(port);
  CHECK(initiator.connect_stream(hash) == 0);
  Socks5 intruder(port);
  CHECK(intruder.connect_stream(hash) == 1);  // a third party cannot join the stream

  xml::Element wrong = activate(p, "other", p.bob_jid);
  CHECK(condition_of(wrong, kStanzaErrors) == "item-not-found");
  xml::Element activated = activate(p, "s1", p.bob_jid);
  CHECK(activated.attr("type") == "result");

  std::string file = random_bytes(3 << 20, 65);
  initiator.send(file);
  CHECK(target.receive(file.size()) == file);
  target.send("thanks");
  CHECK(initiator.receive(6) == "thanks");
}

TEST_CASE("proxy65: the bandwidth limit holds a transfer to its rate") {
  Pair p(proxy_options("bandwidth = \"256KiB\"\n"));
  uint16_t port = proxy_port(p);
  std::string hash = modules::proxy65::stream_hash("s2", p.alice_jid, p.bob_jid);
  Socks5 target(port), initiator(port);
  REQUIRE(target.connect_stream(hash) == 0);
  REQUIRE(initiator.connect_stream(hash) == 0);
  REQUIRE(activate(p, "s2", p.bob_jid).attr("type") == "result");
  std::string file = random_bytes(768 << 10, 66);
  auto started = std::chrono::steady_clock::now();
  std::thread sender([&] { initiator.send(file); });
  CHECK(target.receive(file.size(), 10000) == file);
  sender.join();
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  // 768 KiB at 256 KiB/s: about 3 s (the first read is not delayed).
  CHECK(seconds > 2.0);
  CHECK(seconds < 15.0);  // only "not stalled": the machine may be busy
}

TEST_CASE("proxy65: a malformed activation and unknown payloads are refused") {
  Pair p(proxy_options());
  xml::Element bad = activate(p, "s", "not a jid@@");
  CHECK(condition_of(bad, kStanzaErrors) == "bad-request");
  xml::Element other = ask(p.alice, "proxy.localhost", "<vCard xmlns='vcard-temp'/>");
  CHECK(condition_of(other, kStanzaErrors) == "service-unavailable");
}

TEST_CASE("ibb: an in-band bytestream carries a file between two clients intact") {
  ServerOptions options;
  options.modules = {"disco"};
  Pair p(std::move(options));
  std::string file = random_bytes(100000, 47);
  constexpr size_t kBlock = 4096;
  // XEP-0047 §2.1: open; the target accepts.
  p.alice.send("<iq type='set' id='ibb-open' to='" + p.bob_jid +
               "'><open xmlns='http://jabber.org/protocol/ibb' block-size='4096' sid='i1' stanza='iq'/></iq>");
  std::optional<xml::Element> open = next_iq(p.bob, "set");
  REQUIRE(open);
  CHECK(open->first_child("open", "http://jabber.org/protocol/ibb")->attr("sid") == "i1");
  p.bob.send("<iq type='result' id='ibb-open' to='" + p.alice_jid + "'/>");
  REQUIRE(next_iq(p.alice, "result"));

  // §2.2: data in sequence, each acknowledged.
  std::string received;
  uint16_t seq = 0;
  for (size_t offset = 0; offset < file.size(); offset += kBlock, ++seq) {
    std::string chunk = core::base64_encode(file.substr(offset, kBlock));
    std::string id = "d" + std::to_string(seq);
    p.alice.send("<iq type='set' id='" + id + "' to='" + p.bob_jid +
                 "'><data xmlns='http://jabber.org/protocol/ibb' seq='" + std::to_string(seq) + "' sid='i1'>" + chunk +
                 "</data></iq>");
    std::optional<xml::Element> data = next_iq(p.bob, "set");
    REQUIRE(data);
    const xml::Element* payload = data->first_child("data", "http://jabber.org/protocol/ibb");
    REQUIRE(payload);
    CHECK(payload->attr("seq") == std::to_string(seq));
    std::optional<std::string> decoded = core::base64_decode(payload->text());
    REQUIRE(decoded);
    received += *decoded;
    p.bob.send("<iq type='result' id='" + id + "' to='" + p.alice_jid + "'/>");
    REQUIRE(next_iq(p.alice, "result"));
  }
  // §2.3: close.
  p.alice.send("<iq type='set' id='ibb-close' to='" + p.bob_jid +
               "'><close xmlns='http://jabber.org/protocol/ibb' sid='i1'/></iq>");
  std::optional<xml::Element> close = next_iq(p.bob, "set");
  REQUIRE(close);
  CHECK(close->first_child("close", "http://jabber.org/protocol/ibb"));
  CHECK(received == file);
}

TEST_CASE("jingle: a file-transfer offer and its acceptance pass between two clients unchanged") {
  ServerOptions options;
  options.modules = {"disco"};
  Pair p(std::move(options));
  std::string offer =
      "<jingle xmlns='urn:xmpp:jingle:1' action='session-initiate' initiator='" + p.alice_jid +
      "' sid='j1'><content creator='initiator' name='a-file-offer' senders='initiator'>"
      "<description xmlns='urn:xmpp:jingle:apps:file-transfer:5'><file><media-type>image/jpeg</media-type>"
      "<name>photo.jpg</name><size>3032449</size><hash xmlns='urn:xmpp:hashes:2' algo='sha-256'>"
      "w0mcJylzCn+AfvuGdqkty2+KP48=</hash></file></description>"
      "<transport xmlns='urn:xmpp:jingle:transports:ibb:1' block-size='4096' sid='ch3d9s71'/>"
      "</content></jingle>";
  p.alice.send("<iq type='set' id='jingle1' to='" + p.bob_jid + "'>" + offer + "</iq>");
  std::optional<xml::Element> received = next_iq(p.bob, "set");
  REQUIRE(received);
  CHECK(received->attr("from") == p.alice_jid);
  const xml::Element* jingle = received->first_child("jingle", "urn:xmpp:jingle:1");
  REQUIRE(jingle);
  CHECK(jingle->attr("action") == "session-initiate");
  const xml::Element* file = jingle->first_child("content")
                                 ->first_child("description", "urn:xmpp:jingle:apps:file-transfer:5")
                                 ->first_child("file");
  REQUIRE(file);
  CHECK(file->first_child("name")->text() == "photo.jpg");
  CHECK(file->first_child("size")->text() == "3032449");
  CHECK(file->first_child("hash", "urn:xmpp:hashes:2")->text() == "w0mcJylzCn+AfvuGdqkty2+KP48=");
  p.bob.send("<iq type='result' id='jingle1' to='" + p.alice_jid + "'/>");
  REQUIRE(next_iq(p.alice, "result"));
  p.bob.send("<iq type='set' id='jingle2' to='" + p.alice_jid +
             "'><jingle xmlns='urn:xmpp:jingle:1' action='session-accept' sid='j1' responder='" + p.bob_jid +
             "'/></iq>");
  std::optional<xml::Element> accept = next_iq(p.alice, "set");
  REQUIRE(accept);
  CHECK(accept->first_child("jingle", "urn:xmpp:jingle:1")->attr("action") == "session-accept");
  // To a resource that is not online the offer bounces (RFC 6121 §8.5.3.2.3).
  xml::Element gone = ask(p.alice, "bob@localhost/laptop", offer, "set");
  CHECK(condition_of(gone, kStanzaErrors) == "service-unavailable");
}

TEST_CASE("proxy65: a port held by another program stops start-up with a clear error") {
  // A listening socket without SO_REUSEPORT: the proxy cannot share it.
  int blocker = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = 0;
  inet_pton(AF_INET, "127.0.0.1", &address.sin_addr);
  REQUIRE(::bind(blocker, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
  REQUIRE(::listen(blocker, 1) == 0);
  socklen_t length = sizeof address;
  getsockname(blocker, reinterpret_cast<sockaddr*>(&address), &length);
  ServerOptions options;
  options.modules = {"disco", "proxy65"};
  options.extra_config = "[modules.proxy65]\nport = " + std::to_string(ntohs(address.sin_port)) +
                         "\nbind_address = \"127.0.0.1\"\n";
  options.start = false;
  TestServer server(options);
  CHECK_THROWS_AS(server.start(), std::runtime_error);
  CHECK(server.log().find("module proxy65 for localhost not started: proxy65: cannot listen") != std::string::npos);
  ::close(blocker);
}

TEST_CASE("proxy65: a transfer in progress goes on across a SIGHUP reload") {
  Pair p(proxy_options());
  uint16_t port = proxy_port(p);
  std::string hash = modules::proxy65::stream_hash("s3", p.alice_jid, p.bob_jid);
  Socks5 target(port), initiator(port);
  REQUIRE(target.connect_stream(hash) == 0);
  REQUIRE(initiator.connect_stream(hash) == 0);
  REQUIRE(activate(p, "s3", p.bob_jid).attr("type") == "result");
  std::string first = random_bytes(100000, 1), second = random_bytes(100000, 2);
  initiator.send(first);
  CHECK(target.receive(first.size()) == first);
  p.server.signal(SIGHUP);
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  initiator.send(second);
  CHECK(target.receive(second.size()) == second);
  // The reloaded module answers on the same port.
  xml::Element again = ask(p.alice, "proxy.localhost", "<query xmlns='http://jabber.org/protocol/bytestreams'/>");
  CHECK(again.first_child("query", kBytestreams)->first_child("streamhost")->attr("port") == std::to_string(port));
}

TEST_CASE("proxy.<host> and upload.<host> refuse chat and normal messages; a headline is dropped") {
  ServerOptions options = proxy_options();
  options.modules.push_back("upload");
  Pair p(options);
  for (const std::string to : {"proxy.localhost", "upload.localhost"}) {
    p.alice.send("<message to='" + to + "' type='chat' id='m-" + to + "'><body>x</body></message>");
    std::optional<xml::Element> error = p.alice.next_named("message");
    REQUIRE(error);
    CHECK(error->attr("type") == "error");
    CHECK(error->attr("from") == to);
    CHECK(error->attr("id") == "m-" + to);
    CHECK(condition_of(*error, kStanzaErrors) == "service-unavailable");
  }
  p.alice.send("<message to='upload.localhost' id='n'><body>x</body></message>");  // type normal
  std::optional<xml::Element> normal = p.alice.next_named("message");
  REQUIRE(normal);
  CHECK(normal->attr("id") == "n");
  CHECK(condition_of(*normal, kStanzaErrors) == "service-unavailable");
  p.alice.send("<message to='proxy.localhost' type='headline' id='h'><body>x</body></message>");
  CHECK_FALSE(p.alice.next_named("message", 300));
}
