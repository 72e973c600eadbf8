#include "xmpp/sasl/scram_crypto.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <climits>
#include <stdexcept>

namespace parley::xmpp::sasl {
namespace {

const EVP_MD* evp_md(ScramHash hash) {
    switch (hash) {
        case ScramHash::Sha1: return EVP_sha1();
        case ScramHash::Sha256: return EVP_sha256();
        case ScramHash::Sha512: return EVP_sha512();
    }
    return EVP_sha256();
}

const unsigned char* bytes_of(std::string_view s) {
    return reinterpret_cast<const unsigned char*>(s.data());
}

}  // namespace

std::size_t scram_digest_size(ScramHash hash) {
    switch (hash) {
        case ScramHash::Sha1: return 20;
        case ScramHash::Sha256: return 32;
        case ScramHash::Sha512: return 64;
    }
    return 32;
}

std::string scram_digest(ScramHash hash, std::string_view data) {
    std::string out(scram_digest_size(hash), '\0');
    unsigned int length = 0;
    if (EVP_Digest(data.data(), data.size(), reinterpret_cast<unsigned char*>(out.data()), &length,
                   evp_md(hash), nullptr) != 1 ||
        length != out.size()) {
        throw std::runtime_error("EVP_Digest failed");
    }
    return out;
}

std::string scram_hmac(ScramHash hash, std::string_view key, std::string_view data) {
    if (key.size() > INT_MAX) throw std::invalid_argument("HMAC key too long");
    std::string out(scram_digest_size(hash), '\0');
    unsigned int length = 0;
    if (!HMAC(evp_md(hash), key.data(), static_cast<int>(key.size()), bytes_of(data), data.size(),
              reinterpret_cast<unsigned char*>(out.data()), &length) ||
        length != out.size()) {
        throw std::runtime_error("HMAC failed");
    }
    return out;
}

std::string scram_salted_password(ScramHash hash, std::string_view password,
                                  std::string_view salt, uint32_t iterations) {
    if (iterations == 0 || iterations > INT_MAX) {
        throw std::invalid_argument("SCRAM iteration count out of range");
    }
    if (password.size() > INT_MAX || salt.size() > INT_MAX) {
        throw std::invalid_argument("SCRAM password or salt too long");
    }
    std::string out(scram_digest_size(hash), '\0');
    if (PKCS5_PBKDF2_HMAC(password.data(), static_cast<int>(password.size()), bytes_of(salt),
                          static_cast<int>(salt.size()), static_cast<int>(iterations),
                          evp_md(hash), static_cast<int>(out.size()),
                          reinterpret_cast<unsigned char*>(out.data())) != 1) {
        throw std::runtime_error("PKCS5_PBKDF2_HMAC failed");
    }
    return out;
}

std::string random_bytes(std::size_t count) {
    std::string out(count, '\0');
    if (count > INT_MAX ||
        RAND_bytes(reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(count)) != 1) {
        throw std::runtime_error("RAND_bytes failed");
    }
    return out;
}

bool constant_time_equal(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace parley::xmpp::sasl
