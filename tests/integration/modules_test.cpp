// The first modules (ping, version, time, disco) and per-host enabling.
#include <doctest/doctest.h>

#include <openssl/evp.h>

#include <algorithm>
#include <set>
#include <vector>

#include "core/base64.hpp"

#include "harness/raw_client.hpp"
#include "harness/test_server.hpp"
#include "test_util.hpp"

using namespace parley;
using namespace parley::test;

namespace {

std::set<std::string> features_of(const xml::Element& info) {
  std::set<std::string> features;
  for (const xml::Element& f : info.first_child("query")->children()) {
    if (f.name() == "feature") features.insert(std::string(f.attr("var")));
  }
  return features;
}

}  // namespace

TEST_CASE("ping, version, time and disco answer for the host") {
  TestServer server;
  server.add_user("alice@localhost", "secret");
  RawClient client(server.starttls_port());
  client.login("alice", "secret", "m");

  xml::Element pong = ask(client, "localhost", "<ping xmlns='urn:xmpp:ping'/>");
  CHECK(pong.attr("type") == "result");
  CHECK(pong.attr("from") == "localhost");
  CHECK(pong.attr("to") == "alice@localhost/m");
  CHECK(pong.element_count() == 0);

  xml::Element version = ask(client, "localhost", "<query xmlns='jabber:iq:version'/>");
  REQUIRE(version.first_child("query"));
  CHECK(version.first_child("query")->first_child("name")->text() == "Parley");
  CHECK_FALSE(version.first_child("query")->first_child("version")->text().empty());
  CHECK_FALSE(version.first_child("query")->first_child("os"));  // show_os is off by default

  xml::Element time = ask(client, "localhost", "<time xmlns='urn:xmpp:time'/>");
  const xml::Element* t = time.first_child("time");
  REQUIRE(t);
  std::string utc = t->first_child("utc")->text();
  CHECK(utc.size() == 20);
  CHECK(utc.back() == 'Z');
  CHECK(t->first_child("tzo")->text().size() == 6);

  xml::Element info = ask(client, "localhost", "<query xmlns='http://jabber.org/protocol/disco#info'/>");
  const xml::Element* identity = info.first_child("query")->first_child("identity");
  REQUIRE(identity);
  CHECK(identity->attr("category") == "server");
  CHECK(identity->attr("type") == "im");
  std::set<std::string> features = features_of(info);
  for (const char* f : {"urn:xmpp:ping", "urn:xmpp:time", "jabber:iq:version",
                        "http://jabber.org/protocol/disco#info", "http://jabber.org/protocol/disco#items"}) {
    CAPTURE(f);
    CHECK(features.count(f) == 1);
  }

  xml::Element items = ask(client, "localhost", "<query xmlns='http://jabber.org/protocol/disco#items'/>");
  CHECK(items.attr("type") == "result");
  REQUIRE(items.first_child("query"));

  // A ping without 'to' is for the server too.
  CHECK(ping(client, "").attr("type") == "result");
}

TEST_CASE("a module disabled for a host answers service-unavailable and leaves disco") {
  ServerOptions options;
  options.hosts = {"localhost", "quiet.test"};
  options.extra_config = "[hosts.\"quiet.test\"]\nmodules_enabled = [\"disco\"]\n"
                         "[modules.version]\nshow_os = true\n";
  TestServer server(options);
  server.add_user("alice@localhost", "secret");
  RawClient client(server.starttls_port());
  client.login("alice", "secret", "m");

  xml::Element ping = ask(client, "quiet.test", "<ping xmlns='urn:xmpp:ping'/>");
  CHECK(ping.attr("type") == "error");
  CHECK(condition_of(ping, kStanzaErrors) == "service-unavailable");
  std::set<std::string> quiet = features_of(ask(client, "quiet.test", "<query xmlns='http://jabber.org/protocol/disco#info'/>"));
  CHECK(quiet.count("urn:xmpp:ping") == 0);
  CHECK(quiet.count("http://jabber.org/protocol/disco#info") == 1);

  xml::Element version = ask(client, "localhost", "<query xmlns='jabber:iq:version'/>");
  CHECK(version.first_child("query")->first_child("os"));  // per-config option reaches the module
}

TEST_CASE("the server announces entity capabilities (XEP-0115) that match its disco#info") {
  TestServer server;
  server.add_user("alice@localhost", "secret");
  RawClient client(server.starttls_port());
  client.open_stream();
  xml::Element features = client.starttls();
  const xml::Element* caps = features.first_child("c", "http://jabber.org/protocol/caps");
  REQUIRE(caps);
  CHECK(caps->attr("hash") == "sha-1");
  std::string node = std::string(caps->attr("node")) + "#" + std::string(caps->attr("ver"));
  REQUIRE(client.authenticate("SCRAM-SHA-256", "alice", "secret").name() == "success");
  client.bind("caps");

  // Recompute the verification string from what disco#info says (XEP-0115 §5.1).
  xml::Element info = ask(client, "localhost", "<query xmlns='http://jabber.org/protocol/disco#info'/>");
  std::vector<std::string> identities;
  std::vector<std::string> features_list;
  for (const xml::Element& e : info.first_child("query")->children()) {
    if (e.name() == "identity") {
      identities.push_back(std::string(e.attr("category")) + "/" + std::string(e.attr("type")) + "//" +
                           std::string(e.attr("name")));
    } else if (e.name() == "feature") {
      features_list.emplace_back(e.attr("var"));
    }
  }
  std::sort(identities.begin(), identities.end());
  std::sort(features_list.begin(), features_list.end());
  std::string s;
  for (const std::string& i : identities) s += i + "<";
  for (const std::string& f : features_list) s += f + "<";
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_Digest(s.data(), s.size(), digest, &length, EVP_sha1(), nullptr);
  CHECK(caps->attr("ver") == core::base64_encode(std::string_view(reinterpret_cast<char*>(digest), length)));

  xml::Element by_node =
      ask(client, "localhost", "<query xmlns='http://jabber.org/protocol/disco#info' node='" + node + "'/>");
  CHECK(by_node.attr("type") == "result");
  CHECK(by_node.first_child("query")->attr("node") == node);
  xml::Element bogus =
      ask(client, "localhost", "<query xmlns='http://jabber.org/protocol/disco#info' node='urn:nothing'/>");
  CHECK(condition_of(bogus, kStanzaErrors) == "item-not-found");
}

TEST_CASE("disco#info and #items for an account: the user and presence subscribers only") {
  ServerOptions options;
  options.modules = {"disco", "ping", "mam"};
  TestServer server(options);
  server.add_user("alice@localhost", "secret");
  server.add_user("bob@localhost", "secret");
  server.add_user("carol@localhost", "secret");
  roster_row(server, "alice", "bob@localhost", "from");
  roster_row(server, "alice", "carol@localhost", "to");  // carol does not see alice's presence
  RawClient alice(server.starttls_port());
  alice.login("alice", "secret", "a");
  RawClient bob(server.starttls_port());
  bob.login("bob", "secret", "b");
  RawClient carol(server.starttls_port());
  carol.login("carol", "secret", "c");
  const std::string info_query = "<query xmlns='http://jabber.org/protocol/disco#info'/>";

  auto check_account_info = [](const xml::Element& info) {
    CHECK(info.attr("type") == "result");
    CHECK(info.attr("from") == "alice@localhost");
    REQUIRE(info.first_child("query"));
    std::vector<std::string> identities;
    for (const xml::Element& e : info.first_child("query")->children()) {
      if (e.name() == "identity") identities.push_back(std::string(e.attr("category")) + "/" + std::string(e.attr("type")));
    }
    CHECK(identities == std::vector<std::string>{"account/registered"});
    std::set<std::string> features = features_of(info);
    CHECK(features.count("urn:xmpp:mam:2") == 1);  // XEP-0313 §6: on the archiving JID
    CHECK(features.count("http://jabber.org/protocol/disco#info") == 1);
    CHECK(features.count("urn:xmpp:ping") == 0);  // the server's own features stay with the server
  };
  // RFC 6120 §10.3.3: without 'to' the IQ is for the user's own account.
  check_account_info(ask(alice, "alice@localhost", info_query));
  xml::Element no_to = ask(alice, "", info_query);
  CHECK(no_to.first_child("query")->first_child("identity")->attr("category") == "account");
  check_account_info(ask(bob, "alice@localhost", info_query));

  // Neither a user without the subscription nor a missing account tells anything.
  CHECK(condition_of(ask(carol, "alice@localhost", info_query), kStanzaErrors) == "service-unavailable");
  CHECK(condition_of(ask(bob, "nobody@localhost", info_query), kStanzaErrors) == "service-unavailable");
  CHECK(condition_of(ask(alice, "", "<query xmlns='http://jabber.org/protocol/disco#info' node='urn:x'/>"),
                     kStanzaErrors) == "item-not-found");

  xml::Element items = ask(bob, "alice@localhost", "<query xmlns='http://jabber.org/protocol/disco#items'/>");
  CHECK(items.attr("type") == "result");
  REQUIRE(items.first_child("query"));
  CHECK(items.first_child("query")->element_count() == 0);
  CHECK(condition_of(ask(carol, "alice@localhost", "<query xmlns='http://jabber.org/protocol/disco#items'/>"),
                     kStanzaErrors) == "service-unavailable");

  // The host's disco#info is unchanged by it, and still lists the archive.
  std::set<std::string> host = features_of(ask(alice, "localhost", info_query));
  CHECK(host.count("urn:xmpp:ping") == 1);
  CHECK(host.count("urn:xmpp:mam:2") == 1);
  check_still_serving(server);
}
