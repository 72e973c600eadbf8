#pragma once
// What the router needs to know about a stanza, computed once (STYLE.md
// principle 2), and the one place that builds stanza errors.
#include <optional>
#include <string>
#include <string_view>

#include "xml/element.hpp"
#include "xmpp/jid.hpp"

namespace parley::xmpp {

enum class StanzaKind { Message, Presence, Iq };

// RFC 6120 §8.3.2 error types.
enum class ErrorType { Auth, Cancel, Continue, Modify, Wait };
std::string_view error_type_name(ErrorType);

// RFC 6120 §8.3.3 conditions, with the type each one usually carries.
struct StanzaErrorCondition {
  std::string_view name;
  ErrorType type;
};
namespace errors {
inline constexpr StanzaErrorCondition bad_request{"bad-request", ErrorType::Modify};
inline constexpr StanzaErrorCondition conflict{"conflict", ErrorType::Cancel};
inline constexpr StanzaErrorCondition feature_not_implemented{"feature-not-implemented", ErrorType::Cancel};
inline constexpr StanzaErrorCondition forbidden{"forbidden", ErrorType::Auth};
inline constexpr StanzaErrorCondition internal_server_error{"internal-server-error", ErrorType::Cancel};
inline constexpr StanzaErrorCondition item_not_found{"item-not-found", ErrorType::Cancel};
inline constexpr StanzaErrorCondition jid_malformed{"jid-malformed", ErrorType::Modify};
inline constexpr StanzaErrorCondition not_acceptable{"not-acceptable", ErrorType::Modify};
inline constexpr StanzaErrorCondition not_allowed{"not-allowed", ErrorType::Cancel};
inline constexpr StanzaErrorCondition not_authorized{"not-authorized", ErrorType::Auth};
inline constexpr StanzaErrorCondition policy_violation{"policy-violation", ErrorType::Modify};
inline constexpr StanzaErrorCondition recipient_unavailable{"recipient-unavailable", ErrorType::Wait};
inline constexpr StanzaErrorCondition remote_server_not_found{"remote-server-not-found", ErrorType::Cancel};
inline constexpr StanzaErrorCondition remote_server_timeout{"remote-server-timeout", ErrorType::Wait};
inline constexpr StanzaErrorCondition resource_constraint{"resource-constraint", ErrorType::Wait};
inline constexpr StanzaErrorCondition service_unavailable{"service-unavailable", ErrorType::Cancel};
inline constexpr StanzaErrorCondition undefined_condition{"undefined-condition", ErrorType::Cancel};
inline constexpr StanzaErrorCondition unexpected_request{"unexpected-request", ErrorType::Wait};
}  // namespace errors

std::optional<StanzaKind> stanza_kind(const xml::Element&);

// The type attribute with RFC defaults applied: "normal" for messages,
// "available" for presence, as written for IQs.
std::string_view effective_type(const xml::Element&, StanzaKind);

// Whether a stanza may be answered with an error: never an error (RFC 6120
// §8.3.1), nor an IQ result, whose sender expects no reply at all (§8.2.3).
inline bool takes_error_reply(StanzaKind kind, std::string_view type) {
  return type != "error" && !(kind == StanzaKind::Iq && type == "result");
}

// Builds the error reply to `stanza` (RFC 6120 §8.3.1): addresses swapped,
// type="error", the original payload kept for IQs and dropped otherwise.
xml::Element make_error_reply(const xml::Element& stanza, StanzaErrorCondition condition,
                              std::string_view text = {});

// Builds an IQ result addressed back to the requester of `request`.
xml::Element make_iq_result(const xml::Element& request);

// A stream error element (RFC 6120 §4.9).
xml::Element make_stream_error(std::string_view condition, std::string_view text = {});

}  // namespace parley::xmpp
