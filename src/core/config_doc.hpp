#pragma once
// Documentation generated from the option table, so conf/parley.toml and
// docs/CONFIGURATION.md always match what the loader accepts.

#include <string>

#include "core/option.hpp"

namespace parley::core {

// A valid TOML file that documents every option in place: its doc, type,
// bounds and whether it may be set per host, followed by "#name = default".
// Every value line is commented out, and the file ends with one
// [hosts."localhost"] table, so loading it yields exactly the defaults.
// Uncommenting every "#name = value" line also loads and yields the defaults.
std::string render_example_config(const OptionRegistry& registry);

// Markdown for docs/CONFIGURATION.md: one table per section with option,
// type, default, allowed values, per-host flag and description.
std::string render_config_reference_markdown(const OptionRegistry& registry);

}  // namespace parley::core
