// TlsSession and TlsContextSet, exercised entirely in memory: two sessions
// exchange their ciphertext strings directly.

#include "net/tls_context.hpp"
#include "net/tls_session.hpp"
#include "net_test_support.hpp"

#include <doctest/doctest.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <memory>
#include <string>
#include <vector>

using namespace parley::net;
using parley::net::test::TestPki;

namespace {

struct Outcome {
    TlsStatus client = TlsStatus::WantMore;
    TlsStatus server = TlsStatus::WantMore;
    std::string client_plaintext;
    std::string server_plaintext;
};

// Shuttles records between the two sessions until neither has anything to say.
Outcome run_handshake(TlsSession& client, TlsSession& server) {
    Outcome out;
    std::string to_server;
    std::string to_client;
    out.client = client.start(to_server);
    for (int round = 0; round < 10 && !(to_server.empty() && to_client.empty()); ++round) {
        if (!to_server.empty()) {
            const std::string in = std::move(to_server);
            to_server.clear();
            out.server = server.receive(in, out.server_plaintext, to_client);
        }
        if (!to_client.empty()) {
            const std::string in = std::move(to_client);
            to_client.clear();
            out.client = client.receive(in, out.client_plaintext, to_server);
        }
    }
    return out;
}

std::string common_name(X509* cert) {
    REQUIRE(cert != nullptr);
    char buf[256] = {};
    X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, buf, sizeof buf);
    return buf;
}

// Subject CN of the certificate the server uses (SSL_get_certificate follows SNI).
std::string served_common_name(const TlsSession& server) {
    return common_name(SSL_get_certificate(server.native_handle()));
}

struct Fixture {
    TestPki pki;
    TlsContextSet servers;
    SslCtxPtr verifying_client;
    SslCtxPtr lenient_client;

    Fixture() {
        std::string error;
        for (const char* host : {"a.example", "b.example"}) {
            auto files = pki.issue({host});
            REQUIRE_MESSAGE(servers.add_host(host, files.cert, files.key, error), error);
        }
        auto wild = pki.issue({"*.wild.example"});
        REQUIRE_MESSAGE(servers.add_host("*.wild.example", wild.cert, wild.key, error), error);
        verifying_client = make_client_context(pki.ca.cert_file, true, error);
        REQUIRE_MESSAGE(verifying_client, error);
        lenient_client = make_client_context(pki.ca.cert_file, false, error);
        REQUIRE_MESSAGE(lenient_client, error);
    }
};

}  // namespace

TEST_CASE("handshake completes and data flows both ways") {
    Fixture f;
    TlsSession server(f.servers.default_context(), true);
    TlsSession client(f.verifying_client.get(), false);
    client.set_peer_name("a.example");
    CHECK_FALSE(server.handshake_done());

    Outcome o = run_handshake(client, server);
    REQUIRE(o.client == TlsStatus::Ok);
    REQUIRE(o.server == TlsStatus::Ok);
    CHECK(client.handshake_done());
    CHECK(server.handshake_done());
    CHECK(server.protocol_version() == "TLSv1.3");
    CHECK(client.verify_result() == X509_V_OK);
    CHECK(server.server_name() == "a.example");
    CHECK(server.peer_certificate() == nullptr);  // no client certificate asked
    CHECK(common_name(client.peer_certificate()) == "a.example");

    std::string wire;
    std::string plain;
    REQUIRE(client.send("<stream:stream>", wire) == TlsStatus::Ok);
    CHECK(wire.find("<stream") == std::string::npos);  // encrypted
    REQUIRE(server.receive(wire, plain, wire) == TlsStatus::Ok);
    CHECK(plain == "<stream:stream>");

    wire.clear();
    plain.clear();
    REQUIRE(server.send("reply", wire) == TlsStatus::Ok);
    // Split the record in two to show a partial record is kept, not lost.
    std::string ignored;
    CHECK(client.receive(std::string_view(wire).substr(0, 7), plain, ignored) == TlsStatus::Ok);
    CHECK(plain.empty());
    CHECK(client.receive(std::string_view(wire).substr(7), plain, ignored) == TlsStatus::Ok);
    CHECK(plain == "reply");
}

TEST_CASE("plaintext sent before the handshake finishes is delivered after it") {
    Fixture f;
    TlsSession server(f.servers.default_context(), true);
    TlsSession client(f.verifying_client.get(), false);
    client.set_peer_name("a.example");
    std::string wire;
    CHECK(client.send("early", wire) == TlsStatus::WantMore);
    CHECK(wire.empty());
    Outcome o = run_handshake(client, server);
    REQUIRE(o.server == TlsStatus::Ok);
    CHECK(o.server_plaintext == "early");
}

TEST_CASE("SNI selects the host certificate, unknown names get the default") {
    Fixture f;
    SUBCASE("exact host") {
        TlsSession server(f.servers.default_context(), true);
        TlsSession client(f.verifying_client.get(), false);
        client.set_peer_name("b.example");
        REQUIRE(run_handshake(client, server).client == TlsStatus::Ok);
        CHECK(server.server_name() == "b.example");
        CHECK(served_common_name(server) == "b.example");
        CHECK(common_name(client.peer_certificate()) == "b.example");
        CHECK(client.verify_result() == X509_V_OK);
    }
    SUBCASE("wildcard host") {
        TlsSession server(f.servers.default_context(), true);
        TlsSession client(f.verifying_client.get(), false);
        client.set_peer_name("chat.wild.example");
        REQUIRE(run_handshake(client, server).client == TlsStatus::Ok);
        CHECK(common_name(client.peer_certificate()) == "*.wild.example");
        CHECK(client.verify_result() == X509_V_OK);
    }
    SUBCASE("unknown name gets the default host, which then fails the name check") {
        TlsSession server(f.servers.default_context(), true);
        TlsSession client(f.lenient_client.get(), false);
        client.set_peer_name("unknown.example");
        REQUIRE(run_handshake(client, server).client == TlsStatus::Ok);
        CHECK(common_name(client.peer_certificate()) == "a.example");
        CHECK(client.verify_result() == X509_V_ERR_HOSTNAME_MISMATCH);
    }
    SUBCASE("a verifying client refuses the mismatched certificate") {
        TlsSession server(f.servers.default_context(), true);
        TlsSession client(f.verifying_client.get(), false);
        client.set_peer_name("unknown.example");
        Outcome o = run_handshake(client, server);
        CHECK(o.client == TlsStatus::Error);
        CHECK_FALSE(client.handshake_done());
        CHECK(client.last_error().find("certificate verify failed") != std::string::npos);
    }
    SUBCASE("no SNI and a changed default host") {
        REQUIRE(f.servers.set_default_host("B.example"));
        CHECK_FALSE(f.servers.set_default_host("nowhere.example"));
        TlsSession server(f.servers.default_context(), true);
        TlsSession client(f.lenient_client.get(), false);
        REQUIRE(run_handshake(client, server).client == TlsStatus::Ok);
        CHECK(server.server_name().empty());
        CHECK(common_name(client.peer_certificate()) == "b.example");
    }
}

TEST_CASE("context_for matches exact, then wildcard, then default") {
    Fixture f;
    SSL_CTX* a = f.servers.context_for("a.example");
    SSL_CTX* b = f.servers.context_for("B.EXAMPLE");
    SSL_CTX* wild = f.servers.context_for("x.wild.example");
    CHECK(a == f.servers.default_context());
    CHECK(b != a);
    CHECK(wild != a);
    CHECK(wild != b);
    CHECK(f.servers.context_for("x.y.wild.example") == a);  // one label only
    CHECK(f.servers.context_for("wild.example") == a);
    CHECK(f.servers.context_for("") == a);
}

TEST_CASE("add_host reports unusable files") {
    TestPki pki;
    auto a = pki.issue({"a.example"});
    auto b = pki.issue({"b.example"});
    TlsContextSet set;
    std::string error;
    CHECK_FALSE(set.add_host("x", pki.dir.path() / "missing.crt", a.key, error));
    CHECK(error.find("missing.crt") != std::string::npos);
    CHECK_FALSE(set.add_host("x", a.cert, b.key, error));
    INFO(error);
    CHECK(error.find("b.example.key") != std::string::npos);
    CHECK(set.empty());
    CHECK(set.default_context() == nullptr);
}

TEST_CASE("a TLS 1.1 client is refused") {
    Fixture f;
    SslCtxPtr old_client(SSL_CTX_new(TLS_client_method()));
    REQUIRE(old_client);
    SSL_CTX_set_security_level(old_client.get(), 0);
    REQUIRE(SSL_CTX_set_cipher_list(old_client.get(), "DEFAULT@SECLEVEL=0") == 1);
    REQUIRE(SSL_CTX_set_min_proto_version(old_client.get(), TLS1_1_VERSION) == 1);
    REQUIRE(SSL_CTX_set_max_proto_version(old_client.get(), TLS1_1_VERSION) == 1);
    TlsSession server(f.servers.default_context(), true);
    TlsSession client(old_client.get(), false);
    Outcome o = run_handshake(client, server);
    CHECK(o.server == TlsStatus::Error);
    CHECK(o.client == TlsStatus::Error);
    CHECK_FALSE(server.handshake_done());
    CHECK(server.last_error().find("unsupported protocol") != std::string::npos);
}

TEST_CASE("channel bindings agree on both ends") {
    Fixture f;
    auto connect = [&](TlsSession& client, TlsSession& server) {
        client.set_peer_name("a.example");
        REQUIRE(run_handshake(client, server).client == TlsStatus::Ok);
    };
    TlsSession server1(f.servers.default_context(), true);
    TlsSession client1(f.verifying_client.get(), false);
    connect(client1, server1);
    TlsSession server2(f.servers.default_context(), true);
    TlsSession client2(f.verifying_client.get(), false);
    connect(client2, server2);

    auto exporter1 = server1.channel_binding("tls-exporter");
    REQUIRE(exporter1);
    CHECK(exporter1->size() == 32);
    CHECK(client1.channel_binding("tls-exporter") == exporter1);
    auto exporter2 = server2.channel_binding("tls-exporter");
    REQUIRE(exporter2);
    CHECK(client2.channel_binding("tls-exporter") == exporter2);
    CHECK(*exporter1 != *exporter2);  // fresh keying material per session

    auto endpoint = server1.channel_binding("tls-server-end-point");
    REQUIRE(endpoint);
    CHECK(endpoint->size() == 32);  // SHA-256: the certificate is signed ecdsa-with-SHA256
    CHECK(client1.channel_binding("tls-server-end-point") == endpoint);
    unsigned char digest[32];
    unsigned int len = 0;
    REQUIRE(X509_digest(client1.peer_certificate(), EVP_sha256(), digest, &len) == 1);
    CHECK(*endpoint == std::string(reinterpret_cast<char*>(digest), len));

    TlsSession server_b(f.servers.default_context(), true);
    TlsSession client_b(f.verifying_client.get(), false);
    client_b.set_peer_name("b.example");
    REQUIRE(run_handshake(client_b, server_b).client == TlsStatus::Ok);
    auto endpoint_b = client_b.channel_binding("tls-server-end-point");
    REQUIRE(endpoint_b);
    CHECK(*endpoint_b != *endpoint);  // it identifies the certificate
    CHECK(server_b.channel_binding("tls-server-end-point") == endpoint_b);

    CHECK_FALSE(server1.channel_binding("tls-unique"));
}

TEST_CASE("channel bindings under TLS 1.2: no tls-exporter") {
    Fixture f;
    SSL_CTX_set_max_proto_version(f.verifying_client.get(), TLS1_2_VERSION);
    TlsSession server(f.servers.default_context(), true);
    TlsSession client(f.verifying_client.get(), false);
    client.set_peer_name("a.example");
    REQUIRE(run_handshake(client, server).client == TlsStatus::Ok);
    CHECK(server.protocol_version() == "TLSv1.2");
    CHECK_FALSE(server.channel_binding("tls-exporter"));
    CHECK_FALSE(client.channel_binding("tls-exporter"));
    auto endpoint = server.channel_binding("tls-server-end-point");
    REQUIRE(endpoint);
    CHECK(client.channel_binding("tls-server-end-point") == endpoint);
}

TEST_CASE("issue_ticket sends nothing before the handshake, from a client, or under TLS 1.2") {
    Fixture f;
    std::string out;
    TlsSession early(f.servers.default_context(), true);
    CHECK_FALSE(early.issue_ticket(out));

    TlsSession server(f.servers.default_context(), true);
    TlsSession client(f.verifying_client.get(), false);
    client.set_peer_name("a.example");
    REQUIRE(run_handshake(client, server).client == TlsStatus::Ok);
    CHECK_FALSE(client.issue_ticket(out));

    SSL_CTX_set_max_proto_version(f.verifying_client.get(), TLS1_2_VERSION);
    TlsSession server12(f.servers.default_context(), true);
    TlsSession client12(f.verifying_client.get(), false);
    client12.set_peer_name("a.example");
    REQUIRE(run_handshake(client12, server12).client == TlsStatus::Ok);
    CHECK_FALSE(server12.issue_ticket(out));
    CHECK(out.empty());
}

TEST_CASE("TLS 1.3 suite: AES-128-GCM by the server's order, ChaCha20 for a client that lists it first") {
    Fixture f;
    struct Case {
        const char* client_suites;
        const char* expected;
    };
    for (Case c : {Case{"TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256:TLS_AES_128_GCM_SHA256",
                        "TLS_AES_128_GCM_SHA256"},
                   Case{"TLS_CHACHA20_POLY1305_SHA256:TLS_AES_128_GCM_SHA256", "TLS_CHACHA20_POLY1305_SHA256"},
                   Case{"TLS_AES_256_GCM_SHA384", "TLS_AES_256_GCM_SHA384"}}) {
        CAPTURE(c.client_suites);
        TlsSession server(f.servers.default_context(), true);
        TlsSession client(f.verifying_client.get(), false);
        client.set_peer_name("a.example");
        REQUIRE(SSL_set_ciphersuites(client.native_handle(), c.client_suites) == 1);
        REQUIRE(run_handshake(client, server).client == TlsStatus::Ok);
        CHECK(std::string(SSL_CIPHER_get_name(SSL_get_current_cipher(server.native_handle()))) == c.expected);
    }
}

namespace {
// The server context of an incoming s2s link for a.example, trusting the test CA.
SslCtxPtr s2s_server_context(TestPki& pki) {
    auto leaf = pki.issue({"a.example"});
    std::string error;
    SslCtxPtr ctx = make_peer_context(true, leaf.cert, leaf.key, pki.ca.cert_file, error);
    REQUIRE_MESSAGE(ctx, error);
    return ctx;
}
}  // namespace

TEST_CASE("the server sends the chain its file holds, even when its trust store could extend it") {
    TestPki pki;
    // An s2s peer context trusts the CA: OpenSSL would otherwise append it to every handshake.
    SslCtxPtr server_ctx = s2s_server_context(pki);
    std::string error;
    SslCtxPtr client_ctx = make_client_context(pki.ca.cert_file, true, error);
    REQUIRE_MESSAGE(client_ctx, error);
    TlsSession server(server_ctx.get(), true);
    TlsSession client(client_ctx.get(), false);
    client.set_peer_name("a.example");
    REQUIRE(run_handshake(client, server).client == TlsStatus::Ok);
    STACK_OF(X509)* sent = SSL_get_peer_cert_chain(client.native_handle());
    REQUIRE(sent != nullptr);
    CHECK(sk_X509_num(sent) == 1);
    CHECK(SSL_get_verify_result(client.native_handle()) == X509_V_OK);
}

TEST_CASE("close_notify reaches the peer as Closed") {
    Fixture f;
    TlsSession server(f.servers.default_context(), true);
    TlsSession client(f.verifying_client.get(), false);
    client.set_peer_name("a.example");
    REQUIRE(run_handshake(client, server).client == TlsStatus::Ok);
    std::string wire;
    std::string plain;
    REQUIRE(server.send("last", wire) == TlsStatus::Ok);
    server.shutdown(wire);
    const size_t after_first = wire.size();
    server.shutdown(wire);  // idempotent
    CHECK(wire.size() == after_first);
    std::string reply;
    CHECK(client.receive(wire, plain, reply) == TlsStatus::Closed);
    CHECK(plain == "last");
}

TEST_CASE("sessions survive the replacement of their context set (reload)") {
    TestPki pki;
    auto a = pki.issue({"a.example"});
    auto b = pki.issue({"b.example"});
    std::string error;
    auto old_set = std::make_unique<TlsContextSet>();
    REQUIRE(old_set->add_host("a.example", a.cert, a.key, error));
    REQUIRE(old_set->add_host("b.example", b.cert, b.key, error));
    SslCtxPtr client_ctx = make_client_context(pki.ca.cert_file, false, error);
    REQUIRE(client_ctx);

    TlsSession established_server(old_set->default_context(), true);
    TlsSession established_client(client_ctx.get(), false);
    established_client.set_peer_name("b.example");
    REQUIRE(run_handshake(established_client, established_server).server == TlsStatus::Ok);
    // Accepted under the old set, ClientHello not yet received.
    TlsSession pending_server(old_set->default_context(), true);

    old_set.reset();

    std::string wire;
    std::string plain;
    REQUIRE(established_client.send("still here", wire) == TlsStatus::Ok);
    REQUIRE(established_server.receive(wire, plain, wire) == TlsStatus::Ok);
    CHECK(plain == "still here");

    TlsSession late_client(client_ctx.get(), false);
    late_client.set_peer_name("b.example");
    REQUIRE(run_handshake(late_client, pending_server).server == TlsStatus::Ok);
    // The old set is gone, so no SNI switch: the old default certificate.
    CHECK(common_name(late_client.peer_certificate()) == "a.example");
}

namespace {

// A client context that keeps every session ticket the server sends.
struct TicketKeepingClient {
    SslCtxPtr ctx{SSL_CTX_new(TLS_client_method())};
    std::vector<SSL_SESSION*> tickets;

    TicketKeepingClient() {
        SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_NONE, nullptr);
        SSL_CTX_set_app_data(ctx.get(), this);
        SSL_CTX_set_session_cache_mode(ctx.get(), SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
        SSL_CTX_sess_set_new_cb(ctx.get(), [](SSL* ssl, SSL_SESSION* session) {
            static_cast<TicketKeepingClient*>(SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl)))->tickets.push_back(session);
            return 1;  // kept
        });
    }
    ~TicketKeepingClient() {
        for (SSL_SESSION* s : tickets) SSL_SESSION_free(s);
    }
};

// The server sends a ticket (after the login, in parleyd) and the client reads it.
void deliver_ticket(TlsSession& server, TlsSession& client) {
    std::string to_client, plaintext, to_server;
    REQUIRE(server.issue_ticket(to_client));
    REQUIRE(client.receive(to_client, plaintext, to_server) == TlsStatus::Ok);
    CHECK(plaintext.empty());
}

// A new connection offering the keeper's first ticket; returns the server's
// side, for the caller to check whether it resumed.
std::unique_ptr<TlsSession> reconnect_with_ticket(SSL_CTX* server_ctx, TicketKeepingClient& keeper,
                                                  const char* host) {
    REQUIRE_FALSE(keeper.tickets.empty());
    auto server = std::make_unique<TlsSession>(server_ctx, true);
    TlsSession client(keeper.ctx.get(), false);
    client.set_peer_name(host);
    REQUIRE(SSL_set_session(client.native_handle(), keeper.tickets.front()) == 1);
    REQUIRE(run_handshake(client, *server).client == TlsStatus::Ok);
    return server;
}

}  // namespace

TEST_CASE("a returning client resumes its TLS session with the one ticket it was given (RFC 8446 §2.2)") {
    Fixture f;
    for (const char* host : {"a.example", "b.example"}) {  // the default context, and one chosen by SNI
        CAPTURE(host);
        TicketKeepingClient keeper;
        TlsSession first_server(f.servers.default_context(), true);
        TlsSession first_client(keeper.ctx.get(), false);
        first_client.set_peer_name(host);
        REQUIRE(run_handshake(first_client, first_server).client == TlsStatus::Ok);
        CHECK_FALSE(SSL_session_reused(first_server.native_handle()));
        CHECK(keeper.tickets.empty());  // none with the handshake: only issue_ticket() sends one
        deliver_ticket(first_server, first_client);
        REQUIRE(keeper.tickets.size() == 1);

        auto again = reconnect_with_ticket(f.servers.default_context(), keeper, host);
        CHECK(SSL_session_reused(again->native_handle()));
        CHECK(served_common_name(*again) == host);
    }
}

TEST_CASE("a ticket from one context set resumes on another built with the same ticket keys (reload)") {
    TestPki pki;
    auto a = pki.issue({"a.example"});
    std::string error;
    const TicketKeys keys = TicketKeys::generate();
    auto make_set = [&](const TicketKeys& k) {
        auto set = std::make_unique<TlsContextSet>(k);
        REQUIRE_MESSAGE(set->add_host("a.example", a.cert, a.key, error), error);
        return set;
    };
    auto before = make_set(keys);
    TicketKeepingClient keeper;
    TlsSession first_server(before->default_context(), true);
    TlsSession first_client(keeper.ctx.get(), false);
    first_client.set_peer_name("a.example");
    REQUIRE(run_handshake(first_client, first_server).client == TlsStatus::Ok);
    deliver_ticket(first_server, first_client);
    REQUIRE(keeper.tickets.size() == 1);

    for (bool same_keys : {true, false}) {
        CAPTURE(same_keys);
        auto after = make_set(same_keys ? keys : TicketKeys::generate());
        auto server = reconnect_with_ticket(after->default_context(), keeper, "a.example");
        CHECK(SSL_session_reused(server->native_handle()) == (same_keys ? 1 : 0));
    }
}

TEST_CASE("a TLS 1.2 client still gets its RFC 5077 ticket within the handshake, and resumes with it") {
    Fixture f;
    TicketKeepingClient keeper;
    SSL_CTX_set_max_proto_version(keeper.ctx.get(), TLS1_2_VERSION);
    TlsSession first_server(f.servers.default_context(), true);
    TlsSession first_client(keeper.ctx.get(), false);
    first_client.set_peer_name("a.example");
    REQUIRE(run_handshake(first_client, first_server).client == TlsStatus::Ok);
    REQUIRE(first_server.protocol_version() == "TLSv1.2");
    REQUIRE(keeper.tickets.size() == 1);

    auto again = reconnect_with_ticket(f.servers.default_context(), keeper, "a.example");
    CHECK(SSL_session_reused(again->native_handle()));
}

TEST_CASE("an s2s peer context sends no session ticket") {
    TestPki pki;
    SslCtxPtr server_ctx = s2s_server_context(pki);
    TicketKeepingClient keeper;
    TlsSession server(server_ctx.get(), true);
    TlsSession client(keeper.ctx.get(), false);
    client.set_peer_name("a.example");
    REQUIRE(run_handshake(client, server).client == TlsStatus::Ok);
    CHECK(server.protocol_version() == "TLSv1.3");
    CHECK(keeper.tickets.empty());
}
