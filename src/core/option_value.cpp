#include "core/option_value.hpp"

#include <iterator>
#include <limits>

namespace parley::core {
namespace {

struct Unit {
    std::string_view suffix;
    int64_t factor;
};

// Largest factor first so that formatting picks the shortest exact spelling.
constexpr Unit duration_units[] = {
    {"d", 86'400'000}, {"h", 3'600'000}, {"m", 60'000}, {"s", 1'000}, {"ms", 1}};
constexpr Unit size_units[] = {
    {"GiB", int64_t{1} << 30}, {"MiB", int64_t{1} << 20}, {"KiB", int64_t{1} << 10}, {"B", 1}};

std::optional<int64_t> parse_with_units(std::string_view text, const Unit* units, size_t count) {
    size_t digits = 0;
    int64_t number = 0;
    while (digits < text.size() && text[digits] >= '0' && text[digits] <= '9') {
        int digit = text[digits] - '0';
        if (number > (std::numeric_limits<int64_t>::max() - digit) / 10) return std::nullopt;
        number = number * 10 + digit;
        ++digits;
    }
    if (digits == 0) return std::nullopt;
    std::string_view suffix = text.substr(digits);
    for (size_t i = 0; i < count; ++i) {
        if (units[i].suffix != suffix) continue;
        if (number > std::numeric_limits<int64_t>::max() / units[i].factor) return std::nullopt;
        return number * units[i].factor;
    }
    return std::nullopt;
}

std::string format_with_units(int64_t value, const Unit* units, size_t count) {
    for (size_t i = 0; i + 1 < count; ++i) {
        if (value != 0 && value % units[i].factor == 0) {
            return std::to_string(value / units[i].factor) + std::string(units[i].suffix);
        }
    }
    return std::to_string(value) + std::string(units[count - 1].suffix);
}

std::string_view toml_type_phrase(const toml::node& node) {
    switch (node.type()) {
        case toml::node_type::string: return "a string";
        case toml::node_type::integer: return "an integer";
        case toml::node_type::floating_point: return "a float";
        case toml::node_type::boolean: return "a boolean";
        case toml::node_type::date: return "a date";
        case toml::node_type::time: return "a time";
        case toml::node_type::date_time: return "a date-time";
        case toml::node_type::array: return "an array";
        case toml::node_type::table: return "a table";
        default: return "nothing";
    }
}

std::string_view expected_phrase(OptionType type) {
    switch (type) {
        case OptionType::String: return "a string";
        case OptionType::Integer: return "an integer";
        case OptionType::Boolean: return "a boolean";
        case OptionType::StringList: return "an array of strings";
        case OptionType::Duration: return "a duration (\"30s\" or an integer of seconds)";
        case OptionType::Size: return "a size (\"256KiB\" or an integer of bytes)";
        case OptionType::Path: return "a path string";
    }
    return "a value";
}

std::string wrong_type(OptionType type, const toml::node& node) {
    std::string message = "expected ";
    message += expected_phrase(type);
    message += ", got ";
    message += toml_type_phrase(node);
    return message;
}

std::string format_bound(OptionType type, int64_t bound) {
    switch (type) {
        case OptionType::Duration: return format_duration_ms(bound);
        case OptionType::Size: return format_size_bytes(bound);
        default: return std::to_string(bound);
    }
}

// nullopt when within bounds, else the message.
std::optional<std::string> check_bounds(const OptionSpec& spec, int64_t value) {
    bool too_small = spec.min && value < *spec.min;
    bool too_large = spec.max && value > *spec.max;
    if (!too_small && !too_large) return std::nullopt;
    bool list = spec.type == OptionType::StringList;
    std::string what = list ? "must have " : "must be ";
    auto tail = [&](int64_t last_bound) -> std::string {
        if (!list) return "";
        return last_bound == 1 ? " element" : " elements";
    };
    if (spec.min && spec.max) {
        return what + "between " + format_bound(spec.type, *spec.min) + " and " +
               format_bound(spec.type, *spec.max) + tail(*spec.max);
    }
    if (spec.min) return what + "at least " + format_bound(spec.type, *spec.min) + tail(*spec.min);
    return what + "at most " + format_bound(spec.type, *spec.max) + tail(*spec.max);
}

std::string choices_message(const OptionSpec& spec, std::string_view got) {
    std::string message = "\"" + std::string(got) + "\" is not one of: ";
    for (size_t i = 0; i < spec.choices.size(); ++i) {
        if (i != 0) message += ", ";
        message += spec.choices[i];
    }
    return message;
}

bool is_choice(const OptionSpec& spec, std::string_view value) {
    if (spec.choices.empty()) return true;
    for (const auto& choice : spec.choices) {
        if (choice == value) return true;
    }
    return false;
}

// Duration and Size accept a unit string or a bare non-negative integer.
std::variant<OptionValue, std::string> convert_quantity(const OptionSpec& spec, const toml::node& node) {
    bool duration = spec.type == OptionType::Duration;
    int64_t result = 0;
    if (auto integer = node.as_integer()) {
        int64_t number = integer->get();
        if (number < 0) return std::string("must not be negative");
        int64_t factor = duration ? 1000 : 1;
        if (number > std::numeric_limits<int64_t>::max() / factor) {
            return std::string("is too large");
        }
        result = number * factor;
    } else if (auto text = node.as_string()) {
        auto parsed = duration ? parse_duration_ms(text->get()) : parse_size_bytes(text->get());
        if (!parsed) {
            std::string message = duration ? "invalid duration \"" : "invalid size \"";
            message += text->get();
            message += duration ? "\": use an integer of seconds or a number with unit ms, s, m, h or d"
                                : "\": use an integer of bytes or a number with unit B, KiB, MiB or GiB";
            return message;
        }
        result = *parsed;
    } else {
        return wrong_type(spec.type, node);
    }
    if (auto error = check_bounds(spec, result)) return *error;
    return OptionValue{result};
}

}  // namespace

std::optional<int64_t> parse_duration_ms(std::string_view text) {
    return parse_with_units(text, duration_units, std::size(duration_units));
}

std::optional<int64_t> parse_size_bytes(std::string_view text) {
    return parse_with_units(text, size_units, std::size(size_units));
}

std::string format_duration_ms(int64_t ms) {
    return format_with_units(ms, duration_units, std::size(duration_units));
}

std::string format_size_bytes(int64_t bytes) {
    return format_with_units(bytes, size_units, std::size(size_units));
}

std::variant<OptionValue, std::string> convert_option_value(const OptionSpec& spec, const toml::node& node) {
    switch (spec.type) {
        case OptionType::String:
        case OptionType::Path: {
            auto text = node.as_string();
            if (!text) return wrong_type(spec.type, node);
            if (!is_choice(spec, text->get())) return choices_message(spec, text->get());
            return OptionValue{text->get()};
        }
        case OptionType::Integer: {
            auto integer = node.as_integer();
            if (!integer) return wrong_type(spec.type, node);
            if (auto error = check_bounds(spec, integer->get())) return *error;
            return OptionValue{integer->get()};
        }
        case OptionType::Boolean: {
            auto boolean = node.as_boolean();
            if (!boolean) return wrong_type(spec.type, node);
            return OptionValue{boolean->get()};
        }
        case OptionType::StringList: {
            auto array = node.as_array();
            if (!array) return wrong_type(spec.type, node);
            std::vector<std::string> items;
            for (const toml::node& element : *array) {
                auto text = element.as_string();
                if (!text) {
                    return "expected an array of strings, got an element that is " +
                           std::string(toml_type_phrase(element));
                }
                if (!is_choice(spec, text->get())) return choices_message(spec, text->get());
                items.push_back(text->get());
            }
            if (auto error = check_bounds(spec, static_cast<int64_t>(items.size()))) return *error;
            return OptionValue{std::move(items)};
        }
        case OptionType::Duration:
        case OptionType::Size:
            return convert_quantity(spec, node);
    }
    return std::string("unsupported option type");
}

std::variant<OptionValue, std::string> parse_default_value(const OptionSpec& spec) {
    toml::table parsed;
    try {
        parsed = toml::parse("value = " + spec.default_value);
    } catch (const toml::parse_error& error) {
        return "default is not valid TOML: " + std::string(error.description());
    }
    const toml::node* node = parsed.get("value");
    if (node == nullptr) return std::string("default is empty");
    return convert_option_value(spec, *node);
}

}  // namespace parley::core
