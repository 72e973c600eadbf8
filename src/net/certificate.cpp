#include "net/certificate.hpp"

#include "net/tls_context.hpp"

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <memory>

namespace parley::net {

namespace {

struct PkeyFree {
    void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
struct X509Free {
    void operator()(X509* p) const { X509_free(p); }
};
struct FileClose {
    void operator()(FILE* f) const { std::fclose(f); }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyFree>;
using X509Ptr = std::unique_ptr<X509, X509Free>;
using FilePtr = std::unique_ptr<FILE, FileClose>;

constexpr long seconds_per_day = 24 * 60 * 60;

// Private keys are written owner-only from the start (no chmod race).
FilePtr open_for_write(const std::filesystem::path& path, bool secret) {
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, secret ? 0600 : 0644);
    if (fd < 0) return nullptr;
    FILE* f = ::fdopen(fd, "w");
    if (f == nullptr) ::close(fd);
    return FilePtr(f);
}

bool write_pem(const std::filesystem::path& key_out, EVP_PKEY* key, const std::filesystem::path& cert_out,
               X509* cert, std::string& error) {
    FilePtr key_file = open_for_write(key_out, true);
    if (!key_file || PEM_write_PrivateKey(key_file.get(), key, nullptr, nullptr, 0, nullptr, nullptr) != 1) {
        error = "cannot write " + key_out.string();
        return false;
    }
    FilePtr cert_file = open_for_write(cert_out, false);
    if (!cert_file || PEM_write_X509(cert_file.get(), cert) != 1) {
        error = "cannot write " + cert_out.string();
        return false;
    }
    return true;
}

bool add_extension(X509* cert, X509V3_CTX& ctx, int nid, const std::string& value) {
    X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
    if (ext == nullptr) return false;
    const bool ok = X509_add_ext(cert, ext, -1) == 1;
    X509_EXTENSION_free(ext);
    return ok;
}

// Fills version, a random 127-bit serial (RFC 5280 §4.1.2.2: positive, at most
// 20 octets), validity from one hour ago (clock skew), subject and key.
X509Ptr new_certificate(EVP_PKEY* key, const std::string& common_name, long valid_days) {
    X509Ptr cert(X509_new());
    if (!cert || X509_set_version(cert.get(), 2) != 1) return nullptr;
    BIGNUM* serial = BN_new();
    const bool serial_ok = serial != nullptr && BN_rand(serial, 127, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) == 1 &&
                           BN_to_ASN1_INTEGER(serial, X509_get_serialNumber(cert.get())) != nullptr;
    BN_free(serial);
    if (!serial_ok) return nullptr;
    X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);
    X509_gmtime_adj(X509_getm_notAfter(cert.get()), valid_days * seconds_per_day);
    X509_NAME* name = X509_get_subject_name(cert.get());
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                               reinterpret_cast<const unsigned char*>(common_name.c_str()), -1, -1, 0);
    if (X509_set_pubkey(cert.get(), key) != 1) return nullptr;
    return cert;
}

bool load_issuer(const CertificateAuthority& ca, PkeyPtr& key, X509Ptr& cert, std::string& error) {
    FilePtr key_file(std::fopen(ca.key_file.c_str(), "r"));
    if (key_file) key.reset(PEM_read_PrivateKey(key_file.get(), nullptr, nullptr, nullptr));
    FilePtr cert_file(std::fopen(ca.cert_file.c_str(), "r"));
    if (cert_file) cert.reset(PEM_read_X509(cert_file.get(), nullptr, nullptr, nullptr));
    if (!key || !cert) {
        error = "cannot load CA " + ca.cert_file.string() + " / " + ca.key_file.string();
        return false;
    }
    if (X509_check_private_key(cert.get(), key.get()) != 1) {
        error = "CA key does not match CA certificate " + ca.cert_file.string();
        return false;
    }
    return true;
}

}  // namespace

bool create_certificate_authority(const std::string& common_name, const std::filesystem::path& key_out,
                                  const std::filesystem::path& cert_out, std::string& error) {
    ERR_clear_error();
    PkeyPtr key(EVP_EC_gen("P-256"));
    X509Ptr cert = key ? new_certificate(key.get(), common_name, 3650) : nullptr;
    if (!cert) {
        error = "CA generation: " + take_openssl_errors();
        return false;
    }
    X509_set_issuer_name(cert.get(), X509_get_subject_name(cert.get()));
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, cert.get(), cert.get(), nullptr, nullptr, 0);
    if (!add_extension(cert.get(), ctx, NID_basic_constraints, "critical,CA:TRUE") ||
        !add_extension(cert.get(), ctx, NID_key_usage, "critical,keyCertSign,cRLSign") ||
        !add_extension(cert.get(), ctx, NID_subject_key_identifier, "hash") ||
        X509_sign(cert.get(), key.get(), EVP_sha256()) == 0) {
        error = "CA signing: " + take_openssl_errors();
        return false;
    }
    return write_pem(key_out, key.get(), cert_out, cert.get(), error);
}

bool write_self_signed_certificate(const std::vector<std::string>& names, const std::filesystem::path& key_out,
                                   const std::filesystem::path& cert_out, std::string& error,
                                   const CertificateAuthority* issuer) {
    if (names.empty()) {
        error = "a certificate needs at least one name";
        return false;
    }
    ERR_clear_error();
    PkeyPtr issuer_key;
    X509Ptr issuer_cert;
    if (issuer != nullptr && !load_issuer(*issuer, issuer_key, issuer_cert, error)) return false;

    PkeyPtr key(EVP_EC_gen("P-256"));
    // 825 days: the longest lifetime clients accept for CA-issued server certs.
    X509Ptr cert = key ? new_certificate(key.get(), names.front(), issuer ? 825 : 3650) : nullptr;
    if (!cert) {
        error = "certificate generation: " + take_openssl_errors();
        return false;
    }
    X509* signer_cert = issuer ? issuer_cert.get() : cert.get();
    EVP_PKEY* signer_key = issuer ? issuer_key.get() : key.get();
    X509_set_issuer_name(cert.get(), X509_get_subject_name(signer_cert));

    std::string san;
    for (const auto& name : names) san += (san.empty() ? "DNS:" : ",DNS:") + name;
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, signer_cert, cert.get(), nullptr, nullptr, 0);
    // serverAuth for c2s/s2s listeners, clientAuth because s2s peers present
    // the same certificate when they connect out (RFC 6120 §13.7.2).
    if (!add_extension(cert.get(), ctx, NID_subject_alt_name, san) ||
        !add_extension(cert.get(), ctx, NID_basic_constraints, "critical,CA:FALSE") ||
        !add_extension(cert.get(), ctx, NID_key_usage, "critical,digitalSignature") ||
        !add_extension(cert.get(), ctx, NID_ext_key_usage, "serverAuth,clientAuth") ||
        !add_extension(cert.get(), ctx, NID_subject_key_identifier, "hash") ||
        (issuer && !add_extension(cert.get(), ctx, NID_authority_key_identifier, "keyid:always")) ||
        X509_sign(cert.get(), signer_key, EVP_sha256()) == 0) {
        error = "certificate signing: " + take_openssl_errors();
        return false;
    }
    return write_pem(key_out, key.get(), cert_out, cert.get(), error);
}

}  // namespace parley::net
