#include <doctest/doctest.h>

#include <string>

#include "scram_client.hpp"

using namespace parley::bench;

// RFC 5802 §5 example exchange.
TEST_CASE("SCRAM-SHA-1 client reproduces the RFC 5802 exchange") {
  SaltedPasswordCache cache;
  ScramClient client(ScramHash::sha1, "user", "pencil", "fyko+d2lbbFgONRv9qkxdawL", cache);
  CHECK(client.client_first() == "n,,n=user,r=fyko+d2lbbFgONRv9qkxdawL");
  auto final_message =
      client.client_final("r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096");
  REQUIRE(final_message);
  CHECK(*final_message == "c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=");
  CHECK(client.verify_server_final("v=rmF9pqV8S7suAoZWja4dJRkFsKQ="));
  CHECK_FALSE(client.verify_server_final("v=rmF9pqV8S7suAoZWja4dJRkFsKA="));
}

// RFC 7677 §3 example exchange.
TEST_CASE("SCRAM-SHA-256 client reproduces the RFC 7677 exchange") {
  SaltedPasswordCache cache;
  ScramClient client(ScramHash::sha256, "user", "pencil", "rOprNGfwEbeRWgbNEkqO", cache);
  auto final_message = client.client_final(
      "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096");
  REQUIRE(final_message);
  CHECK(*final_message ==
        "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=");
  CHECK(client.verify_server_final("v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="));
}

TEST_CASE("SCRAM client rejects a server nonce that does not extend its own") {
  SaltedPasswordCache cache;
  ScramClient client(ScramHash::sha1, "user", "pencil", "abc", cache);
  CHECK_FALSE(client.client_final("r=xyzdef,s=QSXCR+Q6sek8bf92,i=4096"));
  CHECK_FALSE(client.client_final("r=abc,s=QSXCR+Q6sek8bf92,i=4096"));  // must add server nonce
  CHECK_FALSE(client.client_final("r=abcdef,s=QSXCR+Q6sek8bf92,i=x"));
  CHECK_FALSE(client.verify_server_final("v=rmF9pqV8S7suAoZWja4dJRkFsKQ="));  // no exchange yet
}

TEST_CASE("base64 round-trips and rejects bad lengths") {
  CHECK(base64_encode("n,,") == "biws");
  CHECK(base64_encode("ab") == "YWI=");
  CHECK(base64_decode("YWI=") == std::string("ab"));
  CHECK(base64_decode("YQ==") == std::string("a"));
  CHECK(base64_decode("") == std::string());
  CHECK_FALSE(base64_decode("YWI"));
}

TEST_CASE("mechanism names map to hashes") {
  CHECK(scram_hash_from_mechanism("SCRAM-SHA-256") == ScramHash::sha256);
  CHECK_FALSE(scram_hash_from_mechanism("PLAIN"));
  CHECK(mechanism_name(ScramHash::sha512) == "SCRAM-SHA-512");
}
