#include "modules/register/sms/gateway.hpp"

#include "core/config.hpp"

namespace parley::modules::sms {

Settings settings_from(const core::Config& config, std::string_view host) {
  auto key = [](std::string_view name) { return "modules.register." + std::string(name); };
  Settings s;
  s.kind = config.get_string(key("sms_gateway"), host);
  s.outbox_file = config.get_path(key("outbox_file"), host).string();
  s.http_url = config.get_string(key("http_url"), host);
  s.http_body = config.get_string(key("http_body"), host);
  s.http_content_type = config.get_string(key("http_content_type"), host);
  s.http_headers = config.get_list(key("http_headers"), host);
  s.http_auth = config.get_string(key("http_auth"), host);
  s.http_username = config.get_string(key("http_username"), host);
  s.http_password = config.get_string(key("http_password"), host);
  s.http_token = config.get_string(key("http_token"), host);
  s.http_timeout = config.get_duration(key("http_timeout"), host);
  s.http_retries = static_cast<int>(config.get_int(key("http_retries"), host));
  s.http_retry_delay = config.get_duration(key("http_retry_delay"), host);
  s.exec_program = config.get_path(key("exec_program"), host).string();
  s.exec_args = config.get_list(key("exec_args"), host);
  s.exec_timeout = config.get_duration(key("exec_timeout"), host);
  return s;
}

std::unique_ptr<Gateway> make_gateway(uv_loop_t* loop, const Settings& settings, std::string& error) {
  if (settings.kind == "outbox") return make_outbox_gateway(settings);
  if (settings.kind == "http") {
    if (settings.http_url.empty()) {
      error = "modules.register.http_url is empty";
      return nullptr;
    }
    return make_http_gateway(loop, settings);
  }
  if (settings.kind == "exec") {
    if (settings.exec_program.empty()) {
      error = "modules.register.exec_program is empty";
      return nullptr;
    }
    return make_exec_gateway(loop, settings);
  }
  error = "unknown SMS gateway '" + settings.kind + "'";
  return nullptr;
}

std::string expand(std::string_view pattern, const std::string& number, const std::string& text,
                   std::string (*escape)(std::string_view)) {
  auto value = [escape](std::string_view v) { return escape ? escape(v) : std::string(v); };
  std::string out;
  for (size_t i = 0; i < pattern.size();) {
    if (pattern.substr(i, 8) == "{number}") {
      out += value(number);
      i += 8;
    } else if (pattern.substr(i, 6) == "{text}") {
      out += value(text);
      i += 6;
    } else {
      out += pattern[i++];
    }
  }
  return out;
}

}  // namespace parley::modules::sms
