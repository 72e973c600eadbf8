#pragma once
// parleyctl commands of the register module (cli.cpp).
#include <string>
#include <vector>

#include "xmpp/module_api.hpp"

namespace parley::modules::reg {

int sms_command(xmpp::CliContext& cli, const std::vector<std::string>& args);
std::string apply_phone(xmpp::CliContext& cli, store::PgSync& db, const std::string& host,
                        const std::string& username, const std::string& value);

}  // namespace parley::modules::reg
