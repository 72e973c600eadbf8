#pragma once
// Shared fixtures for the net unit tests: a temporary directory holding a test
// CA and CA-issued host certificates.

#include "net/certificate.hpp"

#include <doctest/doctest.h>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

namespace parley::net::test {

class TempDir {
public:
    TempDir() {
        std::string pattern = (std::filesystem::temp_directory_path() / "parley-net-XXXXXX").string();
        REQUIRE(::mkdtemp(pattern.data()) != nullptr);
        path_ = pattern;
    }
    ~TempDir() {
        std::error_code ignored;
        std::filesystem::remove_all(path_, ignored);
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    const std::filesystem::path& path() const { return path_; }

private:
    std::filesystem::path path_;
};

// A test CA plus helpers to issue host certificates signed by it.
struct TestPki {
    TempDir dir;
    CertificateAuthority ca{dir.path() / "ca.key", dir.path() / "ca.crt"};

    TestPki() {
        std::string error;
        REQUIRE_MESSAGE(create_certificate_authority("Parley Test CA", ca.key_file, ca.cert_file, error), error);
    }

    struct Files {
        std::filesystem::path key;
        std::filesystem::path cert;
    };

    Files issue(const std::vector<std::string>& names) {
        Files files{dir.path() / (names.front() + ".key"), dir.path() / (names.front() + ".crt")};
        std::string error;
        REQUIRE_MESSAGE(write_self_signed_certificate(names, files.key, files.cert, error, &ca), error);
        return files;
    }
};

}  // namespace parley::net::test
