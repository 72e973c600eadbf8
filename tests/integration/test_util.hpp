#pragma once
// Small assertions shared by the conversation tests.
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <string_view>
#include <vector>

#include <stdexcept>
#include <thread>

#include <doctest/doctest.h>

#include "harness/raw_client.hpp"
#include "harness/test_server.hpp"
#include "store/pg_sync.hpp"
#include "xml/element.hpp"

namespace parley::test {

// The name of the first child in `ns` other than <text/>: the condition of a
// stanza error, SASL failure or stream error.
inline std::string condition_of(const xml::Element& element, std::string_view ns) {
  const xml::Element* scope = &element;
  if (const xml::Element* error = element.first_child("error")) scope = error;
  for (const xml::Element& child : scope->children()) {
    if (child.ns() == ns && child.name() != "text") return child.name();
  }
  return {};
}

inline constexpr std::string_view kStanzaErrors = "urn:ietf:params:xml:ns:xmpp-stanzas";
inline constexpr std::string_view kStreamErrors = "urn:ietf:params:xml:ns:xmpp-streams";
inline constexpr std::string_view kSasl = "urn:ietf:params:xml:ns:xmpp-sasl";

inline bool has_mechanism(const xml::Element& features, std::string_view name) {
  const xml::Element* mechanisms = features.first_child("mechanisms", kSasl);
  if (!mechanisms) return false;
  for (const xml::Element& m : mechanisms->children()) {
    if (m.text() == name) return true;
  }
  return false;
}

// What ask() does with the stanzas that arrive before its answer.
enum class Others { Dropped, Kept };

// Sends an IQ of `type` with `payload` to `to` and returns the IQ that
// answers it (matched by id). What arrives first is skipped, or with
// Others::Kept left queued for the test to read next.
inline xml::Element ask(RawClient& client, const std::string& to, const std::string& payload,
                        const std::string& type = "get", Others others = Others::Dropped) {
  static int counter = 0;
  std::string id = "ask" + std::to_string(++counter);
  std::string to_attr = to.empty() ? std::string() : " to='" + to + "'";
  client.send("<iq type='" + type + "' id='" + id + "'" + to_attr + ">" + payload + "</iq>");
  std::vector<xml::Element> skipped;
  while (std::optional<xml::Element> e = client.next()) {
    if (e->name() == "iq" && e->attr("id") == id) {
      if (others == Others::Kept) client.unread(std::move(skipped));
      return *e;
    }
    if (others == Others::Kept) skipped.push_back(std::move(*e));
  }
  throw std::runtime_error("no answer to " + payload);
}

inline xml::Element ping(RawClient& client, const std::string& to = "localhost", Others others = Others::Dropped) {
  return ask(client, to, "<ping xmlns='urn:xmpp:ping'/>", "get", others);
}

inline std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// The server still serves after what a test did to it: a new client logs in
// as alice (password "secret") and gets a ping answered.
inline void check_still_serving(TestServer& server) {
  RawClient client(server.starttls_port());
  client.login("alice", "secret", "check");
  CHECK(ping(client).attr("type") == "result");
}

// Polls `condition` every 50 ms for up to 10 s: for what the server does
// behind its answers (rows written behind, timers, cleanup tasks).
template <class Condition>
bool eventually(Condition condition) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!condition()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return true;
}

// Writes a roster row (schema/0002_roster.sql) straight into the server's
// database, for tests whose subject only reads rosters. Rosters are loaded at
// login, so call it before the owner logs in.
inline void roster_row(TestServer& server, const std::string& owner, const std::string& contact,
                       const std::string& subscription) {
  store::PgSync db(server.conninfo());
  REQUIRE(db.connected());
  REQUIRE(db.exec("INSERT INTO roster_items (host, username, contact, subscription, version)"
                  " VALUES ('localhost', $1, $2, $3, 1)",
                  {owner, contact, subscription})
              .ok);
}

}  // namespace parley::test
