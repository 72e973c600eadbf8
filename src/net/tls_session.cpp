#include "net/tls_session.hpp"

#include "net/tls_context.hpp"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <cstring>

namespace parley::net {

namespace {

// A minimal BIO over TlsSession::Io: reads consume the caller's ciphertext
// view, writes append to the caller's output string. Unlike BIO_s_mem it
// keeps no buffer of its own, so an idle session holds no I/O memory (the
// SSL's own record buffers are released by SSL_MODE_RELEASE_BUFFERS).
int io_write(BIO* bio, const char* data, int len) {
    auto* io = static_cast<TlsSession::Io*>(BIO_get_data(bio));
    BIO_clear_retry_flags(bio);
    if (io == nullptr || io->output == nullptr) {
        BIO_set_retry_write(bio);
        return -1;
    }
    io->output->append(data, static_cast<size_t>(len));
    return len;
}

int io_read(BIO* bio, char* out, int len) {
    auto* io = static_cast<TlsSession::Io*>(BIO_get_data(bio));
    BIO_clear_retry_flags(bio);
    if (io == nullptr || io->input.empty()) {
        // "No data yet", not end of file: makes SSL_get_error say WANT_READ.
        BIO_set_retry_read(bio);
        return -1;
    }
    const size_t n = std::min(io->input.size(), static_cast<size_t>(len));
    std::memcpy(out, io->input.data(), n);
    io->input.remove_prefix(n);
    return static_cast<int>(n);
}

long io_ctrl(BIO* bio, int cmd, long /*num*/, void* /*ptr*/) {
    auto* io = static_cast<TlsSession::Io*>(BIO_get_data(bio));
    switch (cmd) {
    case BIO_CTRL_FLUSH:
        return 1;
    case BIO_CTRL_PENDING:
        return io == nullptr ? 0 : static_cast<long>(io->input.size());
    case BIO_CTRL_WPENDING:
        return 0;
    default:
        return 0;
    }
}

int io_create(BIO* bio) {
    BIO_set_init(bio, 1);
    return 1;
}

// The method table is immutable after its one-time, thread-safe creation.
const BIO_METHOD* io_method() {
    static const BIO_METHOD* method = [] {
        BIO_METHOD* m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "parley-io");
        BIO_meth_set_write(m, io_write);
        BIO_meth_set_read(m, io_read);
        BIO_meth_set_ctrl(m, io_ctrl);
        BIO_meth_set_create(m, io_create);
        return m;
    }();
    return method;
}

// Points the BIO at the caller's buffers for the duration of one call.
class IoScope {
public:
    IoScope(TlsSession::Io& io, std::string_view input, std::string& output) : io_(io) {
        io_.input = input;
        io_.output = &output;
        ERR_clear_error();  // the queue is per thread, shared by all sessions
    }
    ~IoScope() {
        io_.input = {};
        io_.output = nullptr;
    }
    IoScope(const IoScope&) = delete;
    IoScope& operator=(const IoScope&) = delete;

private:
    TlsSession::Io& io_;
};

}  // namespace

TlsSession::TlsSession(SSL_CTX* ctx, bool server) : server_(server) {
    ssl_ = SSL_new(ctx);
    if (ssl_ == nullptr) {
        last_error_ = "SSL_new: " + take_openssl_errors();
        return;
    }
    BIO* bio = BIO_new(io_method());
    BIO_set_data(bio, &io_);
    SSL_set_bio(ssl_, bio, bio);  // one BIO serves both directions; SSL owns it
    if (server)
        SSL_set_accept_state(ssl_);
    else
        SSL_set_connect_state(ssl_);
}

TlsSession::~TlsSession() { SSL_free(ssl_); }

void TlsSession::set_peer_name(std::string_view host) {
    if (ssl_ == nullptr || server_) return;
    const std::string name(host);
    SSL_set_tlsext_host_name(ssl_, name.c_str());
    // RFC 6125 §6.4: DNS-ID matching; wildcards only as the whole leftmost label.
    SSL_set_hostflags(ssl_, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    SSL_set1_host(ssl_, name.c_str());
}

TlsStatus TlsSession::start(std::string& ciphertext_to_send) {
    std::string ignored;
    return receive({}, ignored, ciphertext_to_send);
}

TlsStatus TlsSession::fail(int ssl_error, const char* during) {
    last_error_ = std::string(during) + ": ";
    if (ssl_error == SSL_ERROR_SSL)
        last_error_ += take_openssl_errors();
    else if (ssl_error == SSL_ERROR_SYSCALL)
        last_error_ += "unexpected end of stream";
    else
        last_error_ += "SSL error " + std::to_string(ssl_error);
    ERR_clear_error();
    return TlsStatus::Error;
}

TlsStatus TlsSession::advance_handshake() {
    const int rc = SSL_do_handshake(ssl_);
    if (rc == 1) {
        handshake_done_ = true;
        return TlsStatus::Ok;
    }
    const int err = SSL_get_error(ssl_, rc);
    if (err == SSL_ERROR_WANT_READ) return TlsStatus::WantMore;
    return fail(err, "handshake");
}

TlsStatus TlsSession::receive(std::string_view ciphertext, std::string& plaintext_out,
                              std::string& ciphertext_to_send) {
    if (ssl_ == nullptr) return TlsStatus::Error;
    IoScope scope(io_, ciphertext, ciphertext_to_send);
    if (!handshake_done_) {
        const TlsStatus status = advance_handshake();
        if (status != TlsStatus::Ok) return status;
        if (!held_plaintext_.empty()) {
            const std::string held = std::move(held_plaintext_);
            held_plaintext_.clear();
            const int rc = SSL_write(ssl_, held.data(), static_cast<int>(held.size()));
            if (rc <= 0) return fail(SSL_get_error(ssl_, rc), "write");
        }
    }
    // Drain every complete record; a partial one stays inside the SSL.
    for (;;) {
        // Read through a stack buffer: growing the string by a whole record
        // first would zero 16 KiB per call, and most reads are a few hundred bytes.
        char record[16384];  // one maximal TLS record
        const int n = SSL_read(ssl_, record, static_cast<int>(sizeof record));
        if (n > 0) {
            plaintext_out.append(record, static_cast<size_t>(n));
            continue;
        }
        const int err = SSL_get_error(ssl_, n);
        if (err == SSL_ERROR_WANT_READ) return TlsStatus::Ok;
        if (err == SSL_ERROR_ZERO_RETURN) return TlsStatus::Closed;
        return fail(err, "read");
    }
}

TlsStatus TlsSession::send(std::string_view plaintext, std::string& ciphertext_to_send) {
    if (ssl_ == nullptr) return TlsStatus::Error;
    if (!handshake_done_) {
        held_plaintext_.append(plaintext);
        return TlsStatus::WantMore;
    }
    IoScope scope(io_, {}, ciphertext_to_send);
    // Our BIO never refuses a write, so SSL_write takes everything at once
    // (no SSL_MODE_ENABLE_PARTIAL_WRITE). Split only to fit an int.
    while (!plaintext.empty()) {
        const size_t n = std::min<size_t>(plaintext.size(), 1u << 30);
        const int rc = SSL_write(ssl_, plaintext.data(), static_cast<int>(n));
        if (rc <= 0) return fail(SSL_get_error(ssl_, rc), "write");
        plaintext.remove_prefix(static_cast<size_t>(rc));
    }
    return TlsStatus::Ok;
}

void TlsSession::shutdown(std::string& ciphertext_to_send) {
    if (ssl_ == nullptr || !handshake_done_ || shutdown_sent_) return;
    shutdown_sent_ = true;
    IoScope scope(io_, {}, ciphertext_to_send);
    SSL_shutdown(ssl_);  // sends close_notify; we do not wait for the peer's
    ERR_clear_error();
}

bool TlsSession::issue_ticket(std::string& ciphertext_to_send) {
    if (ssl_ == nullptr || !server_ || !handshake_done_ || shutdown_sent_ || SSL_version(ssl_) != TLS1_3_VERSION)
        return false;
    IoScope scope(io_, {}, ciphertext_to_send);
    // The ticket is written by the next handshake step, which we take now.
    const bool sent = SSL_new_session_ticket(ssl_) == 1 && SSL_do_handshake(ssl_) == 1;
    ERR_clear_error();
    return sent;
}

std::string_view TlsSession::server_name() const {
    if (ssl_ == nullptr) return {};
    const char* name = SSL_get_servername(ssl_, TLSEXT_NAMETYPE_host_name);
    return name == nullptr ? std::string_view{} : std::string_view(name);
}

std::string_view TlsSession::protocol_version() const {
    return ssl_ == nullptr ? std::string_view{} : std::string_view(SSL_get_version(ssl_));
}

X509* TlsSession::peer_certificate() const {
    return ssl_ == nullptr ? nullptr : SSL_get0_peer_certificate(ssl_);
}

long TlsSession::verify_result() const {
    return ssl_ == nullptr ? X509_V_ERR_UNSPECIFIED : SSL_get_verify_result(ssl_);
}

bool TlsSession::peer_certificate_matches(std::string_view domain) const {
    X509* cert = peer_certificate();
    if (cert == nullptr || verify_result() != X509_V_OK || domain.empty()) return false;
    return X509_check_host(cert, domain.data(), domain.size(), X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS, nullptr) == 1;
}

X509* TlsSession::end_point_certificate() const {
    return server_ ? SSL_get_certificate(ssl_) : SSL_get0_peer_certificate(ssl_);
}

// RFC 5929 §4.1: the certificate's signature hash, upgraded to SHA-256 when
// that is MD5 or SHA-1; undefined when there is no single hash (e.g.
// Ed25519), hence nullptr.
const EVP_MD* TlsSession::end_point_digest(X509* cert) {
    int md_nid = NID_undef;
    int pk_nid = NID_undef;
    if (OBJ_find_sigid_algs(X509_get_signature_nid(cert), &md_nid, &pk_nid) != 1 || md_nid == NID_undef)
        return nullptr;
    if (md_nid == NID_md5 || md_nid == NID_sha1) md_nid = NID_sha256;
    return EVP_get_digestbynid(md_nid);
}

bool TlsSession::has_channel_binding(std::string_view type) const {
    if (ssl_ == nullptr || !handshake_done_) return false;
    // RFC 9266 §2: tls-exporter only under TLS 1.3 (see channel_binding).
    if (type == "tls-exporter") return SSL_version(ssl_) == TLS1_3_VERSION;
    if (type == "tls-server-end-point") {
        X509* cert = end_point_certificate();
        return cert != nullptr && end_point_digest(cert) != nullptr;
    }
    return false;
}

std::optional<std::string> TlsSession::channel_binding(std::string_view type) const {
    if (ssl_ == nullptr || !handshake_done_) return std::nullopt;
    if (type == "tls-exporter") {
        // RFC 9266 §2: defined for TLS 1.3 only (1.2 lacks the extended
        // master secret guarantee unless negotiated, so we do not offer it).
        if (SSL_version(ssl_) != TLS1_3_VERSION) return std::nullopt;
        static constexpr char label[] = "EXPORTER-Channel-Binding";
        std::string out(32, '\0');
        if (SSL_export_keying_material(ssl_, reinterpret_cast<unsigned char*>(out.data()), out.size(),
                                       label, sizeof label - 1, nullptr, 0, 0) != 1) {
            ERR_clear_error();
            return std::nullopt;
        }
        return out;
    }
    if (type == "tls-server-end-point") {
        X509* cert = end_point_certificate();
        const EVP_MD* md = cert == nullptr ? nullptr : end_point_digest(cert);
        if (md == nullptr) return std::nullopt;
        unsigned char digest[EVP_MAX_MD_SIZE];
        unsigned int len = 0;
        if (X509_digest(cert, md, digest, &len) != 1) {
            ERR_clear_error();
            return std::nullopt;
        }
        return std::string(reinterpret_cast<const char*>(digest), len);
    }
    return std::nullopt;
}

}  // namespace parley::net
