#pragma once
// The options owned by the core (server, database, c2s, limits and the
// per-host certificate/key/modules_enabled). Modules register their own.

#include "core/option.hpp"

namespace parley::core {

void register_core_options(OptionRegistry& registry);

}  // namespace parley::core
