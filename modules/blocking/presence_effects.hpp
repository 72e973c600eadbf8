#pragma once
#include <memory>
#include <string>
#include <vector>

#include "modules/blocking/blocking_state.hpp"
#include "xmpp/jid.hpp"

namespace parley::modules::blocking {

// After a block (blocked = true) or unblock of `jids` by `user`: unavailable
// presence, or the current presence, to those of them that are subscribed
// contacts, from each of the user's available resources.
void announce_presence_change(const std::shared_ptr<Core>& core, const xmpp::Jid& user,
                              const std::vector<std::string>& jids, bool blocked);

}  // namespace parley::modules::blocking
