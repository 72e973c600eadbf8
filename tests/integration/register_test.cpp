// Sign-up with a phone number and an SMS code (XEP-0077 + XEP-0004), password
// reset, number change and contact discovery: module "register", with the
// outbox gateway whose file the tests read the codes from. Expiry and
// cooldowns are tested by ageing the stored rows with an UPDATE in the test
// database (the module uses the database clock only): no sleeps.
#include <doctest/doctest.h>

#include <chrono>
#include <fstream>
#include <memory>
#include <thread>

#include "harness/raw_client.hpp"
#include "harness/test_server.hpp"
#include "register_test_util.hpp"
#include "test_util.hpp"

using namespace parley;
using namespace parley::test;

namespace {

constexpr const char* kNumber = "+12015550123";
constexpr const char* kOther = "+12015550124";

}  // namespace

TEST_CASE("register: the form and the stream feature are offered after TLS only") {
  TestServer server(register_options());
  RawClient client(server.starttls_port());
  xml::Element plain = client.open_stream();
  CHECK(plain.first_child("register", kRegisterFeature) == nullptr);
  // RFC 6120 would close the stream; XEP-0077 answers, but refuses without TLS.
  xml::Element refused = ask(client, "", "<query xmlns='jabber:iq:register'/>");
  CHECK(refused.attr("type") == "error");
  CHECK(condition_of(refused, kStanzaErrors) == "policy-violation");

  xml::Element features = client.starttls();
  CHECK(features.first_child("register", kRegisterFeature) != nullptr);
  xml::Element form = ask(client, "", "<query xmlns='jabber:iq:register'/>");
  REQUIRE(form.attr("type") == "result");
  const xml::Element* x = form.first_child("query", kRegisterNs)->first_child("x", kDataNs);
  REQUIRE(x);
  CHECK(x->attr("type") == "form");
  CHECK(field_value(*x, "FORM_TYPE") == "jabber:iq:register");
  CHECK(has_field(*x, "phone"));
  CHECK(has_field(*x, "password"));
  CHECK_FALSE(has_field(*x, "username"));  // username = "phone" (the default)
}

TEST_CASE("register: a phone number and its SMS code create the account") {
  TestServer server(register_options());
  auto client = tls_client(server);
  xml::Element step1 = ask(*client, "", signup_form(kNumber, "s3cret pass"), "set");
  REQUIRE(step1.attr("type") == "result");
  const xml::Element* x = step1.first_child("query", kRegisterNs)->first_child("x", kDataNs);
  REQUIRE(x);
  CHECK(field_value(*x, "phone") == kNumber);
  CHECK(field_type(*x, "phone") == "hidden");
  CHECK(has_field(*x, "code"));
  std::string code = last_code(server, kNumber);
  REQUIRE(code.size() == 6);
  CHECK(account_count(server, kNumber) == 0);  // nothing exists before the code

  xml::Element step2 = ask(*client, "", code_form(kNumber, code), "set");
  CHECK(step2.attr("type") == "result");
  CHECK(account_count(server, kNumber) == 1);
  CHECK(db_value(server, "SELECT number FROM phone_numbers WHERE username = '+12015550123'") == kNumber);
  CHECK(db_value(server, "SELECT count(*) FROM phone_verifications") == "0");

  RawClient login(server.starttls_port());
  CHECK(login.login(kNumber, "s3cret pass", "phone") == std::string(kNumber) + "@localhost/phone");
  // Issue 4: nothing in the log lets a reader take the account over.
  CHECK(server.log().find(code) == std::string::npos);
  CHECK(server.log().find("s3cret") == std::string::npos);

  SUBCASE("the code cannot be used twice") {
    xml::Element again = ask(*client, "", code_form(kNumber, code), "set");
    CHECK(condition_of(again, kStanzaErrors) == "not-authorized");
    CHECK(error_text(again) == "no code is pending for this number; ask for a new one");
  }
}

TEST_CASE("register: a wrong code creates nothing and counts a try") {
  TestServer server(register_options());
  auto client = tls_client(server);
  REQUIRE(ask(*client, "", signup_form(kNumber, "pass_word-9"), "set").attr("type") == "result");
  std::string code = last_code(server, kNumber);
  std::string wrong = code == "000000" ? "111111" : "000000";
  xml::Element answer = ask(*client, "", code_form(kNumber, wrong), "set");
  CHECK(condition_of(answer, kStanzaErrors) == "not-authorized");
  CHECK(error_text(answer) == "wrong code; 4 tries left");
  CHECK(account_count(server, kNumber) == 0);
  CHECK(db_value(server, "SELECT tries FROM phone_verifications") == "1");
  // Stored hashed (salt$sha256), and the password only as SCRAM keys.
  std::string stored = db_value(server, "SELECT code_hash FROM phone_verifications");
  CHECK(stored.size() == 32 + 1 + 64);
  CHECK(stored.find(code) == std::string::npos);
  // '_' and '-' are not in base64's alphabet: the password would show.
  CHECK(db_value(server, "SELECT count(*) FROM phone_verifications WHERE credentials LIKE '%word-9%'") == "0");
  CHECK(db_value(server, "SELECT count(*) FROM phone_verifications WHERE credentials LIKE 'SHA-1 %'") == "1");
  // The right code still works within the tries.
  CHECK(ask(*client, "", code_form(kNumber, code), "set").attr("type") == "result");
}

TEST_CASE("register: an expired code creates nothing") {
  TestServer server(register_options());
  auto client = tls_client(server);
  REQUIRE(ask(*client, "", signup_form(kNumber, "pw"), "set").attr("type") == "result");
  std::string code = last_code(server, kNumber);
  db_exec(server, "UPDATE phone_verifications SET expires_at = now() - interval '1 second'");
  xml::Element answer = ask(*client, "", code_form(kNumber, code), "set");
  CHECK(condition_of(answer, kStanzaErrors) == "not-authorized");
  CHECK(error_text(answer) == "the code has expired; ask for a new one");
  CHECK(account_count(server, kNumber) == 0);
  CHECK(db_value(server, "SELECT count(*) FROM phone_verifications") == "0");
}

TEST_CASE("register: after five wrong codes even the right one is refused") {
  TestServer server(register_options());
  auto client = tls_client(server);
  REQUIRE(ask(*client, "", signup_form(kNumber, "pw"), "set").attr("type") == "result");
  std::string code = last_code(server, kNumber);
  std::string wrong = code == "000000" ? "111111" : "000000";
  for (int i = 0; i < 5; ++i) {
    xml::Element answer = ask(*client, "", code_form(kNumber, wrong), "set");
    CHECK(error_text(answer) == "wrong code; " + std::to_string(4 - i) + " tries left");
  }
  xml::Element answer = ask(*client, "", code_form(kNumber, code), "set");
  CHECK(condition_of(answer, kStanzaErrors) == "policy-violation");
  CHECK(error_text(answer) == "too many wrong codes; ask for a new one");
  CHECK(account_count(server, kNumber) == 0);
}

TEST_CASE("register: a second code for the number waits for the cooldown") {
  TestServer server(register_options());
  auto client = tls_client(server);
  REQUIRE(ask(*client, "", signup_form(kNumber, "pw"), "set").attr("type") == "result");
  xml::Element again = ask(*client, "", signup_form(kNumber, "pw"), "set");
  CHECK(condition_of(again, kStanzaErrors) == "resource-constraint");
  CHECK(again.first_child("error")->attr("type") == "wait");
  CHECK(error_text(again).find("retry in 6") != std::string::npos);  // 60 s, or 59 after a rounding
  CHECK(outbox_lines(server) == 1);
  db_exec(server, "UPDATE phone_verifications SET sent_at = now() - interval '61 seconds'");
  CHECK(ask(*client, "", signup_form(kNumber, "pw"), "set").attr("type") == "result");
  CHECK(outbox_lines(server) == 2);
}

TEST_CASE("register: hourly limits per number, per IP and per host") {
  SUBCASE("per number") {
    TestServer server(register_options("resend_cooldown = \"0s\"\nmax_sms_per_number = 2\n"));
    auto client = tls_client(server);
    for (int i = 0; i < 2; ++i) REQUIRE(ask(*client, "", signup_form(kNumber, "pw"), "set").attr("type") == "result");
    xml::Element refused = ask(*client, "", signup_form(kNumber, "pw"), "set");
    CHECK(condition_of(refused, kStanzaErrors) == "policy-violation");
    CHECK(error_text(refused) == "too many codes for this number this hour; retry in 60 minutes");
    CHECK(outbox_lines(server) == 2);
    // An hour later the window has passed, and the old sends are pruned.
    db_exec(server, "UPDATE sms_sends SET sent_at = now() - interval '61 minutes'");
    CHECK(ask(*client, "", signup_form(kNumber, "pw"), "set").attr("type") == "result");
    CHECK(db_value(server, "SELECT count(*) FROM sms_sends") == "1");
  }
  SUBCASE("per IP") {
    TestServer server(register_options("max_sms_per_ip = 1\n"));
    auto client = tls_client(server);
    REQUIRE(ask(*client, "", signup_form(kNumber, "pw"), "set").attr("type") == "result");
    xml::Element refused = ask(*client, "", signup_form(kOther, "pw"), "set");
    CHECK(condition_of(refused, kStanzaErrors) == "policy-violation");
    CHECK(error_text(refused) == "too many codes requested from your address this hour; retry in 60 minutes");
  }
  SUBCASE("per host") {
    TestServer server(register_options("max_sms_per_host = 1\n"));
    auto client = tls_client(server);
    REQUIRE(ask(*client, "", signup_form(kNumber, "pw"), "set").attr("type") == "result");
    db_exec(server, "UPDATE sms_sends SET ip = '192.0.2.1'");  // as if another client had asked
    xml::Element refused = ask(*client, "", signup_form(kOther, "pw"), "set");
    CHECK(condition_of(refused, kStanzaErrors) == "policy-violation");
    CHECK(error_text(refused) == "this server sent too many codes this hour; retry in 60 minutes");
  }
}

TEST_CASE("register: numbers libphonenumber rejects, and missing fields") {
  TestServer server(register_options());
  auto client = tls_client(server);
  for (const char* bad : {"12345", "+1 555", "not a number", "+999123456789"}) {
    xml::Element answer = ask(*client, "", signup_form(bad, "pw"), "set");
    CHECK(condition_of(answer, kStanzaErrors) == "not-acceptable");
    CHECK(error_text(answer) == std::string("'") + bad + "' is not a valid phone number");
  }
  CHECK(condition_of(ask(*client, "", signup_form(kNumber, ""), "set"), kStanzaErrors) == "not-acceptable");
  // Old-style XEP-0077 fields without the form: this server needs the form.
  xml::Element legacy = ask(*client, "",
                            "<query xmlns='jabber:iq:register'><username>a</username><password>b</password></query>",
                            "set");
  CHECK(condition_of(legacy, kStanzaErrors) == "bad-request");
  CHECK(outbox_lines(server) == 0);
  // A national number is read with the default region (US).
  CHECK(ask(*client, "", signup_form("(201) 555-0123", "pw"), "set").attr("type") == "result");
  CHECK(last_code(server, kNumber).size() == 6);
}

TEST_CASE("register: refused when registration is disabled for the host") {
  TestServer server(register_options("allow_registration = false\n"));
  RawClient client(server.starttls_port());
  client.open_stream();
  xml::Element features = client.starttls();
  CHECK(features.first_child("register", kRegisterFeature) == nullptr);
  xml::Element answer = ask(client, "", signup_form(kNumber, "pw"), "set");
  CHECK(condition_of(answer, kStanzaErrors) == "not-allowed");
  CHECK(error_text(answer) == "registration is disabled on this server");
  CHECK(outbox_lines(server) == 0);
}

TEST_CASE("register: one account per number; with usernames, a taken number is a conflict") {
  TestServer server(register_options("username = \"choose\"\n"));
  auto client = tls_client(server);
  sign_up(server, *client, kNumber, "pw", "alice");
  CHECK(account_count(server, "alice") == 1);
  xml::Element dup = ask(*client, "", signup_form(kNumber, "pw2", "bob"), "set");
  CHECK(condition_of(dup, kStanzaErrors) == "conflict");
  CHECK(error_text(dup) == "this phone number already belongs to an account");
  CHECK(account_count(server, "bob") == 0);
  // A taken username is a conflict before any SMS is sent.
  xml::Element taken = ask(*client, "", signup_form(kOther, "pw", "alice"), "set");
  CHECK(condition_of(taken, kStanzaErrors) == "conflict");
  CHECK(error_text(taken) == "that username is taken");
  CHECK(outbox_lines(server) == 1);
}

TEST_CASE("register: the same flow resets the password of the number's account") {
  TestServer server(register_options());
  auto client = tls_client(server);
  sign_up(server, *client, kNumber, "old password");
  {
    // A login puts the old credentials in the server's cache (auth.credential_cache).
    RawClient cached(server.starttls_port());
    CHECK_NOTHROW(cached.login(kNumber, "old password"));
  }
  sign_up(server, *client, kNumber, "new password");
  CHECK(account_count(server, kNumber) == 1);
  RawClient old_login(server.starttls_port());
  old_login.open_stream();
  old_login.starttls();
  CHECK(old_login.authenticate("SCRAM-SHA-256", kNumber, "old password").name() == "failure");
  RawClient new_login(server.starttls_port());
  CHECK_NOTHROW(new_login.login(kNumber, "new password"));
}

TEST_CASE("register: reset works while new registrations are disabled") {
  TestServer server(register_options("allow_registration = false\n"));
  server.add_user("carol@localhost", "old");
  db_exec(server, "INSERT INTO phone_numbers (host, username, number) VALUES ('localhost', 'carol', '+12015550123')");
  auto client = tls_client(server);
  sign_up(server, *client, kNumber, "new");
  RawClient login(server.starttls_port());
  CHECK_NOTHROW(login.login("carol", "new"));
}

TEST_CASE("register: parleyctl user add --phone and sms test") {
  TestServer server(register_options());
  std::string out;
  CHECK(server.parleyctl({"user", "add", "dave@localhost", "--phone", "(201) 555-0126"}, out, "pw\n") == 0);
  CHECK(db_value(server, "SELECT number FROM phone_numbers WHERE username = 'dave'") == "+12015550126");
  // The number is taken: nothing is created (one transaction).
  out.clear();
  CHECK(server.parleyctl({"user", "add", "erin@localhost", "--phone", "+12015550126"}, out, "pw\n") == 1);
  CHECK(out.find("+12015550126 already belongs to dave@localhost") != std::string::npos);
  CHECK(account_count(server, "erin") == 0);
  out.clear();
  CHECK(server.parleyctl({"user", "add", "erin@localhost", "--phone", "12"}, out, "pw\n") == 1);
  CHECK(account_count(server, "erin") == 0);
  out.clear();
  CHECK(server.parleyctl({"user", "add", "erin@localhost", "--fax", "1"}, out, "pw\n") == 2);

  out.clear();
  CHECK(server.parleyctl({"sms", "test", "+12015550127"}, out) == 0);
  CHECK(out.find("sent a test SMS to +12015550127 through the outbox gateway") != std::string::npos);
  std::vector<std::string> lines = outbox(server);
  REQUIRE(lines.size() == 1);
  CHECK(lines[0].find("\t+12015550127\tParley SMS gateway test for localhost") != std::string::npos);
  out.clear();
  CHECK(server.parleyctl({"sms", "test", "nope"}, out) == 2);
}

TEST_CASE("register: with one_account_per_number = false, a number may have several accounts") {
  TestServer server(register_options("username = \"choose\"\none_account_per_number = false\n"));
  auto client = tls_client(server);
  sign_up(server, *client, kNumber, "a-pw", "alice");
  sign_up(server, *client, kNumber, "b-pw", "bob");
  CHECK(db_value(server, "SELECT count(*) FROM phone_numbers WHERE number = '+12015550123'") == "2");
  // Naming one of them resets that one's password only.
  sign_up(server, *client, kNumber, "b-new", "bob");
  RawClient bob(server.starttls_port());
  CHECK_NOTHROW(bob.login("bob", "b-new"));
  RawClient alice(server.starttls_port());
  CHECK_NOTHROW(alice.login("alice", "a-pw"));
}

TEST_CASE("register: no account stays without its number") {
  TestServer server(register_options());
  // The number's row cannot be written (a trigger in the test database).
  db_exec(server,
          "CREATE FUNCTION refuse() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'refused'; END $$ LANGUAGE plpgsql");
  db_exec(server, "CREATE TRIGGER refuse BEFORE INSERT ON phone_numbers FOR EACH ROW EXECUTE FUNCTION refuse()");
  auto client = tls_client(server);
  REQUIRE(ask(*client, "", signup_form(kNumber, "pw"), "set").attr("type") == "result");
  xml::Element answer = ask(*client, "", code_form(kNumber, last_code(server, kNumber)), "set");
  CHECK(condition_of(answer, kStanzaErrors) == "service-unavailable");
  CHECK(error_text(answer) == "the account could not be created; please sign up again");
  // One transaction: the account and its credentials were never committed.
  CHECK(account_count(server, kNumber) == 0);
  CHECK(db_value(server, "SELECT count(*) FROM account_scram") == "0");
}

TEST_CASE("register: a sign-up waiting for its code outlives c2s.negotiation_timeout; an idle stream does not") {
  ServerOptions options = register_options();
  options.c2s_config = "negotiation_timeout = \"2s\"\n";
  TestServer server(options);
  auto client = tls_client(server);
  auto idle = tls_client(server);
  REQUIRE(ask(*client, "", "<query xmlns='jabber:iq:register'/>").attr("type") == "result");
  REQUIRE(ask(*client, "", signup_form(kNumber, "pw"), "set").attr("type") == "result");
  // The user reads the SMS for longer than the negotiation timeout: the
  // stream stays open for the code's lifetime (modules.register.code_ttl).
  std::this_thread::sleep_for(std::chrono::milliseconds(3500));
  xml::Element done = ask(*client, "", code_form(kNumber, last_code(server, kNumber)), "set");
  CHECK(done.attr("type") == "result");
  // The other stream said nothing after TLS and was closed after 2 s.
  std::optional<xml::Element> error = idle->next_named("error", 1000);
  REQUIRE(error);
  CHECK(RawClient::stream_error_condition(*error) == "connection-timeout");
}

TEST_CASE("register: a refused sign-up does not keep the unauthenticated stream open") {
  ServerOptions options = register_options();
  options.c2s_config = "negotiation_timeout = \"2s\"\n";
  TestServer server(options);
  auto client = tls_client(server);
  xml::Element refused = ask(*client, "", signup_form("bogus", "pw"), "set");
  CHECK(condition_of(refused, kStanzaErrors) == "not-acceptable");
  // Within 2 s of that answer (and some slack), not after the code's lifetime.
  std::optional<xml::Element> error = client->next_named("error", 3500);
  REQUIRE(error);
  CHECK(RawClient::stream_error_condition(*error) == "connection-timeout");
}
