#pragma once
// Thin, exception-free wrapper over libidn's stringprep (RFC 3454) for the
// profiles Parley needs. Internal to parley_proto; callers use the
// part-specific functions in jid.hpp and sasl/saslprep.hpp.

#include <optional>
#include <string>
#include <string_view>

namespace parley::xmpp {

enum class StringprepProfile {
    Nodeprep,      // RFC 3920 Appendix A
    Resourceprep,  // RFC 3920 Appendix B
    Nameprep,      // RFC 3491
    Saslprep,      // RFC 4013
};

// Applies the profile to UTF-8 input. Unassigned code points (relative to
// Unicode 3.2, libidn's tables) are allowed, as for "queries" in RFC 3454
// §7: strict "stored string" mode would reject every character added to
// Unicode since 2002 (emoji in resources, for one), which peers send.
// Returns nullopt for invalid UTF-8, embedded NUL, prohibited characters
// or a failed bidi check.
std::optional<std::string> apply_stringprep(std::string_view input, StringprepProfile profile);

}  // namespace parley::xmpp
