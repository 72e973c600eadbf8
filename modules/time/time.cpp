// XEP-0202: Entity Time — the server's clock, in UTC with its local offset.
#include <ctime>

#include "core/datetime.hpp"
#include "xmpp/module_api.hpp"

namespace parley::modules {

namespace {
constexpr std::string_view kTimeNs = "urn:xmpp:time";

std::string utc_offset(std::time_t now) {
  std::tm local{};
  localtime_r(&now, &local);
  // Offsets are within ±18 h (XEP-0082 TZD), so two digits each always fit.
  int minutes = static_cast<int>(local.tm_gmtoff / 60);
  int magnitude = std::abs(minutes) % (24 * 60);
  char buffer[8];
  std::snprintf(buffer, sizeof buffer, "%c%02d:%02d", minutes < 0 ? '-' : '+', magnitude / 60, magnitude % 60);
  return buffer;
}

void start(xmpp::ModuleContext& ctx) {
  ctx.add_disco_feature(std::string(kTimeNs));
  ctx.on_iq(xmpp::IqType::Get, kTimeNs, [](const xmpp::IqRequest& request) {
    std::time_t now = std::time(nullptr);
    xml::Element time("time", std::string(kTimeNs));
    time.append(xml::Element("tzo", std::string(kTimeNs))).append_text(utc_offset(now));
    time.append(xml::Element("utc", std::string(kTimeNs))).append_text(core::xep0082_datetime(now));
    request.reply(std::move(time));
  });
}
}  // namespace

extern const xmpp::ModuleDefinition time_module{
    "time", "Tells the server's time.", {"XEP-0202"}, nullptr, start};

}  // namespace parley::modules
