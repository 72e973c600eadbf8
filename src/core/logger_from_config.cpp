#include "core/logger_from_config.hpp"

namespace parley::core {

std::variant<Logger, std::string> make_logger(const Config& config) {
    // server.log_level is validated against exactly the names parse_log_level
    // accepts, so this only falls back if the two lists ever disagree.
    LogLevel level = parse_log_level(config.get_string("server.log_level")).value_or(LogLevel::Info);
    std::filesystem::path file = config.get_path("server.log_file");
    if (file.empty()) return Logger(level);
    std::string error;
    std::optional<Logger> logger = Logger::open_file(file, level, error);
    if (!logger) return error;
    return std::move(*logger);
}

}  // namespace parley::core
