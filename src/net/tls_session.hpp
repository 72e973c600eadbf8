#pragma once
// A TLS engine that never touches a socket: ciphertext goes in and out as
// byte strings, so the same code serves TCP, tests and any future transport.

#include <openssl/types.h>

#include <optional>
#include <string>
#include <string_view>

namespace parley::net {

enum class TlsStatus {
    Ok,        // progress made; handshake complete
    WantMore,  // handshake still in progress, feed more ciphertext
    Closed,    // the peer sent close_notify
    Error,     // fatal; see last_error(); send what ciphertext_to_send holds (an alert)
};

class TlsSession {
public:
    // `ctx` must stay valid for the constructor call only: the SSL takes its
    // own reference. Server sessions start on `ctx` and may switch by SNI.
    TlsSession(SSL_CTX* ctx, bool server);
    ~TlsSession();
    TlsSession(const TlsSession&) = delete;
    TlsSession& operator=(const TlsSession&) = delete;

    // Client only, before start(): send SNI for `host` and require the
    // certificate to match it (RFC 6125 via X509_VERIFY_PARAM_set1_host).
    void set_peer_name(std::string_view host);

    // Client only: produce the ClientHello. Servers need not call it.
    TlsStatus start(std::string& ciphertext_to_send);

    // Feeds received ciphertext; appends decrypted application data to
    // `plaintext_out` and handshake/alert/ticket records to `ciphertext_to_send`.
    TlsStatus receive(std::string_view ciphertext, std::string& plaintext_out,
                      std::string& ciphertext_to_send);

    // Encrypts `plaintext` into `ciphertext_to_send`. Before the handshake
    // completes the plaintext is held and returned WantMore; it is encrypted
    // by the receive() call that completes the handshake.
    TlsStatus send(std::string_view plaintext, std::string& ciphertext_to_send);

    // Appends our close_notify (once). Nothing if the handshake never finished.
    void shutdown(std::string& ciphertext_to_send);

    // Server, TLS 1.3: appends a NewSessionTicket (RFC 8446 §4.6.1) that lets
    // the client resume later. The handshake sends none (see TlsContextSet);
    // false if no ticket can be sent (TLS 1.2 sends its own in the handshake).
    bool issue_ticket(std::string& ciphertext_to_send);

    bool handshake_done() const { return handshake_done_; }
    bool is_server() const { return server_; }
    // SNI the client sent (server) or we sent (client); empty if none.
    std::string_view server_name() const;
    // "TLSv1.3", "TLSv1.2", ...
    std::string_view protocol_version() const;
    std::string last_error() const { return last_error_; }

    // Channel binding data for SCRAM-*-PLUS, or nullopt when unavailable:
    //  "tls-exporter" (RFC 9266): 32 bytes of keying material, TLS 1.3 only;
    //  "tls-server-end-point" (RFC 5929 §4.1): hash of the server certificate
    //  (ours as server, the peer's as client).
    std::optional<std::string> channel_binding(std::string_view type) const;
    // Whether channel_binding(type) has data, without deriving it: stream
    // features ask on every login, the data is needed only by -PLUS logins.
    bool has_channel_binding(std::string_view type) const;

    // Peer certificate (not owned; valid while this session lives), or nullptr.
    X509* peer_certificate() const;
    // X509_V_OK (0) when the peer's chain and name verified.
    long verify_result() const;
    // True when the peer's chain verified and its certificate is valid for
    // `domain` by RFC 6125 §6.4 / RFC 9525 DNS-ID rules (wildcards only as the
    // whole leftmost label). The server side of s2s uses it on the
    // initiating server's certificate, whose name TLS itself does not check.
    bool peer_certificate_matches(std::string_view domain) const;

    // Direct access for callers needing more (ALPN, ciphers...). Not owned.
    SSL* native_handle() const { return ssl_; }

    // The custom BIO reads from and writes to this while a call runs.
    struct Io {
        std::string_view input;
        std::string* output = nullptr;
    };

private:
    // The certificate tls-server-end-point hashes, and with which digest.
    X509* end_point_certificate() const;
    static const EVP_MD* end_point_digest(X509* cert);
    TlsStatus advance_handshake();
    TlsStatus fail(int ssl_error, const char* during);

    SSL* ssl_ = nullptr;
    Io io_;
    std::string held_plaintext_;  // written before the handshake finished
    std::string last_error_;
    bool server_;
    bool handshake_done_ = false;
    bool shutdown_sent_ = false;
};

}  // namespace parley::net
