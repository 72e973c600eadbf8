#include "modules/register/phone.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <phonenumbers/phonenumberutil.h>

namespace parley::modules::phone {

namespace {

std::string hex(const unsigned char* data, size_t size) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (size_t i = 0; i < size; ++i) {
    out += kHex[data[i] >> 4];
    out += kHex[data[i] & 15];
  }
  return out;
}

std::string digest(std::string_view salt, std::string_view number, std::string_view code) {
  std::string input = std::string(salt) + "|" + std::string(number) + "|" + std::string(code);
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  EVP_Digest(input.data(), input.size(), out, &size, EVP_sha256(), nullptr);
  return hex(out, size);
}

}  // namespace

std::optional<std::string> normalise(std::string_view text, const std::string& default_region) {
  using i18n::phonenumbers::PhoneNumber;
  using i18n::phonenumbers::PhoneNumberUtil;
  // The library's shared instance is built once and is safe to use from any thread.
  const PhoneNumberUtil* util = PhoneNumberUtil::GetInstance();
  if (text.empty() || text.size() > 64) return std::nullopt;
  PhoneNumber number;
  if (util->Parse(std::string(text), default_region, &number) != PhoneNumberUtil::NO_PARSING_ERROR) {
    return std::nullopt;
  }
  if (!util->IsValidNumber(number)) return std::nullopt;
  std::string e164;
  util->Format(number, PhoneNumberUtil::E164, &e164);
  return e164;
}

std::string masked(std::string_view e164) {
  if (e164.size() <= 5) return "***";
  return std::string(e164.substr(0, 3)) + std::string(e164.size() - 5, '*') + std::string(e164.substr(e164.size() - 2));
}

std::string make_code(int digits) {
  std::string code;
  while (static_cast<int>(code.size()) < digits) {
    unsigned char byte = 0;
    if (RAND_bytes(&byte, 1) != 1) throw std::runtime_error("the CSPRNG failed");
    if (byte >= 250) continue;  // 250 = 25 * 10: keep the digits uniform
    code += static_cast<char>('0' + byte % 10);
  }
  return code;
}

std::string hash_code(std::string_view number, std::string_view code) {
  unsigned char salt[16];
  if (RAND_bytes(salt, sizeof salt) != 1) throw std::runtime_error("the CSPRNG failed");
  std::string salt_hex = hex(salt, sizeof salt);
  return salt_hex + "$" + digest(salt_hex, number, code);
}

bool code_matches(std::string_view stored, std::string_view number, std::string_view code) {
  size_t dollar = stored.find('$');
  if (dollar == std::string_view::npos) return false;
  std::string expected = digest(stored.substr(0, dollar), number, code);
  std::string_view actual = stored.substr(dollar + 1);
  return expected.size() == actual.size() && CRYPTO_memcmp(expected.data(), actual.data(), actual.size()) == 0;
}

}  // namespace parley::modules::phone
