#pragma once
// XEP-0030 for a local account's bare JID, answered by the server on the
// user's behalf (RFC 6121 §8.5.1): identity account/registered and what
// modules announce with IqTarget::Account (XEP-0313 archives, PEP).
#include "xmpp/module_api.hpp"

namespace parley::modules::disco {

void serve_account_disco(xmpp::ModuleContext& ctx);

}  // namespace parley::modules::disco
