#include "xmpp/jid.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <tuple>

#include "xmpp/stringprep.hpp"

namespace parley::xmpp {
namespace {

// Preparation can shrink a part (characters mapped to nothing, RFC 3454
// B.1), so the 1023-byte limit applies to the output; this bound on the
// input only caps the work spent on hostile input.
constexpr std::size_t max_input_part_bytes = 4 * Jid::max_part_bytes;

std::optional<std::string> prep_part(std::string_view part, StringprepProfile profile) {
    if (part.empty() || part.size() > max_input_part_bytes) return std::nullopt;
    auto prepared = apply_stringprep(part, profile);
    if (!prepared || prepared->empty() || prepared->size() > Jid::max_part_bytes) {
        return std::nullopt;
    }
    return prepared;
}

bool is_ascii_ldh(char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
}

// RFC 7622 §3.2 allows an IPv6 literal in brackets (RFC 3986 §3.2.2). It is
// rewritten in its canonical text form so that equal addresses compare equal.
std::optional<std::string> prep_ipv6_literal(std::string_view domain) {
    if (domain.size() < 3 || domain.back() != ']') return std::nullopt;
    const std::string inner(domain.substr(1, domain.size() - 2));
    unsigned char address[16];
    if (inet_pton(AF_INET6, inner.c_str(), address) != 1) return std::nullopt;
    char text[INET6_ADDRSTRLEN];
    if (!inet_ntop(AF_INET6, address, text, sizeof text)) return std::nullopt;
    return "[" + std::string(text) + "]";
}

// After Nameprep: every label non-empty; ASCII characters limited to
// letters, digits and hyphen, with no hyphen at either end of a label
// (the STD3 rules that IDNA applies, RFC 3490 §4.1 / RFC 5891 §5.4).
// Non-ASCII labels are kept as U-labels, never converted to A-labels.
bool domain_labels_valid(std::string_view domain) {
    std::size_t start = 0;
    while (start <= domain.size()) {
        std::size_t end = domain.find('.', start);
        if (end == std::string_view::npos) end = domain.size();
        const std::string_view label = domain.substr(start, end - start);
        if (label.empty() || label.front() == '-' || label.back() == '-') return false;
        for (char c : label) {
            if (static_cast<unsigned char>(c) < 0x80 && !is_ascii_ldh(c)) return false;
        }
        start = end + 1;
    }
    return true;
}

}  // namespace

std::optional<std::string> prep_node(std::string_view node) {
    return prep_part(node, StringprepProfile::Nodeprep);
}

std::optional<std::string> prep_resource(std::string_view resource) {
    return prep_part(resource, StringprepProfile::Resourceprep);
}

std::optional<std::string> prep_domain(std::string_view domain) {
    // RFC 7622 §3.2: a final label separator is stripped before anything else.
    if (!domain.empty() && domain.back() == '.') domain.remove_suffix(1);
    if (domain.empty()) return std::nullopt;
    if (domain.front() == '[') return prep_ipv6_literal(domain);

    auto prepared = prep_part(domain, StringprepProfile::Nameprep);
    if (!prepared) return std::nullopt;

    // A name made only of digits and dots can only be an IPv4 literal
    // (a DNS top-level label is never all-numeric, RFC 3696 §2).
    const bool numeric = std::all_of(prepared->begin(), prepared->end(),
                                     [](char c) { return (c >= '0' && c <= '9') || c == '.'; });
    if (numeric) {
        unsigned char address[4];
        if (inet_pton(AF_INET, prepared->c_str(), address) != 1) return std::nullopt;
        return prepared;
    }
    if (!domain_labels_valid(*prepared)) return std::nullopt;
    return prepared;
}

Jid::Jid(std::string node, std::string domain, std::string resource)
    : node_(std::move(node)), domain_(std::move(domain)), resource_(std::move(resource)) {
    full_ = bare_str();
    if (!resource_.empty()) {
        full_ += '/';
        full_ += resource_;
    }
}

std::optional<Jid> Jid::parse(std::string_view text) {
    // RFC 7622 §3.1: the resource starts at the first '/', then the node
    // ends at the first '@' of what remains. (Splitting at the last '@'
    // instead gives the same verdict: '@' is prohibited in both the node
    // and the domain, so any second '@' fails preparation either way.)
    std::string_view resource;
    bool has_resource = false;
    if (auto slash = text.find('/'); slash != std::string_view::npos) {
        resource = text.substr(slash + 1);
        text = text.substr(0, slash);
        has_resource = true;
    }
    std::string_view node;
    bool has_node = false;
    if (auto at = text.find('@'); at != std::string_view::npos) {
        node = text.substr(0, at);
        text = text.substr(at + 1);
        has_node = true;
    }
    // A separator with nothing after (or before) it is an error, not an
    // absent part (RFC 7622 §3.3.1, §3.4.1).
    if ((has_node && node.empty()) || (has_resource && resource.empty())) return std::nullopt;
    return make(node, text, resource);
}

std::optional<Jid> Jid::make(std::string_view node, std::string_view domain,
                             std::string_view resource) {
    auto prepared_domain = prep_domain(domain);
    if (!prepared_domain) return std::nullopt;
    std::string prepared_node;
    if (!node.empty()) {
        auto p = prep_node(node);
        if (!p) return std::nullopt;
        prepared_node = std::move(*p);
    }
    std::string prepared_resource;
    if (!resource.empty()) {
        auto p = prep_resource(resource);
        if (!p) return std::nullopt;
        prepared_resource = std::move(*p);
    }
    return Jid(std::move(prepared_node), std::move(*prepared_domain), std::move(prepared_resource));
}

Jid Jid::bare() const {
    if (resource_.empty()) return *this;
    return Jid(node_, domain_, {});
}

Jid Jid::domain_jid() const {
    if (empty()) return {};
    return Jid({}, domain_, {});
}

std::optional<Jid> Jid::with_resource(std::string_view resource) const {
    if (empty()) return std::nullopt;
    auto prepared = prep_resource(resource);
    if (!prepared) return std::nullopt;
    return Jid(node_, domain_, std::move(*prepared));
}

std::string Jid::bare_str() const {
    if (node_.empty()) return domain_;
    return node_ + '@' + domain_;
}

std::strong_ordering Jid::operator<=>(const Jid& other) const {
    return std::tie(domain_, node_, resource_) <=> std::tie(other.domain_, other.node_, other.resource_);
}

}  // namespace parley::xmpp
