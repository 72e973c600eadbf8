#include "scram_client.hpp"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <vector>

namespace parley::bench {
namespace {

const EVP_MD* digest(ScramHash hash) {
  switch (hash) {
    case ScramHash::sha1: return EVP_sha1();
    case ScramHash::sha256: return EVP_sha256();
    case ScramHash::sha512: return EVP_sha512();
  }
  return EVP_sha1();
}

std::string hmac(ScramHash hash, std::string_view key, std::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(digest(hash), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), out, &len);
  return std::string(reinterpret_cast<char*>(out), len);
}

std::string plain_hash(ScramHash hash, std::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), out, &len, digest(hash), nullptr);
  return std::string(reinterpret_cast<char*>(out), len);
}

// RFC 5802 §5.1: ',' and '=' in the user name are escaped as =2C and =3D.
std::string escape_username(std::string_view name) {
  std::string out;
  for (char c : name) {
    if (c == ',') out += "=2C";
    else if (c == '=') out += "=3D";
    else out += c;
  }
  return out;
}

// Value of attribute `key` ("r", "s", "i", "v") in a SCRAM message.
std::optional<std::string_view> attribute(std::string_view message, char key) {
  std::size_t pos = 0;
  while (pos < message.size()) {
    std::size_t end = message.find(',', pos);
    if (end == std::string_view::npos) end = message.size();
    std::string_view part = message.substr(pos, end - pos);
    if (part.size() >= 2 && part[0] == key && part[1] == '=') return part.substr(2);
    pos = end + 1;
  }
  return std::nullopt;
}

constexpr std::string_view gs2_header = "n,,";

}  // namespace

std::optional<ScramHash> scram_hash_from_mechanism(std::string_view mechanism) {
  if (mechanism == "SCRAM-SHA-1") return ScramHash::sha1;
  if (mechanism == "SCRAM-SHA-256") return ScramHash::sha256;
  if (mechanism == "SCRAM-SHA-512") return ScramHash::sha512;
  return std::nullopt;
}

std::string_view mechanism_name(ScramHash hash) {
  switch (hash) {
    case ScramHash::sha1: return "SCRAM-SHA-1";
    case ScramHash::sha256: return "SCRAM-SHA-256";
    case ScramHash::sha512: return "SCRAM-SHA-512";
  }
  return "SCRAM-SHA-1";
}

std::string hmac_sha256(std::string_view key, std::string_view data) { return hmac(ScramHash::sha256, key, data); }

std::string base64_encode(std::string_view bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(bytes.data()), static_cast<int>(bytes.size()));
  out.resize(static_cast<std::size_t>(n));
  return out;
}

std::optional<std::string> base64_decode(std::string_view text) {
  std::string clean;
  for (char c : text) {
    if (c != ' ' && c != '\n' && c != '\r' && c != '\t') clean += c;
  }
  if (clean.size() % 4 != 0) return std::nullopt;
  if (clean.empty()) return std::string();
  std::string out(clean.size() / 4 * 3, '\0');
  const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(clean.data()), static_cast<int>(clean.size()));
  if (n < 0) return std::nullopt;
  // EVP_DecodeBlock counts padding as zero bytes; drop them.
  std::size_t padding = 0;
  if (clean.back() == '=') ++padding;
  if (clean.size() >= 2 && clean[clean.size() - 2] == '=') ++padding;
  out.resize(static_cast<std::size_t>(n) - padding);
  return out;
}

const std::string& SaltedPasswordCache::get(ScramHash hash, std::string_view password, std::string_view salt,
                                            unsigned iterations) {
  auto key = std::make_tuple(hash, std::string(password), std::string(salt), iterations);
  auto it = entries_.find(key);
  if (it != entries_.end()) return it->second;
  std::string out(static_cast<std::size_t>(EVP_MD_get_size(digest(hash))), '\0');
  // RFC 5802 §3: SaltedPassword := Hi(Normalize(password), salt, i), which is PBKDF2.
  PKCS5_PBKDF2_HMAC(password.data(), static_cast<int>(password.size()),
                    reinterpret_cast<const unsigned char*>(salt.data()), static_cast<int>(salt.size()),
                    static_cast<int>(iterations), digest(hash), static_cast<int>(out.size()),
                    reinterpret_cast<unsigned char*>(out.data()));
  return entries_.emplace(std::move(key), std::move(out)).first->second;
}

ScramClient::ScramClient(ScramHash hash, std::string username, std::string password, std::string nonce,
                         SaltedPasswordCache& cache)
    : hash_(hash), username_(std::move(username)), password_(std::move(password)), nonce_(std::move(nonce)),
      cache_(cache) {}

std::string ScramClient::client_first() const {
  return std::string(gs2_header) + "n=" + escape_username(username_) + ",r=" + nonce_;
}

std::optional<std::string> ScramClient::client_final(std::string_view server_first) {
  auto nonce = attribute(server_first, 'r');
  auto salt_b64 = attribute(server_first, 's');
  auto iter_text = attribute(server_first, 'i');
  if (!nonce || !salt_b64 || !iter_text) return std::nullopt;
  // RFC 5802 §5.1: the server's nonce must start with ours.
  if (nonce->size() <= nonce_.size() || nonce->substr(0, nonce_.size()) != nonce_) return std::nullopt;
  auto salt = base64_decode(*salt_b64);
  if (!salt || salt->empty()) return std::nullopt;
  unsigned iterations = 0;
  for (char c : *iter_text) {
    if (c < '0' || c > '9' || iterations > 10'000'000) return std::nullopt;
    iterations = iterations * 10 + static_cast<unsigned>(c - '0');
  }
  if (iterations == 0) return std::nullopt;

  const std::string& salted = cache_.get(hash_, password_, *salt, iterations);
  const std::string client_key = hmac(hash_, salted, "Client Key");
  const std::string stored_key = plain_hash(hash_, client_key);
  const std::string without_proof = "c=" + base64_encode(gs2_header) + ",r=" + std::string(*nonce);
  const std::string auth_message =
      client_first().substr(gs2_header.size()) + "," + std::string(server_first) + "," + without_proof;
  std::string proof = hmac(hash_, stored_key, auth_message);
  for (std::size_t i = 0; i < proof.size(); ++i) proof[i] = static_cast<char>(proof[i] ^ client_key[i]);
  expected_server_signature_ = hmac(hash_, hmac(hash_, salted, "Server Key"), auth_message);
  return without_proof + ",p=" + base64_encode(proof);
}

bool ScramClient::verify_server_final(std::string_view server_final) const {
  auto v = attribute(server_final, 'v');
  if (!v || expected_server_signature_.empty()) return false;
  auto signature = base64_decode(*v);
  return signature && *signature == expected_server_signature_;
}

}  // namespace parley::bench
