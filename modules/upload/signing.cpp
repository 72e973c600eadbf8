// Slot ids and PUT URL signatures (the XEP-0363 §8 concern that only the
// slot holder may upload, once, what was announced).
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <fstream>
#include <sstream>

#include "modules/upload/upload_state.hpp"

namespace parley::modules::upload {

namespace {
std::string hex(const unsigned char* data, size_t size) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (size_t i = 0; i < size; ++i) {
    out += kHex[data[i] >> 4];
    out += kHex[data[i] & 15];
  }
  return out;
}

std::string random_base64url(size_t bytes) {
  std::string raw(bytes, '\0');
  RAND_bytes(reinterpret_cast<unsigned char*>(raw.data()), static_cast<int>(bytes));
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  unsigned bits = 0;
  int count = 0;
  for (unsigned char c : raw) {
    bits = (bits << 8) | c;
    count += 8;
    while (count >= 6) {
      out += kAlphabet[(bits >> (count - 6)) & 63];
      count -= 6;
    }
  }
  if (count > 0) out += kAlphabet[(bits << (6 - count)) & 63];
  return out;
}
}  // namespace

std::string new_slot_id() { return random_base64url(16); }

bool valid_slot_id(std::string_view id) {
  if (id.size() != 22) return false;
  for (char c : id) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
    if (!ok) return false;
  }
  return true;
}

std::string sign_put(const UploadState& state, std::string_view slot, std::string_view filename, uint64_t size,
                     std::string_view content_type, int64_t expires) {
  // Fields separated by NUL, which none of them may contain, so no two
  // different slots sign the same bytes.
  std::string data = "PUT";
  for (std::string_view part : {std::string_view(state.host), slot, filename, content_type}) {
    data += '\0';
    data += part;
  }
  data += '\0';
  data += std::to_string(size);
  data += '\0';
  data += std::to_string(expires);
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  HMAC(EVP_sha256(), state.secret.data(), static_cast<int>(state.secret.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), mac, &length);
  return hex(mac, length);
}

bool signature_matches(std::string_view expected, std::string_view given) {
  return expected.size() == given.size() && CRYPTO_memcmp(expected.data(), given.data(), given.size()) == 0;
}

// Start-up only (module start), so plain blocking file I/O is acceptable.
std::string load_secret(const std::string& configured, const std::filesystem::path& file, std::string& error) {
  if (!configured.empty()) return configured;
  if (std::ifstream in(file); in) {
    std::stringstream text;
    text << in.rdbuf();
    std::string secret = text.str();
    if (secret.size() >= 32) return secret;
  }
  std::string secret = random_base64url(32);
  int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0 || ::write(fd, secret.data(), secret.size()) != static_cast<ssize_t>(secret.size())) {
    error = "cannot write " + file.string();
    if (fd >= 0) ::close(fd);
    return {};
  }
  ::close(fd);
  return secret;
}

namespace {
struct UnlinkRequest {
  uv_fs_t request;
  std::shared_ptr<void> hold;
};
}  // namespace

void unlink_async(uv_loop_t* loop, const std::filesystem::path& path, std::shared_ptr<void> hold) {
  auto* r = new UnlinkRequest{{}, std::move(hold)};
  r->request.data = r;
  int rc = uv_fs_unlink(loop, &r->request, path.c_str(), [](uv_fs_t* request) {
    std::unique_ptr<UnlinkRequest> done(static_cast<UnlinkRequest*>(request->data));
    uv_fs_req_cleanup(request);
  });
  if (rc < 0) {
    uv_fs_req_cleanup(&r->request);
    delete r;
  }
}

}  // namespace parley::modules::upload
