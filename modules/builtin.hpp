#pragma once
// The modules compiled into parleyd. The core never names a module: the
// program's entry points hand this list to the Server.
#include <span>

#include "xmpp/module_api.hpp"

namespace parley::modules {
std::span<const xmpp::ModuleDefinition* const> builtin_modules();
}
