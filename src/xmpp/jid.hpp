#pragma once
// XMPP addresses (RFC 7622).
//
// Parts are prepared with the stringprep profiles of RFC 3920 Appendix A/B
// (Nodeprep, Resourceprep) and Nameprep (RFC 3491), through libidn, because
// that is what the interoperating servers in the field still do. Where
// stringprep and PRECIS (RFC 7622) disagree, tests/unit/jid_test.cpp says so.
//
// A Jid is immutable and always normalised: two Jids compare equal exactly
// when they address the same entity.

#include <compare>
#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace parley::xmpp {

class Jid {
public:
    // RFC 7622 §3.1-3.4: each part is at most 1023 bytes after preparation.
    static constexpr std::size_t max_part_bytes = 1023;

    // The empty Jid (no domain). It is never the result of parse()/make();
    // it stands for "no address" (e.g. a stanza without 'to').
    Jid() = default;

    // Parses "[node@]domain[/resource]". Returns nullopt when any part is
    // empty while its separator is present, longer than 1023 bytes, not
    // valid UTF-8, or prohibited by its stringprep profile.
    static std::optional<Jid> parse(std::string_view text);

    // Builds a Jid from separate parts; an empty node or resource means
    // "absent". Same validation as parse(); the domain must be non-empty.
    static std::optional<Jid> make(std::string_view node, std::string_view domain,
                                   std::string_view resource = {});

    const std::string& node() const { return node_; }
    const std::string& domain() const { return domain_; }
    const std::string& resource() const { return resource_; }

    bool empty() const { return domain_.empty(); }
    // True for node@domain and domain (no resource); false for the empty Jid.
    bool is_bare() const { return !empty() && resource_.empty(); }
    // True for a bare domain: no node, no resource.
    bool is_domain() const { return !empty() && node_.empty() && resource_.empty(); }

    Jid bare() const;        // drops the resource
    Jid domain_jid() const;  // drops node and resource
    // Same node and domain with another (prepared) resource; nullopt when the
    // resource is empty or invalid, or when this Jid is empty.
    std::optional<Jid> with_resource(std::string_view resource) const;

    // Full normalised form, computed once at construction.
    const std::string& str() const { return full_; }
    // "node@domain" or "domain".
    std::string bare_str() const;
    // The same, as a view into str(): no copy, for lookups on the routing path.
    std::string_view bare_view() const {
        return std::string_view(full_).substr(0, resource_.empty() ? full_.size() : full_.size() - resource_.size() - 1);
    }

    bool operator==(const Jid& other) const { return full_ == other.full_; }
    // Orders by domain, then node, then resource, so that the Jids of one
    // host (and one account) sort together.
    std::strong_ordering operator<=>(const Jid& other) const;

private:
    // Parts must already be prepared and validated.
    Jid(std::string node, std::string domain, std::string resource);

    std::string node_;
    std::string domain_;
    std::string resource_;
    std::string full_;
};

// Part preparation, exposed for callers that hold a single part (a SASL
// username is a node; a bind request carries a resource). Each returns
// nullopt when the part is empty, too long or prohibited.
std::optional<std::string> prep_node(std::string_view node);
std::optional<std::string> prep_domain(std::string_view domain);
std::optional<std::string> prep_resource(std::string_view resource);

}  // namespace parley::xmpp

template <>
struct std::hash<parley::xmpp::Jid> {
    std::size_t operator()(const parley::xmpp::Jid& jid) const noexcept {
        return std::hash<std::string>{}(jid.str());
    }
};
