// XEP-0092: Software Version — name, version and, if the admin wants, the OS.
#include <sys/utsname.h>

#include "core/option.hpp"
#include "parley_build.hpp"
#include "xmpp/module_api.hpp"

namespace parley::modules {

namespace {
constexpr std::string_view kVersionNs = "jabber:iq:version";

void declare_options(core::OptionRegistry& registry) {
  registry.add({"modules.version.show_os", core::OptionType::Boolean, "false", {}, {}, {},
                "Include the operating system in software version replies (it helps attackers; off by default).",
                true});
}

void start(xmpp::ModuleContext& ctx) {
  ctx.add_disco_feature(std::string(kVersionNs));
  bool show_os = ctx.option_bool("show_os");
  ctx.on_iq(xmpp::IqType::Get, kVersionNs, [show_os](const xmpp::IqRequest& request) {
    xml::Element query("query", std::string(kVersionNs));
    query.append(xml::Element("name", std::string(kVersionNs))).append_text("Parley");
    query.append(xml::Element("version", std::string(kVersionNs))).append_text(PARLEY_VERSION);
    utsname system{};
    if (show_os && uname(&system) == 0) {
      query.append(xml::Element("os", std::string(kVersionNs))).append_text(system.sysname);
    }
    request.reply(std::move(query));
  });
}
}  // namespace

extern const xmpp::ModuleDefinition version_module{
    "version", "Tells the server's software name and version.", {"XEP-0092"}, declare_options, start};

}  // namespace parley::modules
