#include "core/log.hpp"

#include <ctime>
#include <iostream>

namespace parley::core {

std::optional<LogLevel> parse_log_level(std::string_view text) {
    if (text == "debug") return LogLevel::Debug;
    if (text == "info") return LogLevel::Info;
    if (text == "warn") return LogLevel::Warn;
    if (text == "error") return LogLevel::Error;
    return std::nullopt;
}

std::string_view log_level_name(LogLevel level) {
    switch (level) {
        case LogLevel::Debug: return "debug";
        case LogLevel::Info: return "info";
        case LogLevel::Warn: return "warn";
        case LogLevel::Error: return "error";
    }
    return "?";
}

Logger::Logger(LogLevel level) : Logger(level, std::cerr) {}

Logger::Logger(LogLevel level, std::ostream& out)
    : level_(level), out_(&out), clock_([] { return std::chrono::system_clock::now(); }) {}

std::optional<Logger> Logger::open_file(const std::filesystem::path& file, LogLevel level, std::string& error) {
    auto stream = std::make_unique<std::ofstream>(file, std::ios::app);
    if (!stream->is_open()) {
        error = "cannot open log file " + file.string();
        return std::nullopt;
    }
    Logger logger(level, *stream);
    logger.owned_file_ = std::move(stream);
    return logger;
}

std::string Logger::format_line(std::chrono::system_clock::time_point when, LogLevel level,
                                std::string_view component, uint64_t id, std::string_view message) {
    using namespace std::chrono;
    auto since_epoch = when.time_since_epoch();
    auto seconds = floor<std::chrono::seconds>(since_epoch);
    auto millis = duration_cast<milliseconds>(since_epoch - seconds).count();
    std::time_t time = static_cast<std::time_t>(seconds.count());
    std::tm utc{};
    gmtime_r(&time, &utc);
    char stamp[96];  // room for any int the compiler imagines in each field
    std::snprintf(stamp, sizeof stamp, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", utc.tm_year + 1900, utc.tm_mon + 1,
                  utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec, static_cast<int>(millis));

    std::string line = stamp;
    line += ' ';
    std::string_view name = log_level_name(level);
    line += name;
    line.append(5 - name.size() + 1, ' ');  // "info  [" and "error [" align
    line += '[';
    line += component;
    if (id != 0) {
        line += ':';
        line += std::to_string(id);
    }
    line += "] ";
    // Escape control characters: a peer's text must not start a new log line.
    for (unsigned char c : message) {
        if (c == '\n') {
            line += "\\n";
        } else if (c == '\r') {
            line += "\\r";
        } else if (c < 0x20 || c == 0x7f) {
            char escaped[8];
            std::snprintf(escaped, sizeof escaped, "\\x%02x", c);
            line += escaped;
        } else {
            line += static_cast<char>(c);
        }
    }
    line += '\n';
    return line;
}

void Logger::write(LogLevel level, std::string_view component, uint64_t id, std::string_view message) {
    std::string line = format_line(clock_(), level, component, id, message);
    // One write per line so concurrent writers (other processes sharing
    // stderr) do not interleave within a line.
    out_->write(line.data(), static_cast<std::streamsize>(line.size()));
    out_->flush();
}

}  // namespace parley::core
