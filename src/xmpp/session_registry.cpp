#include "xmpp/session_registry.hpp"

#include <algorithm>

namespace parley::xmpp {

Session* SessionRegistry::bind(Session& session) {
  std::vector<Session*>& list = by_bare_[session.jid().bare_str()];
  Session* previous = nullptr;
  for (Session*& s : list) {
    if (s->jid().resource() == session.jid().resource()) {
      previous = s;
      s = &session;
      return previous;
    }
  }
  list.push_back(&session);
  ++count_;
  return previous;
}

void SessionRegistry::unbind(Session& session) {
  auto it = by_bare_.find(session.jid().bare_view());
  if (it == by_bare_.end()) return;
  size_t before = it->second.size();
  std::erase(it->second, &session);
  count_ -= before - it->second.size();
  if (it->second.empty()) by_bare_.erase(it);
}

Session* SessionRegistry::find(const Jid& full) const {
  for (Session* s : resources(full.bare_view())) {
    if (s->jid().resource() == full.resource()) return s;
  }
  return nullptr;
}

std::span<Session* const> SessionRegistry::resources(const Jid& bare) const {
  return resources(bare.bare_view());
}

std::span<Session* const> SessionRegistry::resources(std::string_view bare) const {
  auto it = by_bare_.find(bare);
  if (it == by_bare_.end()) return {};
  return it->second;
}

}  // namespace parley::xmpp
