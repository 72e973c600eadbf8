#include <doctest/doctest.h>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <regex>

#include "core/config.hpp"
#include "core/config_doc.hpp"
#include "config_test_options.hpp"
#include "core/option_value.hpp"

using namespace parley::core;
namespace fs = std::filesystem;

namespace {

// A fresh directory per test, removed afterwards.
class TempDir {
public:
    TempDir() {
        static int counter = 0;
        path_ = fs::temp_directory_path() /
                ("parley-config-test-" + std::to_string(::getpid()) + "-" + std::to_string(++counter));
        fs::remove_all(path_);
        fs::create_directories(path_);
    }
    ~TempDir() { fs::remove_all(path_); }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;

    fs::path write(const std::string& name, const std::string& content) const {
        fs::path file = path_ / name;
        fs::create_directories(file.parent_path());
        std::ofstream(file) << content;
        return file;
    }
    const fs::path& path() const { return path_; }
    std::string str(const std::string& name) const { return (path_ / name).string(); }

private:
    fs::path path_;
};

OptionRegistry core_registry() {
    OptionRegistry registry;
    register_test_options(registry);
    return registry;
}

// The registry a server with the version module loaded would have.
OptionRegistry registry_with_version_module() {
    OptionRegistry registry = core_registry();
    registry.add_section("modules.version", "Software version (XEP-0092).");
    registry.add({.key = "modules.version.show_os", .type = OptionType::Boolean, .default_value = "true",
                  .doc = "Include the operating system in the reply.", .per_host = true});
    return registry;
}

Config load_ok(const fs::path& file, const OptionRegistry& registry) {
    auto result = Config::load(file, registry);
    if (auto* error = std::get_if<ConfigError>(&result)) FAIL("unexpected error: " << error->str());
    return std::get<Config>(std::move(result));
}

std::string load_error(const fs::path& file, const OptionRegistry& registry) {
    auto result = Config::load(file, registry);
    if (std::holds_alternative<Config>(result)) FAIL("expected an error loading " << file);
    return std::get<ConfigError>(result).str();
}

// Every option of `config` equals its default (per host too).
void check_all_defaults(const Config& config, const OptionRegistry& registry, const std::string& host) {
    for (const OptionSpec& spec : registry.options()) {
        CAPTURE(spec.key);
        OptionValue expected = std::get<OptionValue>(parse_default_value(spec));
        switch (spec.type) {
            case OptionType::String:
                CHECK(config.get_string(spec.key, host) == std::get<std::string>(expected));
                break;
            case OptionType::Path: {
                auto& text = std::get<std::string>(expected);
                fs::path base = spec.path_base == PathBase::StateDir ? config.get_path("server.state_dir")
                                                                     : config.file().parent_path();
                CHECK(config.get_path(spec.key, host) == (text.empty() ? fs::path() : (base / text).lexically_normal()));
                break;
            }
            case OptionType::Integer: CHECK(config.get_int(spec.key, host) == std::get<int64_t>(expected)); break;
            case OptionType::Boolean: CHECK(config.get_bool(spec.key, host) == std::get<bool>(expected)); break;
            case OptionType::StringList:
                CHECK(config.get_list(spec.key, host) == std::get<std::vector<std::string>>(expected));
                break;
            case OptionType::Duration:
                CHECK(config.get_duration(spec.key, host).count() == std::get<int64_t>(expected));
                break;
            case OptionType::Size:
                CHECK(config.get_size(spec.key, host) == static_cast<uint64_t>(std::get<int64_t>(expected)));
                break;
        }
    }
}

// Runs `body` in a child process; returns what it wrote to stderr if it died
// of SIGABRT, or "did not abort".
template <typename Body>
std::string abort_message(Body body) {
    int pipe_fds[2];
    REQUIRE(::pipe(pipe_fds) == 0);
    pid_t child = ::fork();
    REQUIRE(child >= 0);
    if (child == 0) {
        ::dup2(pipe_fds[1], 2);
        body();
        ::_exit(0);
    }
    ::close(pipe_fds[1]);
    std::string output;
    char buffer[512];
    ssize_t got;
    while ((got = ::read(pipe_fds[0], buffer, sizeof buffer)) > 0) output.append(buffer, static_cast<size_t>(got));
    ::close(pipe_fds[0]);
    int status = 0;
    ::waitpid(child, &status, 0);
    if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGABRT) return "did not abort";
    return output;
}

}  // namespace

TEST_CASE("durations and sizes parse their units and format back exactly") {
    CHECK(parse_duration_ms("500ms") == 500);
    CHECK(parse_duration_ms("30s") == 30'000);
    CHECK(parse_duration_ms("10m") == 600'000);
    CHECK(parse_duration_ms("2h") == 7'200'000);
    CHECK(parse_duration_ms("1d") == 86'400'000);
    CHECK_FALSE(parse_duration_ms("10").has_value());
    CHECK_FALSE(parse_duration_ms("1.5h").has_value());
    CHECK_FALSE(parse_duration_ms("-1s").has_value());
    CHECK_FALSE(parse_duration_ms("s").has_value());
    CHECK_FALSE(parse_duration_ms("99999999999999999999s").has_value());
    CHECK(format_duration_ms(600'000) == "10m");
    CHECK(format_duration_ms(1'500) == "1500ms");
    CHECK(format_duration_ms(0) == "0ms");

    CHECK(parse_size_bytes("512B") == 512);
    CHECK(parse_size_bytes("256KiB") == 262'144);
    CHECK(parse_size_bytes("10MiB") == 10'485'760);
    CHECK(parse_size_bytes("1GiB") == 1'073'741'824);
    CHECK_FALSE(parse_size_bytes("10MB").has_value());
    CHECK_FALSE(parse_size_bytes("10 KiB").has_value());
    CHECK(format_size_bytes(262'144) == "256KiB");
    CHECK(format_size_bytes(1'000) == "1000B");
}

TEST_CASE("a minimal config yields the defaults") {
    TempDir dir;
    auto file = dir.write("parley.toml", "[hosts.\"example.org\"]\n");
    OptionRegistry registry = core_registry();
    Config config = load_ok(file, registry);
    CHECK(config.file() == file);
    CHECK(config.hosts() == std::vector<std::string>{"example.org"});
    CHECK(config.get_int("c2s.starttls_port") == 5222);
    CHECK(config.get_string("server.log_level") == "info");
    CHECK(config.get_bool("database.embedded") == true);
    CHECK(config.get_duration("c2s.idle_timeout") == std::chrono::minutes(10));
    CHECK(config.get_size("limits.max_stanza_bytes") == 256 * 1024);
    CHECK(config.get_list("c2s.bind_addresses") == std::vector<std::string>{"0.0.0.0", "::"});
    CHECK(config.get_path("server.state_dir") == dir.path() / "var");
    CHECK(config.get_path("server.log_file") == fs::path());
    CHECK(config.get_path("certificate", "example.org") == fs::path());
    check_all_defaults(config, registry, "example.org");
}

TEST_CASE("per-host values fall back to the global value, then to the default") {
    TempDir dir;
    auto file = dir.write("parley.toml",
                          "modules_enabled = [\"ping\"]\n"
                          "[server]\n"
                          "state_dir = \"/srv/parley\"\n"
                          "log_file = \"log/parley.log\"\n"
                          "[limits]\n"
                          "max_stanza_bytes = \"1MiB\"\n"
                          "[hosts.\"Example.ORG\"]\n"
                          "certificate = \"certs/example.pem\"\n"
                          "modules_enabled = [\"ping\", \"version\"]\n"
                          "[hosts.\"Example.ORG\".limits]\n"
                          "max_stanza_bytes = 100000\n"
                          "[hosts.\"other.net\"]\n");
    Config config = load_ok(file, core_registry());
    CHECK(config.hosts() == std::vector<std::string>{"example.org", "other.net"});
    CHECK(config.has_host("EXAMPLE.org"));
    CHECK_FALSE(config.has_host("third.org"));

    CHECK(config.get_size("limits.max_stanza_bytes", "example.org") == 100000);
    CHECK(config.get_size("limits.max_stanza_bytes", "EXAMPLE.ORG") == 100000);
    CHECK(config.get_size("limits.max_stanza_bytes", "other.net") == 1024 * 1024);
    CHECK(config.get_size("limits.max_stanza_bytes") == 1024 * 1024);
    CHECK(config.get_size("limits.max_stanza_bytes", "third.org") == 1024 * 1024);
    // Neither set globally nor per host: the default.
    CHECK(config.get_int("limits.max_sessions_per_account", "example.org") == 10);

    CHECK(config.get_list("modules_enabled", "example.org") == std::vector<std::string>{"ping", "version"});
    CHECK(config.get_list("modules_enabled", "other.net") == std::vector<std::string>{"ping"});

    CHECK(config.get_path("certificate", "example.org") == dir.path() / "certs/example.pem");
    CHECK(config.get_path("certificate", "other.net") == fs::path());
    CHECK(config.get_path("server.state_dir") == fs::path("/srv/parley"));
    CHECK(config.get_path("server.log_file") == fs::path("/srv/parley/log/parley.log"));
}

TEST_CASE("module options are accepted once the module registered them, globally and per host") {
    TempDir dir;
    auto file = dir.write("parley.toml",
                          "[modules.version]\n"
                          "show_os = false\n"
                          "[hosts.\"a.org\".modules.version]\n"
                          "show_os = true\n"
                          "[hosts.\"b.org\"]\n");
    Config config = load_ok(file, registry_with_version_module());
    CHECK(config.get_bool("modules.version.show_os", "a.org") == true);
    CHECK(config.get_bool("modules.version.show_os", "b.org") == false);

    CHECK(load_error(file, core_registry()) == dir.str("parley.toml") +
                                                     ":1:10: modules.version: unknown module (not loaded, or it has no options)");
}

TEST_CASE("included files are read in sorted order and may extend any section") {
    TempDir dir;
    auto file = dir.write("parley.toml",
                          "include = [\"conf.d/*.toml\", \"extra/*.toml\"]\n"
                          "[hosts.\"a.org\"]\n");
    dir.write("conf.d/20-hosts.toml", "[hosts.\"b.org\"]\nmodules_enabled = [\"ping\"]\n");
    dir.write("conf.d/10-c2s.toml", "[c2s]\nstarttls_port = 5322\n");
    dir.write("conf.d/ignored.txt", "not toml [");
    Config config = load_ok(file, core_registry());
    CHECK(config.hosts() == std::vector<std::string>{"a.org", "b.org"});
    CHECK(config.get_int("c2s.starttls_port") == 5322);
    CHECK(config.get_list("modules_enabled", "b.org") == std::vector<std::string>{"ping"});

    SUBCASE("the same key set in two files is an error naming both") {
        dir.write("conf.d/30-dup.toml", "[c2s]\nstarttls_port = 5400\n");
        CHECK(load_error(file, core_registry()) ==
              dir.str("conf.d/30-dup.toml") + ":2:1: c2s.starttls_port: already set at " +
                  dir.str("conf.d/10-c2s.toml") + ":2:1");
    }
    SUBCASE("the same per-host key set in two files, with differently cased host names") {
        dir.write("conf.d/30-dup.toml", "[hosts.\"B.ORG\"]\nmodules_enabled = []\n");
        CHECK(load_error(file, core_registry()) ==
              dir.str("conf.d/30-dup.toml") + ":2:1: hosts.\"b.org\".modules_enabled: already set at " +
                  dir.str("conf.d/20-hosts.toml") + ":2:1");
    }
    SUBCASE("an error inside an included file names that file") {
        dir.write("conf.d/30-bad.toml", "\n[limits]\nmax_xml_depth = 2\n");
        CHECK(load_error(file, core_registry()) ==
              dir.str("conf.d/30-bad.toml") + ":3:1: limits.max_xml_depth: must be between 8 and 1024");
    }
}

TEST_CASE("include errors: a missing literal file, a wrong type, a file included twice") {
    TempDir dir;
    auto missing = dir.write("missing.toml", "include = [\"nothere.toml\"]\n[hosts.\"a.org\"]\n");
    CHECK(load_error(missing, core_registry()) ==
          dir.str("missing.toml") + ":1:1: include: no such file: " + dir.str("nothere.toml"));

    auto wrong = dir.write("wrong.toml", "include = 3\n[hosts.\"a.org\"]\n");
    CHECK(load_error(wrong, core_registry()) == dir.str("wrong.toml") + ":1:1: include: expected an array of strings");

    auto loop = dir.write("loop.toml", "include = [\"loop.toml\"]\n[hosts.\"a.org\"]\n");
    CHECK(load_error(loop, core_registry()) ==
          dir.str("loop.toml") + ":1:1: include: \"" + dir.str("loop.toml") + "\" is included twice");
}

TEST_CASE("every validation error reports file:line:column, option and reason") {
    TempDir dir;
    OptionRegistry registry = core_registry();
    auto check_error = [&](const std::string& body, const std::string& expected) {
        auto file = dir.write("parley.toml", body + "\n[hosts.\"a.org\"]\n");
        CHECK(load_error(file, registry) == dir.str("parley.toml") + expected);
    };
    check_error("[c2s]\nstarttls_prot = 5222", ":2:1: c2s.starttls_prot: unknown option (did you mean c2s.starttls_port?)");
    check_error("[c2s]\nfrobnicate = 1", ":2:1: c2s.frobnicate: unknown option");
    check_error("[c2z]\nstarttls_port = 1", ":1:2: c2z: unknown section");
    check_error("[c2s]\nstarttls_port = \"5222\"", ":2:1: c2s.starttls_port: expected an integer, got a string");
    check_error("[database]\nembedded = 1", ":2:1: database.embedded: expected a boolean, got an integer");
    check_error("[c2s]\nbind_addresses = [\"::\", 1]",
                ":2:1: c2s.bind_addresses: expected an array of strings, got an element that is an integer");
    check_error("[c2s]\nbind_addresses = []", ":2:1: c2s.bind_addresses: must have at least 1 element");
    check_error("\n\n[c2s]\n  starttls_port = 70000", ":4:3: c2s.starttls_port: must be between 1 and 65535");
    check_error("[server]\nlog_level = \"verbose\"",
                ":2:1: server.log_level: \"verbose\" is not one of: debug, info, warn, error");
    check_error("[c2s]\nidle_timeout = \"10x\"",
                ":2:1: c2s.idle_timeout: invalid duration \"10x\": use an integer of seconds or a number with unit "
                "ms, s, m, h or d");
    check_error("[c2s]\nidle_timeout = \"1s\"", ":2:1: c2s.idle_timeout: must be between 10s and 1d");
    check_error("[c2s]\nidle_timeout = -5", ":2:1: c2s.idle_timeout: must not be negative");
    check_error("[c2s]\nidle_timeout = 1.5",
                ":2:1: c2s.idle_timeout: expected a duration (\"30s\" or an integer of seconds), got a float");
    check_error("[limits]\nmax_stanza_bytes = \"10MB\"",
                ":2:1: limits.max_stanza_bytes: invalid size \"10MB\": use an integer of bytes or a number with unit "
                "B, KiB, MiB or GiB");
    check_error("[limits]\nmax_stanza_bytes = \"1GiB\"", ":2:1: limits.max_stanza_bytes: must be between 10000B and 64MiB");
    check_error("[hosts.\"a.org\".c2s]\nstarttls_port = 5000",
                ":2:1: hosts.\"a.org\".c2s.starttls_port: global-only option; it cannot be set per host");
    check_error("[hosts.\"b.org\"]\ncolour = \"blue\"", ":2:1: hosts.\"b.org\".colour: unknown option");
    check_error("[hosts.\"b.org\".c2z]\nx = 1", ":1:16: hosts.\"b.org\".c2z: unknown section");
    // The first error in file order wins, although toml++ sorts keys.
    check_error("[server]\nzzz = 1\n[c2s]\naaa = 1", ":2:1: server.zzz: unknown option");

    auto not_a_table = dir.write("hosts.toml", "hosts = 1\n");
    CHECK(load_error(not_a_table, registry) ==
          dir.str("hosts.toml") + ":1:1: hosts: must be a table of [hosts.\"name\"] tables");
}

TEST_CASE("TOML syntax errors report toml++'s position and message") {
    TempDir dir;
    auto file = dir.write("parley.toml", "[c2s]\nstarttls_port = 5222\nstarttls_port = 5223\n");
    CHECK(load_error(file, core_registry()) ==
          dir.str("parley.toml") + ":3:17: Error while parsing key-value pair: cannot redefine existing integer 'starttls_port'");
    auto broken = dir.write("broken.toml", "[c2s\n");
    CHECK(load_error(broken, core_registry()) == dir.str("broken.toml") + ":1:5: Error while parsing table header: expected ']', saw '\\n'");
}

TEST_CASE("missing file and missing host are reported against the file") {
    TempDir dir;
    CHECK(load_error(dir.path() / "absent.toml", core_registry()) == dir.str("absent.toml") + ": File could not be opened for reading");
    auto file = dir.write("parley.toml", "[c2s]\nstarttls_port = 5222\n");
    CHECK(load_error(file, core_registry()) ==
          dir.str("parley.toml") + ": no virtual host configured: add a [hosts.\"example.org\"] table");
}

TEST_CASE("the rendered example config loads and yields the defaults") {
    TempDir dir;
    OptionRegistry registry = registry_with_version_module();
    std::string example = render_example_config(registry);
    CHECK(example.find("# Port for connections that negotiate STARTTLS (RFC 6120 §5).\n"
                       "# Type: integer; 1 to 65535. Global only.\n"
                       "#starttls_port = 5222\n") != std::string::npos);
    CHECK(example.find("[modules.version]\n# Software version (XEP-0092).\n") != std::string::npos);

    auto file = dir.write("parley.toml", example);
    Config config = load_ok(file, registry);
    CHECK(config.hosts() == std::vector<std::string>{"localhost"});
    check_all_defaults(config, registry, "localhost");

    // Uncommenting every value line sets every option to its default
    // explicitly, which checks each default is written as valid TOML.
    std::string uncommented = std::regex_replace(example, std::regex("^#([a-z_]+ = )", std::regex::multiline), "$1");
    uncommented = std::regex_replace(uncommented, std::regex("^include = .*$", std::regex::multiline), "");
    REQUIRE(uncommented != example);
    CHECK(uncommented.find("\nstarttls_port = 5222\n") != std::string::npos);
    auto explicit_file = dir.write("explicit.toml", uncommented);
    Config explicit_config = load_ok(explicit_file, registry);
    check_all_defaults(explicit_config, registry, "localhost");
}

TEST_CASE("the Markdown reference has a table per section with every option") {
    OptionRegistry registry = registry_with_version_module();
    std::string markdown = render_config_reference_markdown(registry);
    CHECK(markdown.find("## [c2s]\n\nClient-to-server listeners (RFC 6120).\n\n"
                        "| Option | Type | Default | Allowed | Per host | Description |\n|---|---|---|---|---|---|\n") !=
          std::string::npos);
    CHECK(markdown.find("| `c2s.starttls_port` | integer | `5222` | 1 to 65535 | no | "
                        "Port for connections that negotiate STARTTLS (RFC 6120 §5). |\n") != std::string::npos);
    CHECK(markdown.find("| `server.log_level` | string | `\"info\"` | one of: debug, info, warn, error | no |") !=
          std::string::npos);
    CHECK(markdown.find("| `modules.version.show_os` | boolean | `true` |  | yes |") != std::string::npos);
    for (const OptionSpec& spec : registry.options()) {
        CAPTURE(spec.key);
        CHECK(markdown.find("| `" + spec.key + "` |") != std::string::npos);
    }
}

TEST_CASE("ConfigError::str leaves out absent parts") {
    CHECK(ConfigError{"conf/parley.toml", 12, 1, "c2s.starttls_port", "must be between 1 and 65535"}.str() ==
          "conf/parley.toml:12:1: c2s.starttls_port: must be between 1 and 65535");
    CHECK(ConfigError{"conf/parley.toml", 3, 0, "", "bad"}.str() == "conf/parley.toml:3: bad");
    CHECK(ConfigError{"conf/parley.toml", 0, 0, "", "no host"}.str() == "conf/parley.toml: no host");
}

TEST_CASE("a malformed option spec or a wrong accessor is a programming error that aborts") {
    CHECK(abort_message([] {
              OptionRegistry registry;
              registry.add({.key = "c2s.port", .type = OptionType::Integer, .default_value = "70000", .max = 65535});
          }) == "parley: option table bug: c2s.port: default: must be at most 65535\n");
    CHECK(abort_message([] {
              OptionRegistry registry = core_registry();
              registry.add({.key = "c2s.starttls_port", .type = OptionType::Integer, .default_value = "1"});
          }) == "parley: option table bug: c2s.starttls_port: registered twice\n");
    CHECK(abort_message([] {
              OptionRegistry registry;
              registry.add({.key = "limits", .type = OptionType::Integer, .default_value = "1"});
              registry.add({.key = "limits.x", .type = OptionType::Integer, .default_value = "1"});
          }) == "parley: option table bug: limits.x: collides with the table of option limits\n");

    TempDir dir;
    auto file = dir.write("parley.toml", "[hosts.\"a.org\"]\n");
    OptionRegistry registry = core_registry();
    Config config = load_ok(file, registry);
    CHECK(abort_message([&] { (void)config.get_int("c2s.no_such_option"); }) ==
          "parley: config accessor bug: c2s.no_such_option: no such option is registered\n");
    CHECK(abort_message([&] { (void)config.get_string("c2s.starttls_port"); }) ==
          "parley: config accessor bug: c2s.starttls_port: option has type integer, read with the string accessor\n");
}
