// Client side of SASL SCRAM (RFC 5802) without channel binding ("n,,"),
// for SCRAM-SHA-1 / -256 / -512 (RFC 7677). Just enough to log in.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>

namespace parley::bench {

enum class ScramHash { sha1, sha256, sha512 };

// "SCRAM-SHA-1" and so on; nullopt for anything else.
std::optional<ScramHash> scram_hash_from_mechanism(std::string_view mechanism);
std::string_view mechanism_name(ScramHash hash);

std::string base64_encode(std::string_view bytes);
// HMAC-SHA-256, for the HT mechanisms of XEP-0484 FAST.
std::string hmac_sha256(std::string_view key, std::string_view data);
std::optional<std::string> base64_decode(std::string_view text);

// PBKDF2 results keyed by (hash, password, salt, iterations). Deriving the
// salted password costs thousands of HMACs; a load generator logging in the
// same password many times must not spend its CPU there, so clients of one
// run share this cache (it lives in the run's context, not in a global).
class SaltedPasswordCache {
 public:
  const std::string& get(ScramHash hash, std::string_view password, std::string_view salt, unsigned iterations);

 private:
  std::map<std::tuple<ScramHash, std::string, std::string, unsigned>, std::string> entries_;
};

class ScramClient {
 public:
  // nonce: printable client nonce without ','.
  ScramClient(ScramHash hash, std::string username, std::string password, std::string nonce,
              SaltedPasswordCache& cache);

  // The initial response: gs2 header + client-first-message-bare.
  std::string client_first() const;

  // Takes server-first-message; returns client-final-message, or nullopt
  // when the server's message is invalid (nonce not extending ours, bad salt).
  std::optional<std::string> client_final(std::string_view server_first);

  // Checks the server signature in server-final-message ("v=...").
  bool verify_server_final(std::string_view server_final) const;

 private:
  ScramHash hash_;
  std::string username_;
  std::string password_;
  std::string nonce_;
  SaltedPasswordCache& cache_;
  std::string expected_server_signature_;
};

}  // namespace parley::bench
