#pragma once
// Logging. The Server owns one Logger and passes it by reference; there is no
// global logger. A line looks like
//   2026-11-24T15:00:00.123Z info  [c2s:42] bound alice@example.org/phone
// (UTC timestamp, level padded to five columns, component and optional
// session/connection id, message).
//
// SECURITY: never log secrets: passwords, SASL payloads (they carry
// credentials or proofs), authentication tokens, SMS codes, private keys.
// Log the mechanism and the outcome instead. Peer-supplied text is logged
// with control characters escaped so it cannot forge extra lines.

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iosfwd>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>

namespace parley::core {

enum class LogLevel { Debug, Info, Warn, Error };

// "debug", "info", "warn", "error" -> level; anything else -> nullopt.
std::optional<LogLevel> parse_log_level(std::string_view text);
std::string_view log_level_name(LogLevel level);

class Logger {
public:
    using Clock = std::function<std::chrono::system_clock::time_point()>;

    // Logs to standard error.
    explicit Logger(LogLevel level);
    // Logs to `out`, which must outlive the Logger (tests use a stringstream).
    Logger(LogLevel level, std::ostream& out);
    // Appends to `file`; nullopt and `error` set if it cannot be opened.
    static std::optional<Logger> open_file(const std::filesystem::path& file, LogLevel level, std::string& error);

    Logger(Logger&&) noexcept = default;
    Logger& operator=(Logger&&) noexcept = default;

    LogLevel level() const { return level_; }
    void set_level(LogLevel level) { level_ = level; }
    bool enabled(LogLevel level) const { return level >= level_; }
    // Replaces the time source (tests pin it to get exact lines).
    void set_clock(Clock clock) { clock_ = std::move(clock); }

    // Writes one line if `level` is enabled. `id` is the session or
    // connection id; 0 means none ("[core]" instead of "[c2s:42]"). The
    // parts are formatted with operator<< only when the level is enabled.
    template <typename... Parts>
    void log(LogLevel level, std::string_view component, uint64_t id, const Parts&... parts) {
        if (!enabled(level)) return;
        std::ostringstream message;
        (message << ... << parts);
        write(level, component, id, message.str());
    }

    template <typename... Parts>
    void debug(std::string_view component, uint64_t id, const Parts&... parts) {
        log(LogLevel::Debug, component, id, parts...);
    }
    template <typename... Parts>
    void info(std::string_view component, uint64_t id, const Parts&... parts) {
        log(LogLevel::Info, component, id, parts...);
    }
    template <typename... Parts>
    void warn(std::string_view component, uint64_t id, const Parts&... parts) {
        log(LogLevel::Warn, component, id, parts...);
    }
    template <typename... Parts>
    void error(std::string_view component, uint64_t id, const Parts&... parts) {
        log(LogLevel::Error, component, id, parts...);
    }

    // Formats one line (with its trailing newline) without writing it.
    static std::string format_line(std::chrono::system_clock::time_point when, LogLevel level,
                                   std::string_view component, uint64_t id, std::string_view message);

private:
    void write(LogLevel level, std::string_view component, uint64_t id, std::string_view message);

    LogLevel level_;
    std::unique_ptr<std::ofstream> owned_file_;
    std::ostream* out_;
    Clock clock_;
};

}  // namespace parley::core
