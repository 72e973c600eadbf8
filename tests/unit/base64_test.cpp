#include <doctest/doctest.h>

#include "core/base64.hpp"

using parley::core::base64_decode;
using parley::core::base64_encode;

TEST_CASE("base64 RFC 4648 §10 test vectors round-trip") {
    const std::pair<const char*, const char*> vectors[] = {
        {"", ""},           {"f", "Zg=="},         {"fo", "Zm8="},
        {"foo", "Zm9v"},    {"foob", "Zm9vYg=="},  {"fooba", "Zm9vYmE="},
        {"foobar", "Zm9vYmFy"},
    };
    for (const auto& [plain, encoded] : vectors) {
        CHECK(base64_encode(plain) == encoded);
        auto decoded = base64_decode(encoded);
        REQUIRE(decoded.has_value());
        CHECK(*decoded == plain);
    }
}

TEST_CASE("base64 handles binary bytes") {
    std::string bytes;
    for (int i = 0; i < 256; ++i) bytes += char(i);
    auto encoded = base64_encode(bytes);
    CHECK(encoded.size() == 344);
    CHECK(base64_decode(encoded) == bytes);
    CHECK(base64_encode(std::string("\xff\xfe\x00", 3)) == "//4A");
}

TEST_CASE("base64 decoder is strict") {
    CHECK_FALSE(base64_decode("Zg").has_value());         // missing padding
    CHECK_FALSE(base64_decode("Zg=").has_value());        // bad length
    CHECK_FALSE(base64_decode("Zh==").has_value());       // non-zero pad bits
    CHECK_FALSE(base64_decode("Zm9=").has_value());       // non-zero pad bits
    CHECK_FALSE(base64_decode("Z===").has_value());       // too much padding
    CHECK_FALSE(base64_decode("====").has_value());
    CHECK_FALSE(base64_decode("Zg==Zg==").has_value());   // padding mid-stream
    CHECK_FALSE(base64_decode("Zm=v").has_value());       // '=' then data
    CHECK_FALSE(base64_decode("Zm9 ").has_value());       // whitespace
    CHECK_FALSE(base64_decode("Zm9-").has_value());       // URL alphabet
    CHECK_FALSE(base64_decode(std::string_view("Zm9\0", 4)).has_value());
}
