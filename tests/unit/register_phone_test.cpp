// The register module's pure pieces: E.164 normalisation through
// libphonenumber, codes and their hashes, masking for logs, SMS templates,
// and the text form of SCRAM credentials kept with a pending sign-up.
#include <doctest/doctest.h>

#include <set>

#include "modules/register/phone.hpp"
#include "modules/register/sms/gateway.hpp"
#include "xmpp/accounts.hpp"

using namespace parley;
using namespace parley::modules;

TEST_CASE("phone numbers are normalised to E.164 or refused") {
  CHECK(phone::normalise("+12015550123", "US") == "+12015550123");
  CHECK(phone::normalise("(201) 555-0123", "US") == "+12015550123");
  CHECK(phone::normalise("+44 20 7946 0958", "US") == "+442079460958");
  CHECK(phone::normalise("020 7946 0958", "GB") == "+442079460958");
  CHECK_FALSE(phone::normalise("020 7946 0958", "US"));
  CHECK_FALSE(phone::normalise("12345", "US"));
  CHECK_FALSE(phone::normalise("", "US"));
  CHECK_FALSE(phone::normalise("not a number", "US"));
  CHECK_FALSE(phone::normalise(std::string(100, '1'), "US"));
}

TEST_CASE("codes are decimal, of the asked length, and vary") {
  std::set<std::string> seen;
  for (int i = 0; i < 50; ++i) {
    std::string code = phone::make_code(6);
    REQUIRE(code.size() == 6);
    CHECK(code.find_first_not_of("0123456789") == std::string::npos);
    seen.insert(code);
  }
  CHECK(seen.size() > 45);
  CHECK(phone::make_code(10).size() == 10);
}

TEST_CASE("codes are stored salted and hashed, and checked against number and code") {
  std::string stored = phone::hash_code("+12015550123", "123456");
  CHECK(stored.find("123456") == std::string::npos);
  CHECK(stored != phone::hash_code("+12015550123", "123456"));  // a fresh salt each time
  CHECK(phone::code_matches(stored, "+12015550123", "123456"));
  CHECK_FALSE(phone::code_matches(stored, "+12015550123", "123457"));
  CHECK_FALSE(phone::code_matches(stored, "+12015550124", "123456"));
  CHECK_FALSE(phone::code_matches("garbage", "+12015550123", "123456"));
}

TEST_CASE("numbers are masked for logs") {
  CHECK(phone::masked("+12015550123") == "+12*******23");
  CHECK(phone::masked("+123") == "***");
}

TEST_CASE("SMS templates replace {number} and {text}, escaped as asked") {
  CHECK(sms::expand("To={number}&Body={text}", "+1", "a b") == "To=+1&Body=a b");
  CHECK(sms::expand("{text}{text}", "n", "x") == "xx");
  auto upper = [](std::string_view v) {
    std::string out(v);
    for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    return out;
  };
  CHECK(sms::expand("{number}:{text}", "ab", "cd", +upper) == "AB:CD");
  CHECK(sms::expand("{unknown} {numb", "n", "t") == "{unknown} {numb");
}

TEST_CASE("SCRAM credentials survive their text form; a password SASLprep forbids has none") {
  std::optional<xmpp::AccountCredentials> credentials = xmpp::derive_account_credentials("pencil", 4096);
  REQUIRE(credentials);
  CHECK(credentials->scram.size() == 3);
  std::optional<xmpp::AccountCredentials> back = xmpp::AccountCredentials::from_text(credentials->to_text());
  REQUIRE(back);
  REQUIRE(back->scram.size() == 3);
  for (size_t i = 0; i < 3; ++i) {
    CHECK(back->scram[i].hash == credentials->scram[i].hash);
    CHECK(back->scram[i].salt == credentials->scram[i].salt);
    CHECK(back->scram[i].iterations == 4096);
    CHECK(back->scram[i].stored_key == credentials->scram[i].stored_key);
    CHECK(back->scram[i].server_key == credentials->scram[i].server_key);
  }
  CHECK(credentials->to_text().find("pencil") == std::string::npos);
  CHECK_FALSE(xmpp::AccountCredentials::from_text("SHA-1 !!! 1 x y\n"));
  CHECK_FALSE(xmpp::derive_account_credentials("", 4096));
  CHECK_FALSE(xmpp::derive_account_credentials(std::string("a\x07", 2), 4096));
}
