#pragma once
// The one hook bus (STYLE.md principle 3): named events, explicit integer
// priorities (higher runs first), and a two-valued result. An EventKey ties an
// event name to the type of its mutable event object, so a handler can't be
// registered with the wrong signature.
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>
#include <unordered_map>
#include <vector>

#include "core/string_hash.hpp"

namespace parley::xmpp {

enum class HookResult { Pass, Handled };

template <class Event>
struct EventKey {
  std::string_view name;
};

class HookBus;

// Owning handle of one registration: dropping it unregisters the handler.
class HookRegistration {
 public:
  HookRegistration() = default;
  HookRegistration(HookBus* bus, std::string name, uint64_t id) : bus_(bus), name_(std::move(name)), id_(id) {}
  HookRegistration(HookRegistration&& other) noexcept { *this = std::move(other); }
  HookRegistration& operator=(HookRegistration&& other) noexcept;
  HookRegistration(const HookRegistration&) = delete;
  HookRegistration& operator=(const HookRegistration&) = delete;
  ~HookRegistration() { reset(); }
  void reset();

 private:
  HookBus* bus_ = nullptr;
  std::string name_;
  uint64_t id_ = 0;
};

class HookBus {
 public:
  HookBus() = default;
  HookBus(const HookBus&) = delete;
  HookBus& operator=(const HookBus&) = delete;

  template <class Event>
  [[nodiscard]] HookRegistration on(EventKey<Event> key, int priority,
                                    std::type_identity_t<std::function<HookResult(Event&)>> handler) {
    return add(key.name, priority, [handler = std::move(handler)](void* event) {
      return handler(*static_cast<Event*>(event));
    });
  }

  // Runs the handlers by priority until one returns Handled.
  template <class Event>
  HookResult fire(EventKey<Event> key, Event& event) {
    return fire_erased(key.name, &event);
  }

  bool has_handlers(std::string_view name) const;

 private:
  friend class HookRegistration;
  struct Handler {
    int priority;
    uint64_t id;
    std::function<HookResult(void*)> fn;
    bool removed = false;  // set during a fire; erased once no fire is running
  };
  HookRegistration add(std::string_view name, int priority, std::function<HookResult(void*)> fn);
  void remove(const std::string& name, uint64_t id);
  HookResult fire_erased(std::string_view name, void* event);
  // Handlers live on the heap so a call in progress survives the vector
  // growing when another handler registers during a fire.
  using Handlers = std::vector<std::unique_ptr<Handler>>;
  void compact(Handlers& handlers);
  std::unordered_map<std::string, Handlers, core::StringHash, std::equal_to<>> hooks_;
  uint64_t next_id_ = 1;
  int firing_ = 0;
};

}  // namespace parley::xmpp
