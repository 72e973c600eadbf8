#pragma once
// Builds the Server's Logger from the loaded configuration.

#include <string>
#include <variant>

#include "core/config.hpp"
#include "core/log.hpp"

namespace parley::core {

// Level from server.log_level; output to server.log_file (appended) or, when
// that is empty, to standard error. Returns the reason if the file cannot be
// opened. Needs the core options (register_core_options).
std::variant<Logger, std::string> make_logger(const Config& config);

}  // namespace parley::core
