#include "modules/disco/caps.hpp"

#include <openssl/evp.h>

#include <algorithm>
#include <vector>

#include "core/base64.hpp"

namespace parley::modules::disco {

std::string caps_ver(const xmpp::HostContext& host) {
  // Identities sort by category, type, xml:lang (none here), then features;
  // each entry ends with '<' (XEP-0115 §5.1 steps 2-5).
  std::vector<std::string> identities;
  for (const xmpp::DiscoIdentity& i : host.disco_identities()) {
    identities.push_back(i.category + "/" + i.type + "//" + i.name);
  }
  std::sort(identities.begin(), identities.end());
  std::string s;
  for (const std::string& i : identities) s += i + "<";
  for (const std::string& f : host.disco_features()) s += f + "<";  // a std::set: already sorted
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_Digest(s.data(), s.size(), digest, &length, EVP_sha1(), nullptr);
  return core::base64_encode(std::string_view(reinterpret_cast<const char*>(digest), length));
}

const std::string& CapsVerCache::ver() {
  if (generation_ != host_.disco_generation()) {
    ver_ = caps_ver(host_);
    generation_ = host_.disco_generation();
  }
  return ver_;
}

}  // namespace parley::modules::disco
