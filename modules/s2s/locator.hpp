#pragma once
// Finding a domain's server (RFC 6120 §3.2.1, XEP-0368 §3): SRV records for
// _xmpps-server._tcp (direct TLS) and _xmpp-server._tcp (STARTTLS), taken as
// one list in RFC 2782 order, each target resolved to its addresses; with no
// SRV records at all, the domain's own addresses on port 5269.
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "modules/s2s/federation.hpp"
#include "net/resolver.hpp"

namespace parley::modules::s2s {

// `done` gets the endpoints to try in order, or none and a reason. It is not
// called if `alive` expired meanwhile, nor if the resolver is destroyed first.
using LocateCallback = std::function<void(std::vector<Endpoint> endpoints, std::string error)>;
void locate(net::Resolver& resolver, const std::string& domain, std::weak_ptr<bool> alive, LocateCallback done);

}  // namespace parley::modules::s2s
