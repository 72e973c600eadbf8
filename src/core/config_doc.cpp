#include "core/config_doc.hpp"

#include <sstream>
#include <variant>

#include "core/option_value.hpp"

namespace parley::core {
namespace {

constexpr size_t comment_width = 78;

std::string format_bound(OptionType type, int64_t bound) {
    switch (type) {
        case OptionType::Duration: return format_duration_ms(bound);
        case OptionType::Size: return format_size_bytes(bound);
        default: return std::to_string(bound);
    }
}

// "1 to 65535", "at least 1KiB", "one of: debug, info"; empty if unconstrained.
std::string allowed_values(const OptionSpec& spec) {
    std::string out;
    if (!spec.choices.empty()) {
        out = "one of: ";
        for (size_t i = 0; i < spec.choices.size(); ++i) {
            if (i != 0) out += ", ";
            out += spec.choices[i];
        }
    }
    if (spec.type == OptionType::Boolean || spec.type == OptionType::String || spec.type == OptionType::Path) {
        return out;
    }
    std::string bounds;
    if (spec.min && spec.max) {
        bounds = format_bound(spec.type, *spec.min) + " to " + format_bound(spec.type, *spec.max);
    } else if (spec.min) {
        bounds = "at least " + format_bound(spec.type, *spec.min);
    } else if (spec.max) {
        bounds = "at most " + format_bound(spec.type, *spec.max);
    }
    if (!bounds.empty() && spec.type == OptionType::StringList) {
        bounds += (spec.max ? *spec.max : *spec.min) == 1 ? " element" : " elements";
    }
    if (!out.empty() && !bounds.empty()) out += "; ";
    return out + bounds;
}

void append_wrapped_comment(std::string& out, std::string_view text) {
    std::istringstream words{std::string(text)};
    std::string word;
    std::string line = "#";
    while (words >> word) {
        if (line.size() > 1 && line.size() + 1 + word.size() > comment_width) {
            out += line + "\n";
            line = "#";
        }
        line += " " + word;
    }
    if (line.size() > 1) out += line + "\n";
}

std::string section_title(const std::string& section) {
    return section.empty() ? std::string("Top level and [hosts.\"name\"]") : "[" + section + "]";
}

std::string escape_cell(std::string_view text) {
    std::string out;
    for (char c : text) {
        if (c == '|') out += '\\';
        out += c;
    }
    return out;
}

}  // namespace

std::string render_example_config(const OptionRegistry& registry) {
    std::string out;
    out += "# Parley configuration.\n"
           "#\n"
           "# Generated from the option table; docs/CONFIGURATION.md comes from the same\n"
           "# table. Each \"#name = value\" line shows the default: uncomment it to change it.\n"
           "# Durations: \"500ms\", \"30s\", \"10m\", \"2h\", \"1d\" or an integer of seconds.\n"
           "# Sizes: \"512B\", \"256KiB\", \"10MiB\", \"1GiB\" or an integer of bytes.\n"
           "#\n"
           "# More files to read, as globs relative to this file, in sorted order. They may\n"
           "# add to any section, but setting the same key twice anywhere is an error.\n"
           "#include = [\"conf.d/*.toml\"]\n";
    for (const std::string& section : registry.sections()) {
        out += "\n";
        if (!section.empty()) out += "[" + section + "]\n";
        std::string_view doc = registry.section_doc(section);
        if (!doc.empty()) append_wrapped_comment(out, doc);
        for (const OptionSpec& spec : registry.options()) {
            if (option_section(spec.key) != section) continue;
            out += "\n";
            append_wrapped_comment(out, spec.doc);
            std::string facts = "Type: " + std::string(option_type_name(spec.type));
            std::string allowed = allowed_values(spec);
            if (!allowed.empty()) facts += "; " + allowed;
            facts += spec.per_host ? ". Per host." : ". Global only.";
            append_wrapped_comment(out, facts);
            out += "#" + std::string(option_name(spec.key)) + " = " + spec.default_value + "\n";
        }
    }
    out += "\n";
    append_wrapped_comment(out,
                           "Virtual hosts: one [hosts.\"name\"] table each; names are compared in lower case. "
                           "Inside it set the per-host top-level keys (certificate, key, modules_enabled) and "
                           "override per-host options under the same section names, e.g. "
                           "[hosts.\"example.org\".limits]. At least one host is required.");
    out += "[hosts.\"localhost\"]\n";
    return out;
}

std::string render_config_reference_markdown(const OptionRegistry& registry) {
    std::string out;
    out += "# Configuration reference\n\n"
           "Generated from the option table (`src/core/core_options.cpp` and each module's\n"
           "registration) by `render_config_reference_markdown`; do not edit by hand.\n\n"
           "Durations are written `\"500ms\"`, `\"30s\"`, `\"10m\"`, `\"2h\"`, `\"1d\"` or as an integer\n"
           "of seconds; sizes as `\"512B\"`, `\"256KiB\"`, `\"10MiB\"`, `\"1GiB\"` or an integer of bytes.\n"
           "Options marked *per host* may be overridden in `[hosts.\"name\".<section>]`; a host\n"
           "without an override uses the global value, then the default. Files listed in the\n"
           "top-level `include` (globs relative to the including file) are read in sorted order;\n"
           "a key set twice anywhere is an error.\n";
    for (const std::string& section : registry.sections()) {
        out += "\n## " + section_title(section) + "\n\n";
        std::string_view doc = registry.section_doc(section);
        if (!doc.empty()) out += std::string(doc) + "\n\n";
        out += "| Option | Type | Default | Allowed | Per host | Description |\n";
        out += "|---|---|---|---|---|---|\n";
        for (const OptionSpec& spec : registry.options()) {
            if (option_section(spec.key) != section) continue;
            out += "| `" + spec.key + "` | " + std::string(option_type_name(spec.type)) + " | `" +
                   escape_cell(spec.default_value) + "` | " + escape_cell(allowed_values(spec)) + " | " +
                   (spec.per_host ? "yes" : "no") + " | " + escape_cell(spec.doc) + " |\n";
        }
    }
    return out;
}

}  // namespace parley::core
