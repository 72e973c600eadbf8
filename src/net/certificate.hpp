#pragma once
// Certificate generation for the quick start (self-signed localhost) and for
// tests (a throwaway CA issuing host certificates, e.g. for federation).
// Keys are ECDSA P-256 (fast to generate); signatures use SHA-256.

#include <filesystem>
#include <string>
#include <vector>

namespace parley::net {

// A CA's PEM files, as written by create_certificate_authority().
struct CertificateAuthority {
    std::filesystem::path key_file;
    std::filesystem::path cert_file;
};

// Writes a new CA key (mode 0600) and self-signed CA certificate
// (basicConstraints CA:TRUE, keyUsage keyCertSign|cRLSign), valid 10 years.
bool create_certificate_authority(const std::string& common_name, const std::filesystem::path& key_out,
                                  const std::filesystem::path& cert_out, std::string& error);

// Writes a new key (mode 0600) and a server/client certificate carrying one
// subjectAltName dNSName per entry of `names` (RFC 6125 §6.4; the first name
// is also the CN). Self-signed when `issuer` is null, else signed by it.
bool write_self_signed_certificate(const std::vector<std::string>& names,
                                   const std::filesystem::path& key_out,
                                   const std::filesystem::path& cert_out, std::string& error,
                                   const CertificateAuthority* issuer = nullptr);

}  // namespace parley::net
