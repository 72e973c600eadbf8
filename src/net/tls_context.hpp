#pragma once
// TLS contexts: the server's per-host certificates (chosen by SNI) and the
// client context used for outgoing s2s connections.

#include <openssl/types.h>

#include <array>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace parley::net {

struct SslCtxFree {
    void operator()(SSL_CTX* ctx) const;
};
// Owning handle for one SSL_CTX reference (SSL_CTX_free on destruction).
using SslCtxPtr = std::unique_ptr<SSL_CTX, SslCtxFree>;

// One server SSL_CTX per virtual host certificate. Connections start with
// default_context(); the SNI callback (RFC 6066 §3) switches each handshake to
// the best match: exact host, then "*.parent", then the default host.
//
// Reload (SIGHUP): build a new set and swap it in. Each SSL holds its own
// reference on its SSL_CTX, so established connections keep working after the
// old set is destroyed; a handshake that has not yet seen its ClientHello
// then simply keeps the old default certificate. The set must be destroyed on
// the thread that runs the handshakes using it. Not movable: its contexts
// point back at it.
// The keys that protect TLS session tickets (OpenSSL's 80 bytes: name, HMAC
// and AES keys). Contexts built with the same keys accept each other's
// tickets, so a returning client still resumes after a SIGHUP reload.
struct TicketKeys {
    std::array<unsigned char, 80> bytes{};
    static TicketKeys generate();  // from the CSPRNG
};

class TlsContextSet {
public:
    TlsContextSet() = default;
    explicit TlsContextSet(const TicketKeys& ticket_keys) : ticket_keys_(ticket_keys) {}
    ~TlsContextSet();
    TlsContextSet(const TlsContextSet&) = delete;
    TlsContextSet& operator=(const TlsContextSet&) = delete;

    // Loads a PEM certificate chain and its private key for `host` (lower-
    // cased; "*.example.com" registers a wildcard). TLS 1.2 and 1.3 only,
    // forward-secret AEAD ciphers, SSL_MODE_RELEASE_BUFFERS. The first host
    // added becomes the default until set_default_host() says otherwise.
    // Returns false and fills `error` if the files cannot be used.
    bool add_host(std::string host, const std::filesystem::path& cert_chain,
                  const std::filesystem::path& private_key, std::string& error);

    // Host whose certificate is used when SNI is absent or unknown. Ignored
    // (returns false) if no certificate was added for it.
    bool set_default_host(std::string host);

    // The context new server sessions start with (nullptr if the set is empty).
    SSL_CTX* default_context() const;

    // The context SNI would select for `server_name` (exact, wildcard, default).
    SSL_CTX* context_for(std::string_view server_name) const;

    bool empty() const { return contexts_.empty(); }

private:
    std::map<std::string, SslCtxPtr, std::less<>> contexts_;
    std::string default_host_;
    std::optional<TicketKeys> ticket_keys_;  // else each context makes its own
};

// Client context for outgoing connections (s2s): TLS 1.2+, peer verification
// against the system trust store plus `extra_ca_file` (if not empty). Hostname
// checking (RFC 6125) and SNI are set per session by TlsSession::set_peer_name.
// With `require_verified` false the handshake succeeds on an untrusted
// certificate and the caller inspects TlsSession::verify_result() instead
// (s2s falls back to dialback, XEP-0220). Returns nullptr and fills `error`
// on failure.
SslCtxPtr make_client_context(const std::filesystem::path& extra_ca_file, bool require_verified,
                              std::string& error);

// Context for server-to-server links in either role (RFC 6120 §13.7.2,
// XEP-0178): it presents `cert_chain` and asks for the peer's certificate,
// verifying the chain against the system trust store plus `extra_ca_file`
// (if not empty) without aborting the handshake, so that the caller decides
// from TlsSession::verify_result() and peer_certificate_matches(): SASL
// EXTERNAL, dialback (XEP-0220) or refusal. As a server it accepts any key
// usage on the peer's certificate, since many servers' certificates carry
// only serverAuth (XEP-0178 §3.2). Returns nullptr and fills `error` on failure.
SslCtxPtr make_peer_context(bool server, const std::filesystem::path& cert_chain,
                            const std::filesystem::path& private_key, const std::filesystem::path& extra_ca_file,
                            std::string& error);

// Drains OpenSSL's thread-local error queue into one readable line.
std::string take_openssl_errors();

}  // namespace parley::net
