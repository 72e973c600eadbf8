#include "net/tls_context.hpp"

#include <openssl/err.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <stdexcept>
#include <cctype>

namespace parley::net {

namespace {

// TLS 1.3: OpenSSL's three suites, AES-128-GCM first (RFC 8446 §9.1's
// mandatory suite). Its SHA-256 key schedule and ten AES rounds make every
// handshake and record cheaper than AES-256-GCM-SHA384, OpenSSL's first
// choice, at the 128-bit security of the X25519 and P-256 keys beside it.
constexpr const char* tls13_suites = "TLS_AES_128_GCM_SHA256:TLS_CHACHA20_POLY1305_SHA256:TLS_AES_256_GCM_SHA384";

// Mozilla "intermediate" TLS 1.2 list: ECDHE key exchange with AEAD ciphers
// only (RFC 7525 §4.2).
constexpr const char* tls12_ciphers =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";

std::string lowercase(std::string_view s) {
    std::string out(s);
    std::transform(out.begin(), out.end(), out.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return out;
}

// Protocol floor, cipher list and options shared by server and client contexts.
bool apply_common_policy(SSL_CTX* ctx, std::string& error) {
    if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1 ||
        SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION) != 1 ||
        SSL_CTX_set_cipher_list(ctx, tls12_ciphers) != 1 || SSL_CTX_set_ciphersuites(ctx, tls13_suites) != 1) {
        error = "TLS policy: " + take_openssl_errors();
        return false;
    }
    // As a server, our order decides, except that a client listing ChaCha20
    // first gets it: that is a phone without AES instructions.
    SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE |
                                 SSL_OP_PRIORITIZE_CHACHA);
    // Idle XMPP connections are the common case: let them drop their 2x16 KiB
    // record buffers between reads and writes.
    SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
    return true;
}

// RFC 6066 §3: select the virtual host's certificate before the handshake
// continues. Unknown or missing names keep the default certificate rather
// than failing, since XMPP clients may connect by IP or an alias.
int select_context_by_sni(SSL* ssl, int* /*alert*/, void* arg) {
    const auto* set = static_cast<const TlsContextSet*>(arg);
    const char* name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
    if (set == nullptr || name == nullptr) return SSL_TLSEXT_ERR_OK;
    SSL_CTX* chosen = set->context_for(name);
    if (chosen != nullptr && chosen != SSL_get_SSL_CTX(ssl)) SSL_set_SSL_CTX(ssl, chosen);
    return SSL_TLSEXT_ERR_OK;
}

// A context under the common policy holding one certificate chain and its key.
SslCtxPtr context_with_certificate(const SSL_METHOD* method, const std::filesystem::path& cert_chain,
                                   const std::filesystem::path& private_key, std::string& error) {
    SslCtxPtr ctx(SSL_CTX_new(method));
    if (!ctx) {
        error = "SSL_CTX_new: " + take_openssl_errors();
        return nullptr;
    }
    if (!apply_common_policy(ctx.get(), error)) return nullptr;
    if (SSL_CTX_use_certificate_chain_file(ctx.get(), cert_chain.c_str()) != 1) {
        error = "certificate " + cert_chain.string() + ": " + take_openssl_errors();
        return nullptr;
    }
    if (SSL_CTX_use_PrivateKey_file(ctx.get(), private_key.c_str(), SSL_FILETYPE_PEM) != 1) {
        error = "private key " + private_key.string() + ": " + take_openssl_errors();
        return nullptr;
    }
    // Send the chain as the file gives it. Otherwise OpenSSL tries to build
    // one from the context's trust store on every handshake: the whole
    // system store for s2s peers, about 0.1 ms each.
    SSL_CTX_set_mode(ctx.get(), SSL_MODE_NO_AUTO_CHAIN);
    if (SSL_CTX_check_private_key(ctx.get()) != 1) {
        error = "private key " + private_key.string() + " does not match " + cert_chain.string();
        ERR_clear_error();
        return nullptr;
    }
    return ctx;
}

// Peers are verified against the system trust store plus, if given, a CA file.
bool trust_system_and(SSL_CTX* ctx, const std::filesystem::path& extra_ca_file, std::string& error) {
    if (SSL_CTX_set_default_verify_paths(ctx) != 1) {
        error = "system trust store: " + take_openssl_errors();
        return false;
    }
    if (!extra_ca_file.empty() && SSL_CTX_load_verify_locations(ctx, extra_ca_file.c_str(), nullptr) != 1) {
        error = "CA file " + extra_ca_file.string() + ": " + take_openssl_errors();
        return false;
    }
    return true;
}

}  // namespace

void SslCtxFree::operator()(SSL_CTX* ctx) const { SSL_CTX_free(ctx); }

TicketKeys TicketKeys::generate() {
    TicketKeys keys;
    if (RAND_bytes(keys.bytes.data(), static_cast<int>(keys.bytes.size())) != 1)
        throw std::runtime_error("RAND_bytes failed for TLS ticket keys");
    return keys;
}

std::string take_openssl_errors() {
    std::string out;
    while (unsigned long code = ERR_get_error()) {
        char buf[256];
        ERR_error_string_n(code, buf, sizeof buf);
        if (!out.empty()) out += "; ";
        out += buf;
    }
    return out.empty() ? "unknown TLS error" : out;
}

TlsContextSet::~TlsContextSet() {
    // Connections may still hold references to these contexts; make sure a
    // late ClientHello can no longer call back into this destroyed set.
    for (auto& [host, ctx] : contexts_) SSL_CTX_set_tlsext_servername_arg(ctx.get(), nullptr);
}

bool TlsContextSet::add_host(std::string host, const std::filesystem::path& cert_chain,
                             const std::filesystem::path& private_key, std::string& error) {
    host = lowercase(host);
    ERR_clear_error();
    SslCtxPtr ctx = context_with_certificate(TLS_server_method(), cert_chain, private_key, error);
    if (!ctx) return false;
    static constexpr unsigned char session_id_context[] = "parley";
    SSL_CTX_set_session_id_context(ctx.get(), session_id_context, sizeof session_id_context - 1);
    // TLS 1.3 tickets (RFC 8446 §4.6.1): OpenSSL sends two with every
    // handshake, so a browser can resume parallel connections. An XMPP
    // client keeps one connection and resumes it once, so one ticket is
    // enough, and it goes only to a client that has logged in
    // (Connection::issue_tls_ticket): a scanner or a failed login gets none,
    // and making it is no longer on the path to the stream features.
    SSL_CTX_set_num_tickets(ctx.get(), 0);
    if (ticket_keys_ &&
        SSL_CTX_set_tlsext_ticket_keys(ctx.get(), ticket_keys_->bytes.data(), ticket_keys_->bytes.size()) != 1) {
        error = "ticket keys: " + take_openssl_errors();
        return false;
    }
    SSL_CTX_set_tlsext_servername_callback(ctx.get(), select_context_by_sni);
    SSL_CTX_set_tlsext_servername_arg(ctx.get(), this);
    if (default_host_.empty()) default_host_ = host;
    contexts_.insert_or_assign(std::move(host), std::move(ctx));
    return true;
}

bool TlsContextSet::set_default_host(std::string host) {
    host = lowercase(host);
    if (contexts_.find(host) == contexts_.end()) return false;
    default_host_ = std::move(host);
    return true;
}

SSL_CTX* TlsContextSet::default_context() const {
    auto it = contexts_.find(default_host_);
    return it == contexts_.end() ? nullptr : it->second.get();
}

SSL_CTX* TlsContextSet::context_for(std::string_view server_name) const {
    const std::string name = lowercase(server_name);
    if (auto it = contexts_.find(name); it != contexts_.end()) return it->second.get();
    // A wildcard covers exactly one leftmost label (RFC 6125 §6.4.3).
    if (auto dot = name.find('.'); dot != std::string::npos && dot > 0) {
        if (auto it = contexts_.find("*" + name.substr(dot)); it != contexts_.end()) return it->second.get();
    }
    return default_context();
}

SslCtxPtr make_client_context(const std::filesystem::path& extra_ca_file, bool require_verified,
                              std::string& error) {
    ERR_clear_error();
    SslCtxPtr ctx(SSL_CTX_new(TLS_client_method()));
    if (!ctx) {
        error = "SSL_CTX_new: " + take_openssl_errors();
        return nullptr;
    }
    if (!apply_common_policy(ctx.get(), error)) return nullptr;
    if (!trust_system_and(ctx.get(), extra_ca_file, error)) return nullptr;
    // OpenSSL verifies the chain in both modes; VERIFY_NONE only keeps a
    // failure from aborting the handshake so the result can be inspected.
    SSL_CTX_set_verify(ctx.get(), require_verified ? SSL_VERIFY_PEER : SSL_VERIFY_NONE, nullptr);
    return ctx;
}

namespace {
// Records the verdict in SSL_get_verify_result() but lets the handshake go on.
int accept_for_inspection(int /*preverify_ok*/, X509_STORE_CTX* /*store*/) { return 1; }
}  // namespace

SslCtxPtr make_peer_context(bool server, const std::filesystem::path& cert_chain,
                            const std::filesystem::path& private_key, const std::filesystem::path& extra_ca_file,
                            std::string& error) {
    ERR_clear_error();
    SslCtxPtr ctx =
        context_with_certificate(server ? TLS_server_method() : TLS_client_method(), cert_chain, private_key, error);
    if (!ctx) return nullptr;
    if (!trust_system_and(ctx.get(), extra_ca_file, error)) return nullptr;
    if (server) {
        static constexpr unsigned char session_id_context[] = "parley-s2s";
        SSL_CTX_set_session_id_context(ctx.get(), session_id_context, sizeof session_id_context - 1);
        // Servers keep their s2s links open and do not resume them: the two
        // tickets OpenSSL would send with each handshake go unused.
        SSL_CTX_set_num_tickets(ctx.get(), 0);
        SSL_CTX_set_purpose(ctx.get(), X509_PURPOSE_ANY);
        SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER, accept_for_inspection);
    } else {
        SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_NONE, nullptr);
    }
    return ctx;
}

}  // namespace parley::net
