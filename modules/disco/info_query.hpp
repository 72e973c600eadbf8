#pragma once
// The XEP-0030 disco#info answer built from a set of identities and
// features, shared by the host's answer and the accounts'.
#include <set>
#include <string>
#include <string_view>

#include "xml/element.hpp"
#include "xmpp/module_api.hpp"

namespace parley::modules::disco {

inline constexpr std::string_view kInfoNs = "http://jabber.org/protocol/disco#info";
inline constexpr std::string_view kItemsNs = "http://jabber.org/protocol/disco#items";

xml::Element info_query(const std::set<xmpp::DiscoIdentity>& identities, const std::set<std::string>& features);

}  // namespace parley::modules::disco
