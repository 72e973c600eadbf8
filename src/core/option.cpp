#include "core/option.hpp"

#include <algorithm>
#include <cstdio>
#include <cstdlib>

#include "core/option_value.hpp"

namespace parley::core {
namespace {

// A malformed option table is a bug in the code that registers it, found on
// the first start-up: fail loudly rather than run with a half-valid table.
[[noreturn]] void registry_bug(std::string_view key, std::string_view message) {
    std::fprintf(stderr, "parley: option table bug: %.*s: %.*s\n", static_cast<int>(key.size()),
                 key.data(), static_cast<int>(message.size()), message.data());
    std::abort();
}

bool valid_key_syntax(std::string_view key) {
    if (key.empty() || key.front() == '.' || key.back() == '.') return false;
    char previous = 0;
    for (char c : key) {
        bool word = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
        if (!word && c != '.') return false;
        if (c == '.' && previous == '.') return false;
        previous = c;
    }
    return true;
}

bool starts_with_section(std::string_view key, std::string_view section) {
    return key.size() > section.size() && key.substr(0, section.size()) == section &&
           key[section.size()] == '.';
}

size_t edit_distance(std::string_view a, std::string_view b) {
    std::vector<size_t> row(b.size() + 1);
    for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
    for (size_t i = 1; i <= a.size(); ++i) {
        size_t diagonal = row[0];
        row[0] = i;
        for (size_t j = 1; j <= b.size(); ++j) {
            size_t above = row[j];
            row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
            diagonal = above;
        }
    }
    return row[b.size()];
}

}  // namespace

std::string_view option_type_name(OptionType type) {
    switch (type) {
        case OptionType::String: return "string";
        case OptionType::Integer: return "integer";
        case OptionType::Boolean: return "boolean";
        case OptionType::StringList: return "list of strings";
        case OptionType::Duration: return "duration";
        case OptionType::Size: return "size";
        case OptionType::Path: return "path";
    }
    return "unknown";
}

std::string_view option_section(std::string_view key) {
    size_t dot = key.rfind('.');
    return dot == std::string_view::npos ? std::string_view{} : key.substr(0, dot);
}

std::string_view option_name(std::string_view key) {
    size_t dot = key.rfind('.');
    return dot == std::string_view::npos ? key : key.substr(dot + 1);
}

void OptionRegistry::add(OptionSpec spec) {
    if (!valid_key_syntax(spec.key)) registry_bug(spec.key, "key must be dotted [a-z0-9_] words");
    if (spec.key == "include" || spec.key == "hosts" || starts_with_section(spec.key, "hosts")) {
        registry_bug(spec.key, "\"include\" and \"hosts\" are reserved top-level keys");
    }
    if (index_.count(spec.key) != 0) registry_bug(spec.key, "registered twice");
    // A key cannot be both a value and a table in TOML.
    for (const auto& existing : options_) {
        if (starts_with_section(spec.key, existing.key) || starts_with_section(existing.key, spec.key)) {
            registry_bug(spec.key, "collides with the table of option " + existing.key);
        }
    }
    auto converted = parse_default_value(spec);
    if (auto* error = std::get_if<std::string>(&converted)) registry_bug(spec.key, "default: " + *error);
    index_.emplace(spec.key, options_.size());
    options_.push_back(std::move(spec));
}

void OptionRegistry::add_section(std::string section, std::string doc) {
    section_docs_[std::move(section)] = std::move(doc);
}

const OptionSpec* OptionRegistry::find(std::string_view key) const {
    auto it = index_.find(key);
    return it == index_.end() ? nullptr : &options_[it->second];
}

bool OptionRegistry::has_section(std::string_view section) const {
    return std::any_of(options_.begin(), options_.end(),
                       [&](const OptionSpec& spec) { return starts_with_section(spec.key, section); });
}

std::string_view OptionRegistry::section_doc(std::string_view section) const {
    auto it = section_docs_.find(section);
    return it == section_docs_.end() ? std::string_view{} : std::string_view{it->second};
}

std::vector<std::string> OptionRegistry::sections() const {
    std::vector<std::string> result;
    // TOML requires top-level keys before the first table header, so the
    // top-level section always comes first.
    bool has_top_level = std::any_of(options_.begin(), options_.end(),
                                     [](const OptionSpec& spec) { return option_section(spec.key).empty(); });
    if (has_top_level) result.emplace_back();
    for (const auto& spec : options_) {
        std::string section(option_section(spec.key));
        if (section.empty()) continue;
        if (std::find(result.begin(), result.end(), section) == result.end()) result.push_back(section);
    }
    return result;
}

std::string OptionRegistry::closest_key(std::string_view key) const {
    std::string best;
    size_t best_distance = std::max<size_t>(2, key.size() / 4) + 1;
    for (const auto& spec : options_) {
        size_t distance = edit_distance(key, spec.key);
        if (distance < best_distance) {
            best_distance = distance;
            best = spec.key;
        }
    }
    return best;
}

}  // namespace parley::core
