#pragma once
// The loaded, validated configuration. Load once at start-up with
// Config::load; every value is checked against the OptionRegistry there, so
// the accessors never fail on operator input.
//
// File shape (TOML):
//   include = ["conf.d/*.toml"]        # globs relative to the including file, sorted
//   certificate = "..."                # top-level keys: defaults for every host
//   [server] / [database] / [c2s] / [limits] / [modules.<name>]
//   [hosts."example.org"]              # one table per virtual host, at least one
//   certificate = "...", key = "...", modules_enabled = ["ping"]
//   [hosts."example.org".limits]       # per-host overrides of per_host options
//   max_stanza_bytes = "100KiB"
// Every file may add to any section, but the same key set twice anywhere is an
// error naming both places. Host names are normalised to lower case.

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "core/option.hpp"

namespace parley::core {

struct ConfigError {
    std::string file;    // as it was named to load() or derived from an include
    int line = 0;        // 1-based; 0 when the error concerns the whole file
    int column = 0;      // 1-based; 0 when unknown
    std::string option;  // "c2s.starttls_port", "hosts.\"a.org\".limits.x"; may be empty
    std::string message;

    // "conf/parley.toml:12:1: c2s.starttls_port: must be between 1 and 65535";
    // the position and option parts are left out when absent.
    std::string str() const;
};

class Config {
public:
    static std::variant<Config, ConfigError> load(const std::filesystem::path& file,
                                                  const OptionRegistry& registry);

    // Accessors. `host` selects a virtual host: its value if set, else the
    // global value, else the default. An unknown host reads the global value.
    // Asking for an unregistered key, or with the wrong accessor for its type,
    // is a programming error and aborts with a message.
    const std::string& get_string(std::string_view key, std::string_view host = {}) const;
    int64_t get_int(std::string_view key, std::string_view host = {}) const;
    bool get_bool(std::string_view key, std::string_view host = {}) const;
    const std::vector<std::string>& get_list(std::string_view key, std::string_view host = {}) const;
    std::chrono::milliseconds get_duration(std::string_view key, std::string_view host = {}) const;
    uint64_t get_size(std::string_view key, std::string_view host = {}) const;
    // Resolved per the option's PathBase (lexically normalised); an empty
    // value stays empty, meaning "not set".
    std::filesystem::path get_path(std::string_view key, std::string_view host = {}) const;

    // Host names in lower case, sorted.
    std::vector<std::string> hosts() const;
    bool has_host(std::string_view host) const;
    // The main configuration file, as passed to load().
    const std::filesystem::path& file() const { return file_; }

private:
    // Same alternatives as OptionValue (core/option_value.hpp), which this
    // header does not include to keep toml++ out of its users.
    using Value = std::variant<std::string, int64_t, bool, std::vector<std::string>>;
    struct Entry {
        OptionSpec spec;
        Value default_value;
        std::optional<Value> global_value;
    };

    Config() = default;
    const Entry& entry(std::string_view key, OptionType accessor_type) const;
    const Value& lookup(std::string_view key, std::string_view host, OptionType accessor_type) const;

    std::filesystem::path file_;
    std::map<std::string, Entry, std::less<>> entries_;
    // host -> key -> value, for per-host overrides only.
    std::map<std::string, std::map<std::string, Value, std::less<>>, std::less<>> hosts_;

    friend class ConfigLoader;
};

}  // namespace parley::core
