#include "modules/builtin.hpp"

namespace parley::modules {

extern const xmpp::ModuleDefinition disco_module;
extern const xmpp::ModuleDefinition ping_module;
extern const xmpp::ModuleDefinition roster_module;
extern const xmpp::ModuleDefinition time_module;
extern const xmpp::ModuleDefinition version_module;

std::span<const xmpp::ModuleDefinition* const> builtin_modules() {
  static const xmpp::ModuleDefinition* const modules[] = {
      &disco_module,
      &ping_module,
      &roster_module,
      &time_module,
      &version_module,
  };
  return modules;
}

}  // namespace parley::modules
