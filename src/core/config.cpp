#include "core/config.hpp"

#include <glob.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <set>
#include <utility>

#include "core/option_value.hpp"

namespace parley::core {

std::string ConfigError::str() const {
    std::string out = file;
    if (line > 0) {
        out += ":" + std::to_string(line);
        if (column > 0) out += ":" + std::to_string(column);
    }
    out += ": ";
    if (!option.empty()) out += option + ": ";
    out += message;
    return out;
}

namespace {

// Deeper include chains than this are almost certainly a mistake.
constexpr int max_include_depth = 8;

struct Location {
    std::string file;
    int line = 0;
    int column = 0;

    std::string str() const {
        return file + ":" + std::to_string(line) + ":" + std::to_string(column);
    }
};

std::string lower_case(std::string_view text) {
    std::string out(text);
    for (char& c : out) {
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    }
    return out;
}

bool has_glob_magic(std::string_view pattern) {
    return pattern.find_first_of("*?[") != std::string_view::npos;
}

// Byte-ordered so that the include order does not depend on the locale.
std::vector<std::string> expand_glob(const std::string& pattern, int& status) {
    glob_t matches{};
    status = ::glob(pattern.c_str(), GLOB_NOSORT, nullptr, &matches);
    std::vector<std::string> files;
    if (status == 0) {
        for (size_t i = 0; i < matches.gl_pathc; ++i) files.emplace_back(matches.gl_pathv[i]);
    }
    ::globfree(&matches);
    std::sort(files.begin(), files.end());
    return files;
}

}  // namespace

// Walks the TOML files of one configuration and fills a Config. Stops at the
// first error: a half-understood configuration must not start a server.
class ConfigLoader {
public:
    ConfigLoader(const std::filesystem::path& file, const OptionRegistry& registry) : registry_(registry) {
        config_.file_ = file;
        for (const auto& spec : registry.options()) {
            auto converted = parse_default_value(spec);
            // OptionRegistry::add already rejected invalid defaults.
            config_.entries_.emplace(spec.key, Config::Entry{spec, std::get<OptionValue>(converted), std::nullopt});
        }
    }

    std::variant<Config, ConfigError> run() {
        load_file(config_.file_.string(), 0, std::nullopt);
        if (!error_ && config_.hosts_.empty()) {
            fail({config_.file_.string(), 0, 0}, "",
                 "no virtual host configured: add a [hosts.\"example.org\"] table");
        }
        if (error_) return *error_;
        return std::move(config_);
    }

private:
    bool failed() const { return error_.has_value(); }

    // Keeps the first error in file order: toml++ iterates keys sorted, not
    // in the order they were written, and the operator reads top to bottom.
    void fail(const Location& where, std::string option, std::string message) {
        bool earlier = error_ && error_->file == where.file &&
                       std::pair(where.line, where.column) < std::pair(error_->line, error_->column);
        if (!error_ || earlier) {
            error_ = ConfigError{where.file, where.line, where.column, std::move(option), std::move(message)};
        }
    }

    static Location locate(const std::string& file, const toml::source_region& region) {
        return {file, static_cast<int>(region.begin.line), static_cast<int>(region.begin.column)};
    }

    void load_file(const std::string& file, int depth, const std::optional<Location>& included_from) {
        std::error_code ec;
        std::string identity = std::filesystem::weakly_canonical(file, ec).string();
        if (ec) identity = file;
        if (!visited_.insert(identity).second) {
            fail(included_from.value_or(Location{file, 0, 0}), "include", "\"" + file + "\" is included twice");
            return;
        }
        toml::table root;
        try {
            root = toml::parse_file(file);
        } catch (const toml::parse_error& error) {
            fail(locate(file, error.source()), "", std::string(error.description()));
            return;
        }
        walk(root, "", nullptr, file);
        if (failed()) return;
        if (const toml::node* include = root.get("include")) {
            // Safe: the key exists, so the iterator finds it.
            Location where = locate(file, root.find("include")->first.source());
            process_include(*include, where, file, depth);
        }
    }

    void process_include(const toml::node& node, const Location& where, const std::string& file, int depth) {
        std::vector<std::string> patterns;
        if (auto text = node.as_string()) {
            patterns.push_back(text->get());
        } else if (auto array = node.as_array()) {
            for (const toml::node& element : *array) {
                auto item = element.as_string();
                if (!item) return fail(where, "include", "expected an array of strings");
                patterns.push_back(item->get());
            }
        } else {
            return fail(where, "include", "expected an array of strings");
        }
        if (depth + 1 > max_include_depth) {
            return fail(where, "include", "includes nested deeper than " + std::to_string(max_include_depth));
        }
        std::filesystem::path base = std::filesystem::path(file).parent_path();
        for (const auto& pattern : patterns) {
            std::string full = (base / pattern).string();
            int status = 0;
            std::vector<std::string> files = expand_glob(full, status);
            // An empty conf.d/ is normal; a missing file named literally is not.
            if (status == GLOB_NOMATCH && has_glob_magic(pattern)) continue;
            if (status != 0) return fail(where, "include", "no such file: " + full);
            for (const auto& included : files) {
                load_file(included, depth + 1, where);
                if (failed()) return;
            }
        }
    }

    // host == nullptr: global scope; prefix: the dotted section walked so far.
    void walk(const toml::table& table, const std::string& prefix, const std::string* host, const std::string& file) {
        for (auto&& [toml_key, node] : table) {
            std::string name = prefix.empty() ? std::string(toml_key.str()) : prefix + "." + std::string(toml_key.str());
            Location where = locate(file, toml_key.source());
            if (host == nullptr && prefix.empty()) {
                if (name == "include") continue;  // handled after the file's own keys
                if (name == "hosts") {
                    walk_hosts(node, where, file);
                    continue;
                }
            }
            std::string shown = host ? "hosts.\"" + *host + "\"." + name : name;
            if (const OptionSpec* spec = registry_.find(name)) {
                set_option(*spec, node, where, host, shown);
            } else if (node.is_table() && (name == "modules" || registry_.has_section(name))) {
                walk(*node.as_table(), name, host, file);
            } else if (node.is_table() && option_section(name) == "modules") {
                // Modules register their options before loading, so this
                // module is not loaded (or takes no options).
                fail(where, shown, "unknown module (not loaded, or it has no options)");
            } else if (node.is_table()) {
                fail(where, shown, "unknown section");
            } else {
                std::string message = "unknown option";
                std::string suggestion = registry_.closest_key(name);
                if (!suggestion.empty()) message += " (did you mean " + suggestion + "?)";
                fail(where, shown, message);
            }
        }
    }

    void walk_hosts(const toml::node& node, const Location& where, const std::string& file) {
        const toml::table* hosts = node.as_table();
        if (hosts == nullptr) return fail(where, "hosts", "must be a table of [hosts.\"name\"] tables");
        for (auto&& [toml_key, host_node] : *hosts) {
            std::string host = lower_case(toml_key.str());
            Location host_where = locate(file, toml_key.source());
            const toml::table* host_table = host_node.as_table();
            if (host_table == nullptr || host.empty()) {
                fail(host_where, "hosts.\"" + host + "\"", "must be a non-empty host name with a table");
                continue;
            }
            config_.hosts_[host];  // a host exists even if it overrides nothing
            walk(*host_table, "", &host, file);
        }
    }

    void set_option(const OptionSpec& spec, const toml::node& node, const Location& where, const std::string* host,
                    const std::string& shown) {
        if (host && !spec.per_host) return fail(where, shown, "global-only option; it cannot be set per host");
        auto converted = convert_option_value(spec, node);
        if (auto* message = std::get_if<std::string>(&converted)) return fail(where, shown, *message);
        auto [previous, inserted] = set_at_.emplace(shown, where);
        if (!inserted) return fail(where, shown, "already set at " + previous->second.str());
        OptionValue& value = std::get<OptionValue>(converted);
        if (host) {
            config_.hosts_[*host].insert_or_assign(spec.key, std::move(value));
        } else {
            config_.entries_.at(spec.key).global_value = std::move(value);
        }
    }

    const OptionRegistry& registry_;
    Config config_;
    std::optional<ConfigError> error_;
    std::set<std::string> visited_;
    // Where each key (as shown in errors, so host-qualified) was set first.
    std::map<std::string, Location> set_at_;
};

std::variant<Config, ConfigError> Config::load(const std::filesystem::path& file, const OptionRegistry& registry) {
    return ConfigLoader(file, registry).run();
}

namespace {

// Wrong key or accessor: a bug in the caller, not an operator error.
[[noreturn]] void accessor_bug(std::string_view key, std::string_view message) {
    std::fprintf(stderr, "parley: config accessor bug: %.*s: %.*s\n", static_cast<int>(key.size()), key.data(),
                 static_cast<int>(message.size()), message.data());
    std::abort();
}

}  // namespace

const Config::Entry& Config::entry(std::string_view key, OptionType accessor_type) const {
    auto it = entries_.find(key);
    if (it == entries_.end()) accessor_bug(key, "no such option is registered");
    if (it->second.spec.type != accessor_type) {
        accessor_bug(key, "option has type " + std::string(option_type_name(it->second.spec.type)) +
                              ", read with the " + std::string(option_type_name(accessor_type)) + " accessor");
    }
    return it->second;
}

const Config::Value& Config::lookup(std::string_view key, std::string_view host, OptionType accessor_type) const {
    const Entry& found = entry(key, accessor_type);
    if (!host.empty() && found.spec.per_host) {
        auto host_it = hosts_.find(lower_case(host));
        if (host_it != hosts_.end()) {
            auto value_it = host_it->second.find(key);
            if (value_it != host_it->second.end()) return value_it->second;
        }
    }
    return found.global_value ? *found.global_value : found.default_value;
}

const std::string& Config::get_string(std::string_view key, std::string_view host) const {
    return std::get<std::string>(lookup(key, host, OptionType::String));
}

int64_t Config::get_int(std::string_view key, std::string_view host) const {
    return std::get<int64_t>(lookup(key, host, OptionType::Integer));
}

bool Config::get_bool(std::string_view key, std::string_view host) const {
    return std::get<bool>(lookup(key, host, OptionType::Boolean));
}

const std::vector<std::string>& Config::get_list(std::string_view key, std::string_view host) const {
    return std::get<std::vector<std::string>>(lookup(key, host, OptionType::StringList));
}

std::chrono::milliseconds Config::get_duration(std::string_view key, std::string_view host) const {
    return std::chrono::milliseconds(std::get<int64_t>(lookup(key, host, OptionType::Duration)));
}

uint64_t Config::get_size(std::string_view key, std::string_view host) const {
    return static_cast<uint64_t>(std::get<int64_t>(lookup(key, host, OptionType::Size)));
}

std::filesystem::path Config::get_path(std::string_view key, std::string_view host) const {
    const Entry& found = entry(key, OptionType::Path);
    std::filesystem::path value(std::get<std::string>(lookup(key, host, OptionType::Path)));
    if (value.empty() || value.is_absolute()) return value.lexically_normal();
    std::filesystem::path base = found.spec.path_base == PathBase::StateDir ? get_path("server.state_dir")
                                                                            : file_.parent_path();
    return (base / value).lexically_normal();
}

std::vector<std::string> Config::hosts() const {
    std::vector<std::string> names;
    for (const auto& [name, values] : hosts_) names.push_back(name);
    return names;
}

bool Config::has_host(std::string_view host) const {
    return hosts_.count(lower_case(host)) != 0;
}

}  // namespace parley::core
