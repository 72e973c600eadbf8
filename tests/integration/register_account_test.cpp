// Signed-in users of module "register": their verified number, a number
// change verified by SMS (urn:parley:phone:0) and contact discovery
// (urn:parley:phonebook:0) with its daily quota.
#include <doctest/doctest.h>

#include <chrono>
#include <thread>

#include "harness/raw_client.hpp"
#include "harness/test_server.hpp"
#include "register_test_util.hpp"
#include "test_util.hpp"

using namespace parley;
using namespace parley::test;

namespace {

void give_number(TestServer& server, const std::string& user, const std::string& number) {
  server.add_user(user + "@localhost", user);
  db_exec(server, "INSERT INTO phone_numbers (host, username, number) VALUES ('localhost', '" + user + "', '" +
                      number + "')");
}

std::unique_ptr<RawClient> login(TestServer& server, const std::string& user) {
  auto client = std::make_unique<RawClient>(server.starttls_port());
  client->login(user, user, "r");
  return client;
}

std::string own_number(RawClient& client) {
  xml::Element answer = ask(client, "localhost", "<query xmlns='urn:parley:phone:0'/>");
  REQUIRE(answer.attr("type") == "result");
  const xml::Element* number = answer.first_child("query")->first_child("number");
  return number ? number->text() : std::string();
}

}  // namespace

TEST_CASE("register: a signed-in user changes their number after verifying the new one") {
  TestServer server(register_options());
  give_number(server, "alice", "+12015550123");
  give_number(server, "bob", "+12015550125");
  auto alice = login(server, "alice");
  CHECK(own_number(*alice) == "+12015550123");

  xml::Element sent =
      ask(*alice, "localhost", "<change xmlns='urn:parley:phone:0'><number>(201) 555-0124</number></change>", "set");
  REQUIRE(sent.attr("type") == "result");
  std::string code = last_code(server, "+12015550124");
  REQUIRE(code.size() == 6);
  CHECK(own_number(*alice) == "+12015550123");  // not before the code

  SUBCASE("another user cannot confirm it") {
    auto bob = login(server, "bob");
    xml::Element stolen = ask(*bob, "localhost",
                              "<confirm xmlns='urn:parley:phone:0'><number>+12015550124</number><code>" + code +
                                  "</code></confirm>",
                              "set");
    CHECK(condition_of(stolen, kStanzaErrors) == "not-authorized");
    CHECK(own_number(*bob) == "+12015550125");
  }
  SUBCASE("a wrong code, then the right one") {
    std::string wrong = code == "000000" ? "111111" : "000000";
    xml::Element bad = ask(*alice, "localhost",
                           "<confirm xmlns='urn:parley:phone:0'><number>+12015550124</number><code>" + wrong +
                               "</code></confirm>",
                           "set");
    CHECK(condition_of(bad, kStanzaErrors) == "not-authorized");
    CHECK(error_text(bad) == "wrong code; 4 tries left");
    xml::Element good = ask(*alice, "localhost",
                            "<confirm xmlns='urn:parley:phone:0'><number>+12015550124</number><code>" + code +
                                "</code></confirm>",
                            "set");
    CHECK(good.attr("type") == "result");
    CHECK(own_number(*alice) == "+12015550124");
    CHECK(db_value(server, "SELECT count(*) FROM phone_numbers WHERE number = '+12015550123'") == "0");
  }
  SUBCASE("a number that belongs to someone else is refused") {
    xml::Element taken =
        ask(*alice, "localhost", "<change xmlns='urn:parley:phone:0'><number>+12015550125</number></change>", "set");
    CHECK(condition_of(taken, kStanzaErrors) == "conflict");
    CHECK(last_code(server, "+12015550125").empty());
  }
  SUBCASE("an invalid number is refused") {
    xml::Element bad =
        ask(*alice, "localhost", "<change xmlns='urn:parley:phone:0'><number>12</number></change>", "set");
    CHECK(condition_of(bad, kStanzaErrors) == "not-acceptable");
  }
}

TEST_CASE("register: the number is private to its owner") {
  TestServer server(register_options());
  give_number(server, "alice", "+12015550123");
  give_number(server, "bob", "+12015550125");
  auto bob = login(server, "bob");
  // Addressed to alice's account, the query is not answered for her.
  xml::Element answer = ask(*bob, "alice@localhost", "<query xmlns='urn:parley:phone:0'/>");
  CHECK(answer.attr("type") == "error");
  CHECK(own_number(*bob) == "+12015550125");
}

TEST_CASE("register: contact discovery answers only for the numbers sent, within the daily quota") {
  TestServer server(register_options("phonebook_daily_quota = 4\n"));
  give_number(server, "alice", "+12015550123");
  give_number(server, "bob", "+12015550124");
  server.add_user("carol@localhost", "carol");
  auto carol = login(server, "carol");
  xml::Element found = ask(*carol, "localhost",
                           "<query xmlns='urn:parley:phonebook:0'><item number='+12015550123'/>"
                           "<item number='(201) 555-0124'/><item number='+12015550199'/><item number='garbage'/>"
                           "</query>");
  REQUIRE(found.attr("type") == "result");
  xml::Element expected("query", "urn:parley:phonebook:0");
  // Sorted by the number as sent.
  xml::Element& b = expected.append(xml::Element("item", "urn:parley:phonebook:0"));
  b.set_attr("number", "(201) 555-0124");
  b.set_attr("jid", "bob@localhost");
  xml::Element& a = expected.append(xml::Element("item", "urn:parley:phonebook:0"));
  a.set_attr("number", "+12015550123");
  a.set_attr("jid", "alice@localhost");
  CHECK(*found.first_child("query") == expected);
  CHECK(db_value(server, "SELECT numbers FROM phonebook_usage WHERE username = 'carol'") == "3");

  // 3 of 4 used: two more are over the quota, one is not.
  xml::Element over = ask(*carol, "localhost",
                          "<query xmlns='urn:parley:phonebook:0'><item number='+12015550123'/>"
                          "<item number='+12015550198'/></query>");
  CHECK(condition_of(over, kStanzaErrors) == "resource-constraint");
  CHECK(error_text(over) == "daily quota of 4 numbers reached; retry after midnight UTC");
  xml::Element last =
      ask(*carol, "localhost", "<query xmlns='urn:parley:phonebook:0'><item number='+12015550124'/></query>");
  CHECK(last.first_child("query")->element_count() == 1);
  // A new day starts a new count.
  db_exec(server, "UPDATE phonebook_usage SET day = day - 1");
  CHECK(ask(*carol, "localhost", "<query xmlns='urn:parley:phonebook:0'><item number='+12015550124'/></query>")
            .attr("type") == "result");
  CHECK(db_value(server, "SELECT string_agg(numbers::text, ',') FROM phonebook_usage") == "1");
}

TEST_CASE("register: XEP-0077 once signed in: registered, password change, cancellation") {
  TestServer server(register_options());
  give_number(server, "alice", "+12015550123");
  auto alice = login(server, "alice");
  xml::Element info = ask(*alice, "", "<query xmlns='jabber:iq:register'/>");
  REQUIRE(info.attr("type") == "result");
  CHECK(info.first_child("query")->first_child("registered") != nullptr);
  CHECK(info.first_child("query")->first_child("username")->text() == "alice");

  xml::Element other = ask(*alice, "",
                           "<query xmlns='jabber:iq:register'><username>bob</username><password>x</password></query>",
                           "set");
  CHECK(condition_of(other, kStanzaErrors) == "not-authorized");
  xml::Element changed = ask(
      *alice, "", "<query xmlns='jabber:iq:register'><username>alice</username><password>new</password></query>",
      "set");
  CHECK(changed.attr("type") == "result");
  RawClient relogin(server.starttls_port());
  CHECK_NOTHROW(relogin.login("alice", "new"));

  xml::Element removed = ask(*alice, "", "<query xmlns='jabber:iq:register'><remove/></query>", "set");
  CHECK(removed.attr("type") == "result");
  CHECK(alice->wait_closed());
  for (int i = 0; i < 100 && account_count(server, "alice") != 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  CHECK(account_count(server, "alice") == 0);
  CHECK(db_value(server, "SELECT count(*) FROM phone_numbers") == "0");  // ON DELETE CASCADE
}

TEST_CASE("register: Quicksy's phone-book query (im.quicksy.synchronization:0)") {
  TestServer server(register_options());
  give_number(server, "alice", "+12015550123");
  server.add_user("carol@localhost", "carol");
  auto carol = login(server, "carol");
  const std::string entries = "<entry number='+12015550123'/><entry number='+12015550199'/>";
  xml::Element found =
      ask(*carol, "localhost", "<phone-book xmlns='im.quicksy.synchronization:0'>" + entries + "</phone-book>");
  REQUIRE(found.attr("type") == "result");
  const xml::Element* book = found.first_child("phone-book", "im.quicksy.synchronization:0");
  REQUIRE(book);
  std::string ver(book->attr("ver"));
  CHECK(ver.size() == 28);  // base64 of a SHA-1
  REQUIRE(book->element_count() == 1);
  const xml::Element& entry = book->children()[0];
  CHECK(entry.attr("number") == "+12015550123");
  REQUIRE(entry.element_count() == 1);
  CHECK(entry.children()[0].name() == "jid");
  CHECK(entry.children()[0].text() == "alice@localhost");
  // The same answer again: an empty result.
  xml::Element same = ask(*carol, "localhost",
                          "<phone-book xmlns='im.quicksy.synchronization:0' ver='" + ver + "'>" + entries +
                              "</phone-book>");
  CHECK(same.attr("type") == "result");
  CHECK(same.element_count() == 0);
}
