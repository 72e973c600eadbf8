#pragma once
// The option table: every configuration option Parley understands, declared as
// data (name, type, default, bounds, documentation). The loader validates
// against it and the documentation generators render it, so the conf/ example,
// docs/CONFIGURATION.md and the accepted keys can never drift apart
// (STYLE.md principle 7).

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace parley::core {

enum class OptionType {
    String,
    Integer,
    Boolean,
    StringList,
    Duration,  // "500ms", "30s", "10m", "2h", "1d", or an integer of seconds
    Size,      // "512B", "256KiB", "10MiB", "1GiB", or an integer of bytes
    Path,      // a string; relative values resolve against OptionSpec::path_base
};

// What a relative Path value is relative to.
enum class PathBase {
    ConfigDir,  // the directory of the main configuration file (not of an included file)
    StateDir,   // the resolved server.state_dir
};

// Human-readable name of a type, as used in error messages and the docs
// ("integer", "duration", "list of strings" ...).
std::string_view option_type_name(OptionType type);

struct OptionSpec {
    // Full dotted key: "c2s.starttls_port", "modules.version.show_os". A key
    // without a dot ("certificate") lives at the top level of the file and in
    // the [hosts."name"] table itself.
    std::string key{};
    OptionType type = OptionType::String;
    // Default as TOML source text: "5222", "\"var\"", "[]", "\"10m\"".
    std::string default_value{};
    // Inclusive bounds. Integer: the value; Duration: milliseconds;
    // Size: bytes; StringList: number of elements. Unused for other types.
    std::optional<int64_t> min{};
    std::optional<int64_t> max{};
    // Allowed values for String, or for each element of a StringList.
    std::vector<std::string> choices{};
    // One or two sentences for the operator; rendered into the docs.
    std::string doc{};
    // May be overridden under [hosts."name".<section>]; otherwise global only.
    bool per_host = false;
    PathBase path_base = PathBase::ConfigDir;
};

// The section of a key: everything before the last dot ("" for top level).
std::string_view option_section(std::string_view key);
// The last component of a key ("starttls_port").
std::string_view option_name(std::string_view key);

// All known options. The core registers its own (register_core_options); each
// module registers its options under "modules.<name>." before the
// configuration is loaded, so a module's section is only accepted when the
// module is known.
class OptionRegistry {
public:
    // Adds an option. A malformed spec (duplicate key, default that does not
    // satisfy its own type/bounds/choices, bad key syntax) is a programming
    // error: it aborts with a message naming the key.
    void add(OptionSpec spec);
    // Documents a section ("c2s", "modules.version"); shown above its options.
    void add_section(std::string section, std::string doc);

    const OptionSpec* find(std::string_view key) const;
    // True if some registered key starts with "<section>.", i.e. the section is
    // a table the loader may descend into.
    bool has_section(std::string_view section) const;
    // Documentation of a section, empty if none was given.
    std::string_view section_doc(std::string_view section) const;

    // Options in registration order.
    const std::vector<OptionSpec>& options() const { return options_; }
    // Sections in order of first appearance ("" first if any top-level option
    // exists), each option section listed once.
    std::vector<std::string> sections() const;

    // The registered key closest to `key` by edit distance, if it is close
    // enough to be a plausible typo; empty otherwise.
    std::string closest_key(std::string_view key) const;

private:
    std::vector<OptionSpec> options_;
    std::map<std::string, size_t, std::less<>> index_;
    std::map<std::string, std::string, std::less<>> section_docs_;
};

}  // namespace parley::core
