#include <doctest/doctest.h>

#include <unistd.h>

#include <fstream>
#include <iterator>
#include <sstream>

#include "core/core_options.hpp"
#include "core/log.hpp"
#include "core/logger_from_config.hpp"

using parley::core::Logger;
using parley::core::LogLevel;
using parley::core::parse_log_level;

namespace {

// 2026-11-24T15:00:00.123Z
std::chrono::system_clock::time_point fixed_time() {
    return std::chrono::system_clock::time_point(std::chrono::milliseconds(1'795'532'400'123));
}

struct CountsFormatting {
    int* count;
};
std::ostream& operator<<(std::ostream& out, const CountsFormatting& value) {
    ++*value.count;
    return out << "formatted";
}

}  // namespace

TEST_CASE("parse_log_level accepts the four names and nothing else") {
    CHECK(parse_log_level("debug") == LogLevel::Debug);
    CHECK(parse_log_level("info") == LogLevel::Info);
    CHECK(parse_log_level("warn") == LogLevel::Warn);
    CHECK(parse_log_level("error") == LogLevel::Error);
    CHECK_FALSE(parse_log_level("INFO").has_value());
    CHECK_FALSE(parse_log_level("warning").has_value());
    CHECK_FALSE(parse_log_level("").has_value());
}

TEST_CASE("a line has a UTC timestamp, a padded level, component:id and the message") {
    std::ostringstream out;
    Logger logger(LogLevel::Debug, out);
    logger.set_clock(fixed_time);
    logger.info("c2s", 42, "bound ", "alice@example.org/phone");
    logger.error("core", 0, "listen failed: port ", 5222);
    CHECK(out.str() ==
          "2026-11-24T15:00:00.123Z info  [c2s:42] bound alice@example.org/phone\n"
          "2026-11-24T15:00:00.123Z error [core] listen failed: port 5222\n");
}

TEST_CASE("messages below the level are dropped without being formatted") {
    std::ostringstream out;
    Logger logger(LogLevel::Warn, out);
    logger.set_clock(fixed_time);
    int formatted = 0;
    logger.debug("c2s", 1, CountsFormatting{&formatted});
    logger.info("c2s", 1, CountsFormatting{&formatted});
    CHECK(formatted == 0);
    CHECK(out.str().empty());
    logger.warn("c2s", 1, CountsFormatting{&formatted});
    CHECK(formatted == 1);
    CHECK(out.str() == "2026-11-24T15:00:00.123Z warn  [c2s:1] formatted\n");

    logger.set_level(LogLevel::Debug);
    CHECK(logger.enabled(LogLevel::Debug));
    logger.debug("s2s", 7, "now visible");
    CHECK(out.str() ==
          "2026-11-24T15:00:00.123Z warn  [c2s:1] formatted\n"
          "2026-11-24T15:00:00.123Z debug [s2s:7] now visible\n");
}

TEST_CASE("control characters in peer text cannot forge a new line") {
    std::ostringstream out;
    Logger logger(LogLevel::Info, out);
    logger.set_clock(fixed_time);
    logger.info("c2s", 3, "resource=", "x\n2026-11-24T15:00:00.000Z error [core] fake\r\x01");
    CHECK(out.str() ==
          "2026-11-24T15:00:00.123Z info  [c2s:3] resource=x\\n2026-11-24T15:00:00.000Z error [core] fake\\r\\x01\n");
}

TEST_CASE("open_file appends lines to the file and reports an unopenable path") {
    auto path = std::filesystem::temp_directory_path() / ("parley-log-test-" + std::to_string(::getpid()) + ".log");
    std::filesystem::remove(path);
    std::string error;
    {
        auto logger = Logger::open_file(path, LogLevel::Info, error);
        REQUIRE(logger.has_value());
        logger->set_clock(fixed_time);
        logger->info("core", 0, "started");
    }
    std::ifstream in(path);
    std::string content((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    CHECK(content == "2026-11-24T15:00:00.123Z info  [core] started\n");
    std::filesystem::remove(path);

    CHECK_FALSE(Logger::open_file("/nonexistent-dir/parley.log", LogLevel::Info, error).has_value());
    CHECK(error == "cannot open log file /nonexistent-dir/parley.log");
}

TEST_CASE("make_logger takes the level and file from the configuration") {
    auto dir = std::filesystem::temp_directory_path() / ("parley-log-config-test-" + std::to_string(::getpid()));
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir / "var");
    std::ofstream(dir / "parley.toml") << "[server]\nlog_level = \"warn\"\nlog_file = \"parley.log\"\n[hosts.\"a.org\"]\n";
    parley::core::OptionRegistry registry;
    parley::core::register_core_options(registry);
    auto loaded = parley::core::Config::load(dir / "parley.toml", registry);
    REQUIRE(std::holds_alternative<parley::core::Config>(loaded));
    {
        auto made = parley::core::make_logger(std::get<parley::core::Config>(loaded));
        REQUIRE(std::holds_alternative<Logger>(made));
        Logger& logger = std::get<Logger>(made);
        CHECK(logger.level() == LogLevel::Warn);
        logger.set_clock(fixed_time);
        logger.info("core", 0, "dropped");
        logger.warn("core", 0, "kept");
    }
    std::ifstream in(dir / "var" / "parley.log");
    std::string content((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    CHECK(content == "2026-11-24T15:00:00.123Z warn  [core] kept\n");

    std::filesystem::remove_all(dir / "var");  // the log directory is gone: the file cannot be opened
    auto failed = parley::core::make_logger(std::get<parley::core::Config>(loaded));
    REQUIRE(std::holds_alternative<std::string>(failed));
    CHECK(std::get<std::string>(failed) == "cannot open log file " + (dir / "var" / "parley.log").string());
    std::filesystem::remove_all(dir);
}
