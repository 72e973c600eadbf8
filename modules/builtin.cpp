#include "modules/builtin.hpp"

namespace parley::modules {

extern const xmpp::ModuleDefinition blocking_module;
extern const xmpp::ModuleDefinition carbons_module;
extern const xmpp::ModuleDefinition csi_module;
extern const xmpp::ModuleDefinition disco_module;
extern const xmpp::ModuleDefinition extdisco_module;
extern const xmpp::ModuleDefinition last_module;
extern const xmpp::ModuleDefinition mam_module;
extern const xmpp::ModuleDefinition offline_module;
extern const xmpp::ModuleDefinition ping_module;
extern const xmpp::ModuleDefinition roster_module;
extern const xmpp::ModuleDefinition s2s_module;
extern const xmpp::ModuleDefinition time_module;
extern const xmpp::ModuleDefinition version_module;
extern const xmpp::ModuleDefinition vcard_module;
extern const xmpp::ModuleDefinition private_module;
extern const xmpp::ModuleDefinition register_module;
extern const xmpp::ModuleDefinition upload_module;
extern const xmpp::ModuleDefinition proxy65_module;

std::span<const xmpp::ModuleDefinition* const> builtin_modules() {
  static const xmpp::ModuleDefinition* const modules[] = {
      &blocking_module,
      &carbons_module,
      &csi_module,
      &disco_module,
      &extdisco_module,
      &last_module,
      &mam_module,
      &offline_module,
      &ping_module,
      &roster_module,
      &s2s_module,
      &time_module,
      &version_module,
      &vcard_module,
      &private_module,
      &register_module,
      &upload_module,
      &proxy65_module,
  };
  return modules;
}

}  // namespace parley::modules
