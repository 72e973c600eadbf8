#include "modules/disco/info_query.hpp"

namespace parley::modules::disco {

xml::Element info_query(const std::set<xmpp::DiscoIdentity>& identities, const std::set<std::string>& features) {
  xml::Element query("query", std::string(kInfoNs));
  for (const xmpp::DiscoIdentity& identity : identities) {
    xml::Element& e = query.append(xml::Element("identity", std::string(kInfoNs)));
    e.set_attr("category", identity.category);
    e.set_attr("type", identity.type);
    if (!identity.name.empty()) e.set_attr("name", identity.name);
  }
  for (const std::string& feature : features) {
    query.append(xml::Element("feature", std::string(kInfoNs))).set_attr("var", feature);
  }
  return query;
}

}  // namespace parley::modules::disco
