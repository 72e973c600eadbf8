#include "xmpp/hook_bus.hpp"

#include <algorithm>
#include <utility>

namespace parley::xmpp {

HookRegistration& HookRegistration::operator=(HookRegistration&& other) noexcept {
  if (this != &other) {
    reset();
    bus_ = std::exchange(other.bus_, nullptr);
    name_ = std::move(other.name_);
    id_ = other.id_;
  }
  return *this;
}

void HookRegistration::reset() {
  if (bus_) bus_->remove(name_, id_);
  bus_ = nullptr;
}

HookRegistration HookBus::add(std::string_view name, int priority, std::function<HookResult(void*)> fn) {
  auto it = hooks_.find(name);
  if (it == hooks_.end()) it = hooks_.emplace(std::string(name), Handlers{}).first;
  Handlers& handlers = it->second;
  uint64_t id = next_id_++;
  // Keep descending priority; equal priorities run in registration order.
  auto pos = std::find_if(handlers.begin(), handlers.end(), [&](const auto& h) { return h->priority < priority; });
  handlers.insert(pos, std::make_unique<Handler>(Handler{priority, id, std::move(fn), false}));
  return HookRegistration(this, std::string(name), id);
}

void HookBus::remove(const std::string& name, uint64_t id) {
  auto it = hooks_.find(name);
  if (it == hooks_.end()) return;
  for (auto& h : it->second) {
    if (h->id == id) h->removed = true;
  }
  // A handler may unregister itself while the bus is firing: compact later.
  if (firing_ == 0) compact(it->second);
}

void HookBus::compact(Handlers& handlers) {
  std::erase_if(handlers, [](const auto& h) { return h->removed; });
}

bool HookBus::has_handlers(std::string_view name) const {
  auto it = hooks_.find(name);
  return it != hooks_.end() && !it->second.empty();
}

HookResult HookBus::fire_erased(std::string_view name, void* event) {
  auto it = hooks_.find(name);
  if (it == hooks_.end()) return HookResult::Pass;
  Handlers& handlers = it->second;
  HookResult result = HookResult::Pass;
  ++firing_;
  // Index-based: a handler may register another one while we iterate.
  for (size_t i = 0; i < handlers.size(); ++i) {
    Handler& handler = *handlers[i];
    if (handler.removed) continue;
    if (handler.fn(event) == HookResult::Handled) {
      result = HookResult::Handled;
      break;
    }
  }
  if (--firing_ == 0) compact(handlers);
  return result;
}

}  // namespace parley::xmpp
