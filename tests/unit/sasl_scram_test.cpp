#include <doctest/doctest.h>

#include <optional>
#include <stdexcept>
#include <string>
#include <variant>

#include "core/base64.hpp"
#include "xmpp/sasl/condition.hpp"
#include "xmpp/sasl/mechanism.hpp"
#include "xmpp/sasl/saslprep.hpp"
#include "xmpp/sasl/scram_client.hpp"
#include "xmpp/sasl/scram_credential.hpp"
#include "xmpp/sasl/scram_server.hpp"

using namespace parley::xmpp::sasl;
using parley::core::base64_decode;
using parley::core::base64_encode;

namespace {

constexpr uint32_t test_iterations = 4096;

// Channel-binding data of a pretend TLS connection.
const std::string exporter_data = std::string("\x01\x02\x03\x00\xff exporter-32-bytes-of-keying-xx", 35);
const std::string end_point_data = std::string(32, '\x5a');

std::optional<std::string> connection_cb_data(std::string_view type) {
    if (type == cb_tls_exporter) return exporter_data;
    if (type == cb_tls_server_end_point) return end_point_data;
    return std::nullopt;
}

ScramCredential credential_for(ScramHash hash, std::string_view password) {
    return derive_scram_credential(hash, password, "fixed-test-salt!", test_iterations);
}

std::optional<SaslCondition> condition_of(const std::variant<ScramClientFirst, SaslCondition>& r) {
    if (auto* c = std::get_if<SaslCondition>(&r)) return *c;
    return std::nullopt;
}

std::optional<SaslCondition> condition_of(const std::variant<std::string, SaslCondition>& r) {
    if (auto* c = std::get_if<SaslCondition>(&r)) return *c;
    return std::nullopt;
}

// Runs a whole exchange between `client` and `server`; returns the failure
// condition, or nullopt when both sides accept.
std::optional<SaslCondition> run_exchange(ScramClient& client, ScramServer& server,
                                          const ScramCredential& credential) {
    auto first = server.client_first(client.first_message());
    if (auto c = condition_of(first)) return c;
    auto client_final = client.final_message(server.server_first(credential));
    REQUIRE(client_final);
    auto result = server.client_final(*client_final);
    if (auto c = condition_of(result)) return c;
    CHECK(server.succeeded());
    CHECK(client.verify_server_final(std::get<std::string>(result)));
    return std::nullopt;
}

}  // namespace

TEST_CASE("mechanism names") {
    CHECK(parse_scram_mechanism("SCRAM-SHA-1") == ScramMechanism{ScramHash::Sha1, false});
    CHECK(parse_scram_mechanism("SCRAM-SHA-1-PLUS") == ScramMechanism{ScramHash::Sha1, true});
    CHECK(parse_scram_mechanism("SCRAM-SHA-256") == ScramMechanism{ScramHash::Sha256, false});
    CHECK(parse_scram_mechanism("SCRAM-SHA-256-PLUS") == ScramMechanism{ScramHash::Sha256, true});
    CHECK(parse_scram_mechanism("SCRAM-SHA-512") == ScramMechanism{ScramHash::Sha512, false});
    CHECK(parse_scram_mechanism("SCRAM-SHA-512-PLUS") == ScramMechanism{ScramHash::Sha512, true});
    CHECK_FALSE(parse_scram_mechanism("scram-sha-1"));
    CHECK_FALSE(parse_scram_mechanism("SCRAM-SHA-384"));
    CHECK_FALSE(parse_scram_mechanism("PLAIN"));
    CHECK_FALSE(parse_scram_mechanism(""));
    CHECK(scram_mechanism_name(ScramHash::Sha256, true) == "SCRAM-SHA-256-PLUS");
    CHECK(scram_mechanism_name(ScramHash::Sha1, false) == "SCRAM-SHA-1");
}

TEST_CASE("condition element names (RFC 6120 §6.5)") {
    CHECK(sasl_condition_name(SaslCondition::Aborted) == "aborted");
    CHECK(sasl_condition_name(SaslCondition::AccountDisabled) == "account-disabled");
    CHECK(sasl_condition_name(SaslCondition::CredentialsExpired) == "credentials-expired");
    CHECK(sasl_condition_name(SaslCondition::EncryptionRequired) == "encryption-required");
    CHECK(sasl_condition_name(SaslCondition::IncorrectEncoding) == "incorrect-encoding");
    CHECK(sasl_condition_name(SaslCondition::InvalidAuthzid) == "invalid-authzid");
    CHECK(sasl_condition_name(SaslCondition::InvalidMechanism) == "invalid-mechanism");
    CHECK(sasl_condition_name(SaslCondition::MalformedRequest) == "malformed-request");
    CHECK(sasl_condition_name(SaslCondition::MechanismTooWeak) == "mechanism-too-weak");
    CHECK(sasl_condition_name(SaslCondition::NotAuthorized) == "not-authorized");
    CHECK(sasl_condition_name(SaslCondition::TemporaryAuthFailure) == "temporary-auth-failure");
}

TEST_CASE("SASLprep, RFC 4013 §3 examples") {
    CHECK(saslprep("I\u00ADX") == "IX");     // SOFT HYPHEN mapped to nothing
    CHECK(saslprep("user") == "user");
    CHECK(saslprep("USER") == "USER");       // case preserved
    CHECK(saslprep("\u00AA") == "a");        // NFKC
    CHECK(saslprep("\u2168") == "IX");       // NFKC
    CHECK_FALSE(saslprep("\u0007"));         // prohibited character
    CHECK_FALSE(saslprep("\u0627\u0031"));   // bidi check
}

TEST_CASE("SASLprep, further cases") {
    CHECK(saslprep("") == "");
    CHECK(saslprep("a\u00A0b") == "a b");             // non-ASCII space -> SPACE
    CHECK(saslprep("\u0627\u0031\u0628") == "\u0627\u0031\u0628");  // RandALCat at both ends
    CHECK(saslprep("\U0001F511") == "\U0001F511");    // unassigned in Unicode 3.2: allowed (query mode)
    CHECK_FALSE(saslprep("\xff"));
    CHECK_FALSE(saslprep(std::string_view("a\0b", 3)));
    CHECK_FALSE(saslprep("\u200E"));                 // LEFT-TO-RIGHT MARK prohibited (C.8)
}

TEST_CASE("RFC 5802 §5 SCRAM-SHA-1 example, exact messages") {
    const std::string salt = *base64_decode("QSXCR+Q6sek8bf92");
    const ScramCredential credential = derive_scram_credential(ScramHash::Sha1, "pencil", salt, 4096);
    CHECK(credential.salt == salt);
    CHECK(credential.iterations == 4096);
    CHECK(credential.stored_key.size() == 20);
    CHECK(credential.server_key.size() == 20);

    ScramClient client(ScramHash::Sha1, "user", "pencil", {.nonce = "fyko+d2lbbFgONRv9qkxdawL"});
    CHECK(client.first_message() == "n,,n=user,r=fyko+d2lbbFgONRv9qkxdawL");

    ScramServer server(ScramHash::Sha1, false, false, nullptr, "3rfcNHYJY1ZVvWVs7j");
    auto first = server.client_first("n,,n=user,r=fyko+d2lbbFgONRv9qkxdawL");
    REQUIRE(std::holds_alternative<ScramClientFirst>(first));
    CHECK(std::get<ScramClientFirst>(first).username == "user");
    CHECK(std::get<ScramClientFirst>(first).authzid == "");

    const std::string server_first = server.server_first(credential);
    CHECK(server_first == "r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096");

    const std::string rfc_client_final =
        "c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=";
    CHECK(client.final_message(server_first) == rfc_client_final);

    auto result = server.client_final(rfc_client_final);
    REQUIRE(std::holds_alternative<std::string>(result));
    CHECK(std::get<std::string>(result) == "v=rmF9pqV8S7suAoZWja4dJRkFsKQ=");
    CHECK(server.succeeded());
    CHECK(client.verify_server_final("v=rmF9pqV8S7suAoZWja4dJRkFsKQ="));
    CHECK_FALSE(client.verify_server_final("v=rmF9pqV8S7suAoZWja4dJRkFsKR="));
    CHECK_FALSE(client.verify_server_final("e=invalid-proof"));
}

TEST_CASE("RFC 7677 §3 SCRAM-SHA-256 example, exact messages") {
    const std::string salt = *base64_decode("W22ZaJ0SNY7soEsUEjb6gQ==");
    const ScramCredential credential = derive_scram_credential(ScramHash::Sha256, "pencil", salt, 4096);

    ScramClient client(ScramHash::Sha256, "user", "pencil", {.nonce = "rOprNGfwEbeRWgbNEkqO"});
    CHECK(client.first_message() == "n,,n=user,r=rOprNGfwEbeRWgbNEkqO");

    ScramServer server(ScramHash::Sha256, false, false, nullptr, "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0");
    REQUIRE(std::holds_alternative<ScramClientFirst>(server.client_first(client.first_message())));
    const std::string server_first = server.server_first(credential);
    CHECK(server_first ==
          "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096");

    const std::string rfc_client_final =
        "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
        "p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=";
    CHECK(client.final_message(server_first) == rfc_client_final);
    auto result = server.client_final(rfc_client_final);
    REQUIRE(std::holds_alternative<std::string>(result));
    CHECK(std::get<std::string>(result) == "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=");
}

TEST_CASE("SCRAM-SHA-512 full exchange with random nonces and salt") {
    const ScramCredential credential =
        derive_scram_credential(ScramHash::Sha512, "s3cr\u00EBt", make_scram_salt(), test_iterations);
    CHECK(credential.salt.size() == scram_salt_bytes);
    CHECK(credential.stored_key.size() == 64);
    ScramClient client(ScramHash::Sha512, "juliet", "s3cr\u00EBt");
    ScramServer server(ScramHash::Sha512, false, false, nullptr);
    CHECK(run_exchange(client, server, credential) == std::nullopt);
}

TEST_CASE("usernames and authzids are saslname-decoded") {
    ScramClient client(ScramHash::Sha256, "us=er,x", "pw", {.authzid = "admin,=x@example.com"});
    CHECK(client.first_message().substr(0, 37) == "n,a=admin=2C=3Dx@example.com,n=us=3De");
    ScramServer server(ScramHash::Sha256, false, false, nullptr);
    auto first = server.client_first(client.first_message());
    REQUIRE(std::holds_alternative<ScramClientFirst>(first));
    CHECK(std::get<ScramClientFirst>(first).username == "us=er,x");
    CHECK(std::get<ScramClientFirst>(first).authzid == "admin,=x@example.com");
}

TEST_CASE("-PLUS with tls-exporter and tls-server-end-point") {
    const ScramCredential credential = credential_for(ScramHash::Sha256, "pencil");
    for (std::string_view type : {cb_tls_exporter, cb_tls_server_end_point}) {
        CAPTURE(type);
        const std::string data = *connection_cb_data(type);

        SUBCASE("matching data succeeds") {
            ScramClient client(ScramHash::Sha256, "user", "pencil",
                               {.cb_type = std::string(type), .cb_data = data});
            CHECK(client.first_message().substr(0, 2 + type.size() + 2) == "p=" + std::string(type) + ",,");
            ScramServer server(ScramHash::Sha256, true, true, connection_cb_data);
            CHECK(run_exchange(client, server, credential) == std::nullopt);
            CHECK(server.channel_binding_type() == type);
        }
        SUBCASE("c= carries gs2 header + data") {
            ScramClient client(ScramHash::Sha256, "user", "pencil",
                               {.cb_type = std::string(type), .cb_data = data});
            ScramServer server(ScramHash::Sha256, true, true, connection_cb_data);
            REQUIRE(std::holds_alternative<ScramClientFirst>(server.client_first(client.first_message())));
            auto final_message = client.final_message(server.server_first(credential));
            REQUIRE(final_message);
            const std::string expected_c = "c=" + base64_encode("p=" + std::string(type) + ",," + data) + ",";
            CHECK(final_message->substr(0, expected_c.size()) == expected_c);
        }
        SUBCASE("mismatching data (another TLS connection) fails") {
            ScramClient client(ScramHash::Sha256, "user", "pencil",
                               {.cb_type = std::string(type), .cb_data = data + "x"});
            ScramServer server(ScramHash::Sha256, true, true, connection_cb_data);
            CHECK(run_exchange(client, server, credential) == SaslCondition::NotAuthorized);
            CHECK_FALSE(server.succeeded());
        }
        SUBCASE("data unavailable on this connection fails at client-first") {
            ScramClient client(ScramHash::Sha256, "user", "pencil",
                               {.cb_type = std::string(type), .cb_data = data});
            ScramServer server(ScramHash::Sha256, true, true,
                               [](std::string_view) -> std::optional<std::string> { return std::nullopt; });
            CHECK(condition_of(server.client_first(client.first_message())) == SaslCondition::NotAuthorized);
        }
    }
}

TEST_CASE("channel-binding flag policy (RFC 5802 §6)") {
    const auto first_with = [](std::string_view gs2) { return std::string(gs2) + "n=user,r=abcdef"; };

    SUBCASE("unsupported type") {
        ScramServer server(ScramHash::Sha256, true, true, connection_cb_data);
        CHECK(condition_of(server.client_first(first_with("p=tls-unique,,"))) == SaslCondition::NotAuthorized);
    }
    SUBCASE("'p' with a non-PLUS mechanism") {
        ScramServer server(ScramHash::Sha256, false, true, connection_cb_data);
        CHECK(condition_of(server.client_first(first_with("p=tls-exporter,,"))) == SaslCondition::NotAuthorized);
    }
    SUBCASE("'n' with a -PLUS mechanism") {
        ScramServer server(ScramHash::Sha256, true, true, connection_cb_data);
        CHECK(condition_of(server.client_first(first_with("n,,"))) == SaslCondition::NotAuthorized);
    }
    SUBCASE("'y' with a -PLUS mechanism") {
        ScramServer server(ScramHash::Sha256, true, true, connection_cb_data);
        CHECK(condition_of(server.client_first(first_with("y,,"))) == SaslCondition::NotAuthorized);
    }
    SUBCASE("'y' while the server offers -PLUS is a downgrade") {
        ScramServer server(ScramHash::Sha256, false, true, connection_cb_data);
        CHECK(condition_of(server.client_first(first_with("y,,"))) == SaslCondition::NotAuthorized);
    }
    SUBCASE("'y' when the server offers no -PLUS completes") {
        const ScramCredential credential = credential_for(ScramHash::Sha256, "pencil");
        ScramClient client(ScramHash::Sha256, "user", "pencil", {.client_supports_binding = true});
        CHECK(client.first_message().substr(0, 3) == "y,,");
        ScramServer server(ScramHash::Sha256, false, false, connection_cb_data);
        CHECK(run_exchange(client, server, credential) == std::nullopt);
    }
    SUBCASE("'n' while the server offers -PLUS completes (client cannot bind)") {
        const ScramCredential credential = credential_for(ScramHash::Sha256, "pencil");
        ScramClient client(ScramHash::Sha256, "user", "pencil");
        ScramServer server(ScramHash::Sha256, false, true, connection_cb_data);
        CHECK(run_exchange(client, server, credential) == std::nullopt);
    }
    SUBCASE("c= must repeat the gs2 header: 'y' header claimed as 'n'") {
        const ScramCredential credential = credential_for(ScramHash::Sha256, "pencil");
        ScramServer server(ScramHash::Sha256, false, false, nullptr, "SERVERNONCE");
        REQUIRE(std::holds_alternative<ScramClientFirst>(server.client_first("y,,n=user,r=abc")));
        server.server_first(credential);
        // c=biws is base64("n,,"), but the header was "y,,".
        CHECK(condition_of(server.client_final("c=biws,r=abcSERVERNONCE,p=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="))
              == SaslCondition::NotAuthorized);
    }
}

TEST_CASE("wrong password fails at the proof") {
    const ScramCredential credential = credential_for(ScramHash::Sha256, "pencil");
    ScramClient client(ScramHash::Sha256, "user", "crayon");
    ScramServer server(ScramHash::Sha256, false, false, nullptr);
    CHECK(run_exchange(client, server, credential) == SaslCondition::NotAuthorized);
    CHECK_FALSE(server.succeeded());
}

TEST_CASE("tampered nonce fails") {
    const ScramCredential credential = credential_for(ScramHash::Sha1, "pencil");
    ScramClient client(ScramHash::Sha1, "user", "pencil", {.nonce = "clientnonce"});
    ScramServer server(ScramHash::Sha1, false, false, nullptr, "servernonce");
    REQUIRE(std::holds_alternative<ScramClientFirst>(server.client_first(client.first_message())));
    auto final_message = client.final_message(server.server_first(credential));
    REQUIRE(final_message);
    const std::size_t at = final_message->find("servernonce");
    REQUIRE(at != std::string::npos);
    std::string tampered = *final_message;
    tampered[at] = 'S';
    CHECK(condition_of(server.client_final(tampered)) == SaslCondition::NotAuthorized);
    // The exchange is over: even the genuine message is refused now.
    CHECK(condition_of(server.client_final(*final_message)) == SaslCondition::MalformedRequest);
}

TEST_CASE("the client refuses a server-first that does not extend its nonce") {
    ScramClient client(ScramHash::Sha1, "user", "pencil", {.nonce = "abc"});
    CHECK_FALSE(client.final_message("r=abd123,s=QSXCR+Q6sek8bf92,i=4096"));
    CHECK_FALSE(client.final_message("r=abc,s=QSXCR+Q6sek8bf92,i=4096"));   // adds nothing
    CHECK_FALSE(client.final_message("r=abc1,s=QSXCR+Q6sek8bf92,i=0"));
    CHECK_FALSE(client.final_message("r=abc1,s=QSXCR+Q6sek8bf92,i=04096"));
    CHECK_FALSE(client.final_message("r=abc1,s=QSXCR+Q6sek8bf92,i=99999999999"));
    CHECK_FALSE(client.final_message("r=abc1,s=QSXCR+Q6sek8bf92,i=2000000"));  // over max_iterations
    CHECK_FALSE(client.final_message("r=abc1,s=,i=4096"));
    CHECK_FALSE(client.final_message("m=x,r=abc1,s=QSXCR+Q6sek8bf92,i=4096"));
    CHECK(client.final_message("r=abc1,s=QSXCR+Q6sek8bf92,i=1"));
}

TEST_CASE("fake credentials: stable salt per user, never a match") {
    const auto a1 = fake_scram_credential(ScramHash::Sha256, "ghost", "server-secret", 4096);
    const auto a2 = fake_scram_credential(ScramHash::Sha256, "ghost", "server-secret", 4096);
    const auto b = fake_scram_credential(ScramHash::Sha256, "other", "server-secret", 4096);
    const auto a_sha1 = fake_scram_credential(ScramHash::Sha1, "ghost", "server-secret", 4096);
    const auto a_other_secret = fake_scram_credential(ScramHash::Sha256, "ghost", "another-secret", 4096);
    CHECK(a1.salt.size() == scram_salt_bytes);
    CHECK(a1.salt == a2.salt);
    CHECK(a1.salt != b.salt);
    CHECK(a1.salt != a_sha1.salt);
    CHECK(a1.salt != a_other_secret.salt);
    CHECK(a1.iterations == 4096);
    CHECK(a1.hash == ScramHash::Sha256);
    CHECK(a1.stored_key.size() == 32);
    CHECK(a1.server_key.size() == 32);
    CHECK(a_sha1.stored_key.size() == 20);
    CHECK(a1.stored_key != a2.stored_key);

    ScramClient client(ScramHash::Sha256, "ghost", "anything");
    ScramServer server(ScramHash::Sha256, false, false, nullptr);
    REQUIRE(std::holds_alternative<ScramClientFirst>(server.client_first(client.first_message())));
    const std::string server_first = server.server_first(a1);
    CHECK(server_first.find(",s=" + base64_encode(a1.salt) + ",i=4096") != std::string::npos);
    auto final_message = client.final_message(server_first);
    REQUIRE(final_message);
    CHECK(condition_of(server.client_final(*final_message)) == SaslCondition::NotAuthorized);
}

TEST_CASE("derive_scram_credential rejects an iteration count of 0") {
    CHECK_THROWS_AS(derive_scram_credential(ScramHash::Sha1, "pencil", "salt", 0), std::invalid_argument);
}

TEST_CASE("a credential of another hash family is a temporary failure") {
    const ScramCredential sha1 = credential_for(ScramHash::Sha1, "pencil");
    ScramClient client(ScramHash::Sha256, "user", "pencil");
    ScramServer server(ScramHash::Sha256, false, false, nullptr);
    CHECK(run_exchange(client, server, sha1) == SaslCondition::TemporaryAuthFailure);
}

TEST_CASE("every truncation of a valid client-first fails cleanly or parses its prefix") {
    const std::string message = "n,,n=user,r=fyko+d2lbbFgONRv9qkxdawL";
    const std::size_t shortest_valid = std::string("n,,n=user,r=f").size();
    for (std::size_t length = 0; length <= message.size(); ++length) {
        CAPTURE(length);
        ScramServer server(ScramHash::Sha1, false, false, nullptr, "srv");
        auto result = server.client_first(std::string_view(message).substr(0, length));
        if (length < shortest_valid) {
            CHECK(condition_of(result) == SaslCondition::MalformedRequest);
        } else {
            // Any non-empty nonce is acceptable: the prefix is itself a valid message.
            REQUIRE(std::holds_alternative<ScramClientFirst>(result));
            CHECK(server.server_first(credential_for(ScramHash::Sha1, "pencil")).substr(0, 2 + length - 12) ==
                  "r=" + message.substr(12, length - 12));
        }
    }
}

TEST_CASE("every truncation of a valid client-final fails cleanly") {
    const std::string salt = *base64_decode("QSXCR+Q6sek8bf92");
    const ScramCredential credential = derive_scram_credential(ScramHash::Sha1, "pencil", salt, 4096);
    const std::string message =
        "c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=";
    for (std::size_t length = 0; length < message.size(); ++length) {
        CAPTURE(length);
        ScramServer server(ScramHash::Sha1, false, false, nullptr, "3rfcNHYJY1ZVvWVs7j");
        REQUIRE(std::holds_alternative<ScramClientFirst>(server.client_first("n,,n=user,r=fyko+d2lbbFgONRv9qkxdawL")));
        server.server_first(credential);
        auto result = server.client_final(std::string_view(message).substr(0, length));
        REQUIRE(condition_of(result).has_value());
        CHECK((*condition_of(result) == SaslCondition::MalformedRequest ||
               *condition_of(result) == SaslCondition::NotAuthorized));
        CHECK_FALSE(server.succeeded());
    }
}

TEST_CASE("malformed client-first messages") {
    const char* cases[] = {
        "",
        "n",
        "n,",
        "n,,",
        "x,,n=user,r=abc",            // unknown gs2 flag
        "p,,n=user,r=abc",            // 'p' without '='
        "p=,,n=user,r=abc",           // empty cb-name
        "p=tls_exporter,,n=user,r=abc",  // '_' not allowed in cb-name
        "n,b=x,n=user,r=abc",         // authzid must be a=
        "n,a=,n=user,r=abc",          // empty authzid
        "n,a=x=2,n=user,r=abc",       // bad escape in authzid
        "n,,r=abc,n=user",            // order
        "n,,n=user",                  // no nonce
        "n,,n=,r=abc",                // empty username
        "n,,n=us=er,r=abc",           // bare '=' in username
        "n,,n=user=2c,r=abc",         // escapes are upper case
        "n,,n=user,r=",               // empty nonce
        "n,,n=user,r=ab c",           // space not printable per grammar
        "n,,n=user,r=abc,",           // trailing comma
        "n,,n=user,r=abc,x",          // extension without value
        "n,,m=ext,n=user,r=abc",      // mandatory extension (RFC 5802 §5.1)
        "n,,n=us\xffr,r=abc",         // invalid UTF-8
        "n,,n=\xc0\xafuser,r=abc",    // overlong UTF-8
        "n,,n=user,r=abc\x7f",        // DEL in nonce
        "N,,n=user,r=abc",
    };
    for (const char* message : cases) {
        CAPTURE(message);
        ScramServer server(ScramHash::Sha256, false, false, nullptr);
        CHECK(condition_of(server.client_first(message)) == SaslCondition::MalformedRequest);
    }
    ScramServer server(ScramHash::Sha256, false, false, nullptr);
    CHECK(condition_of(server.client_first(std::string_view("n,,n=us\0r,r=abc", 15))) ==
          SaslCondition::MalformedRequest);
}

TEST_CASE("optional extensions after the nonce are ignored") {
    ScramServer server(ScramHash::Sha256, false, false, nullptr, "S");
    auto result = server.client_first("n,,n=user,r=abc,x=extension");
    REQUIRE(std::holds_alternative<ScramClientFirst>(result));
    CHECK(server.server_first(credential_for(ScramHash::Sha256, "pw")).substr(0, 7) == "r=abcS,");
}

TEST_CASE("malformed client-final messages") {
    const ScramCredential credential = credential_for(ScramHash::Sha1, "pencil");
    const std::string proof = base64_encode(std::string(20, 'x'));
    const std::string cases[] = {
        "r=abcS,c=biws,p=" + proof,            // order
        "c=biws,p=" + proof,                   // no nonce
        "c=biws,r=abcS",                       // no proof
        "c=biws,r=abcS,p=" + proof + ",x=y",   // proof not last
        "c=bi!s,r=abcS,p=" + proof,            // c= not base64
        "c=biws,r=abcS,p=AAAA",                // proof too short
        "c=biws,r=abcS,p=" + base64_encode(std::string(32, 'x')),  // SHA-256 sized proof
        "c=biws,r=abcS,p=" + proof.substr(0, proof.size() - 1),   // broken padding
        "c=biws,r=abcS,p=" + proof + "\xff",
    };
    for (const auto& message : cases) {
        CAPTURE(message);
        ScramServer server(ScramHash::Sha1, false, false, nullptr, "S");
        REQUIRE(std::holds_alternative<ScramClientFirst>(server.client_first("n,,n=user,r=abc")));
        server.server_first(credential);
        CHECK(condition_of(server.client_final(message)) == SaslCondition::MalformedRequest);
    }
}

TEST_CASE("steps out of order fail") {
    const ScramCredential credential = credential_for(ScramHash::Sha1, "pencil");
    SUBCASE("client-final before server-first") {
        ScramServer server(ScramHash::Sha1, false, false, nullptr, "S");
        REQUIRE(std::holds_alternative<ScramClientFirst>(server.client_first("n,,n=user,r=abc")));
        CHECK(condition_of(server.client_final("c=biws,r=abcS,p=AAAA")) == SaslCondition::MalformedRequest);
        CHECK(server.server_first(credential) == "");
    }
    SUBCASE("client-first twice") {
        ScramServer server(ScramHash::Sha1, false, false, nullptr, "S");
        REQUIRE(std::holds_alternative<ScramClientFirst>(server.client_first("n,,n=user,r=abc")));
        CHECK(condition_of(server.client_first("n,,n=user,r=abc")) == SaslCondition::MalformedRequest);
    }
    SUBCASE("server-first before client-first") {
        ScramServer server(ScramHash::Sha1, false, false, nullptr, "S");
        CHECK(server.server_first(credential) == "");
        CHECK(condition_of(server.client_first("n,,n=user,r=abc")) == SaslCondition::MalformedRequest);
    }
}

TEST_CASE("single-byte mutations of a client-first never crash and fail or parse") {
    const std::string message = "p=tls-exporter,a=admin,n=user,r=fyko+d2lbbFgONRv9qkxdawL";
    const char replacements[] = {'\0', ',', '=', 'p', 'n', 'y', '\x80', '\xff', ' '};
    for (std::size_t i = 0; i < message.size(); ++i) {
        for (char replacement : replacements) {
            std::string mutated = message;
            mutated[i] = replacement;
            ScramServer server(ScramHash::Sha256, true, true, connection_cb_data);
            auto result = server.client_first(mutated);
            if (auto condition = condition_of(result)) {
                CHECK((*condition == SaslCondition::MalformedRequest || *condition == SaslCondition::NotAuthorized));
            } else {
                CHECK_FALSE(std::get<ScramClientFirst>(result).username.empty());
            }
        }
    }
}
