#pragma once
// State shared by the upload module's parts (slot requests, HTTP transfers,
// cleanup). Held by a shared_ptr that the module carries across reloads;
// database and file-system callbacks hold a weak_ptr, so one that completes
// after the module was disabled or the server shut down finds nothing and
// does nothing, while a transfer survives a SIGHUP reload.
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

#include <uv.h>

namespace parley::core {
class Logger;
}
namespace parley::store {
class PgClient;
}
namespace parley::xmpp {
class ModuleContext;
class Router;
}

namespace parley::modules::upload {

inline constexpr std::string_view kNs = "urn:xmpp:http:upload:0";

struct UploadState {
  std::string host;
  std::string component;   // upload.<host>
  std::string base_url;    // ends in '/'
  std::string route;       // "/upload/<host>/"
  std::filesystem::path dir;
  std::string secret;      // HMAC key for PUT URLs
  uint64_t max_file_size = 0;
  uint64_t quota = 0;
  int64_t slot_lifetime_ms = 0;
  int64_t expire_after_ms = 0;
  store::PgClient* db = nullptr;
  xmpp::Router* router = nullptr;
  core::Logger* log = nullptr;
  uv_loop_t* loop = nullptr;
  // Set once this process has removed what a stop left half-uploaded.
  bool swept_stopped_uploads = false;
};

// Slot ids: 128 random bits, base64url (RFC 4648 §5), unguessable.
std::string new_slot_id();
bool valid_slot_id(std::string_view id);
// HMAC-SHA-256 over everything the PUT must match, hex.
std::string sign_put(const UploadState& state, std::string_view slot, std::string_view filename, uint64_t size,
                     std::string_view content_type, int64_t expires);
bool signature_matches(std::string_view expected, std::string_view given);
// The secret from modules.upload.secret, or read from (or generated into)
// `file` (<modules.upload.path>/upload.secret) with mode 0600.
std::string load_secret(const std::string& configured, const std::filesystem::path& file, std::string& error);
// Removes a file without blocking the loop; errors (already gone) are ignored.
void unlink_async(uv_loop_t* loop, const std::filesystem::path& path, std::shared_ptr<void> hold = {});

void start_http(xmpp::ModuleContext& ctx, const std::shared_ptr<UploadState>& state);

}  // namespace parley::modules::upload
