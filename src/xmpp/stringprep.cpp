#include "xmpp/stringprep.hpp"

#include <stringprep.h>

#include <cstdlib>
#include <memory>

namespace parley::xmpp {
namespace {

const char* profile_name(StringprepProfile profile) {
    switch (profile) {
        case StringprepProfile::Nodeprep: return "Nodeprep";
        case StringprepProfile::Resourceprep: return "Resourceprep";
        case StringprepProfile::Nameprep: return "Nameprep";
        case StringprepProfile::Saslprep: return "SASLprep";
    }
    return "Nodeprep";
}

struct FreeDeleter {
    void operator()(char* p) const noexcept { std::free(p); }
};

}  // namespace

std::optional<std::string> apply_stringprep(std::string_view input, StringprepProfile profile) {
    // libidn works on NUL-terminated strings: an embedded NUL would silently
    // truncate the input, so it is refused here.
    if (input.find('\0') != std::string_view::npos) return std::nullopt;
    const std::string terminated(input);
    char* raw = nullptr;
    const int rc = stringprep_profile(terminated.c_str(), &raw, profile_name(profile),
                                      static_cast<Stringprep_profile_flags>(0));
    std::unique_ptr<char, FreeDeleter> output(raw);
    if (rc != STRINGPREP_OK || !output) return std::nullopt;
    return std::string(output.get());
}

}  // namespace parley::xmpp
