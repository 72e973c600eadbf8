#include "xmpp/stringprep.hpp"

#include <stringprep.h>

#include <cstdlib>
#include <memory>
#include <string_view>

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

// Printable ASCII is what nearly every JID is made of, and for it the four
// profiles need no tables: nameprep and nodeprep only fold case (RFC 3454
// table B.2), nodeprep also prohibits space and "&'/:<>@ (RFC 3920 A.5),
// resourceprep and SASLprep change nothing. Going through libidn's UCS-4
// conversion for it cost a third of the CPU of routing a message.
std::optional<std::optional<std::string>> printable_ascii(std::string_view input, StringprepProfile profile) {
    for (char c : input) {
        if (c < 0x20 || c > 0x7e) return std::nullopt;  // not this fast path
    }
    std::string out(input);
    if (profile == StringprepProfile::Resourceprep || profile == StringprepProfile::Saslprep) return out;
    for (char& c : out) {
        if (profile == StringprepProfile::Nodeprep && std::string_view(" \"&'/:<>@").find(c) != std::string_view::npos) {
            return std::optional<std::string>();  // prohibited
        }
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    }
    return out;
}

}  // namespace

std::optional<std::string> apply_stringprep(std::string_view input, StringprepProfile profile) {
    if (std::optional<std::optional<std::string>> fast = printable_ascii(input, profile)) return *fast;
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
