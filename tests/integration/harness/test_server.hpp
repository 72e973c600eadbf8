#pragma once
// A real parleyd for one test: its own config, certificates and database (in
// a throwaway PostgreSQL cluster shared by the test binary), on free ports.
#include <sys/types.h>

#include <filesystem>
#include <map>
#include <string>
#include <optional>
#include <vector>

#include "net/certificate.hpp"

namespace parley::test {

// A throwaway certificate authority for federation tests: peers trust it
// through modules.s2s.ca_file, and servers get certificates it issued.
struct TestCa {
  TestCa();
  ~TestCa();
  TestCa(const TestCa&) = delete;
  TestCa& operator=(const TestCa&) = delete;
  // Issues a certificate for `names` into dir()/<file>.crt and .key.
  void issue(const std::vector<std::string>& names, const std::string& file);
  std::filesystem::path cert_file() const { return files.cert_file; }
  const std::filesystem::path& dir() const { return dir_; }
  net::CertificateAuthority files;

 private:
  std::filesystem::path dir_;
};

struct ServerOptions {
  std::vector<std::string> hosts = {"localhost"};
  // Extra TOML appended to the generated config (sections and per-host tables).
  std::string extra_config;
  // Extra keys for the generated [server] and [c2s] tables.
  std::string server_config;
  std::string c2s_config;
  // modules_enabled for every host; the core set unless a test says otherwise,
  // so changing the product's defaults cannot change a test.
  std::vector<std::string> modules = {"disco", "ping", "time", "version"};
  bool start = true;
  // Issue the hosts' certificates from this CA instead of self-signing them.
  std::optional<net::CertificateAuthority> issuer;
  // Another TestServer's conninfo(): share its database (two parleyd of one
  // deployment) instead of getting a fresh one.
  std::string database;
  // The c2s STARTTLS port; 0: a free one.
  uint16_t starttls_port = 0;
};

class TestServer {
 public:
  explicit TestServer(ServerOptions options = {});
  ~TestServer();
  TestServer(const TestServer&) = delete;
  TestServer& operator=(const TestServer&) = delete;

  void start();
  // SIGTERM and wait; returns the exit status (or -1 on timeout, then SIGKILL).
  int stop();
  void kill_hard();
  void signal(int signum);
  bool running();

  uint16_t starttls_port() const { return starttls_port_; }
  uint16_t direct_tls_port() const { return direct_tls_port_; }
  uint16_t http_port() const { return http_port_; }  // HTTPS
  const std::filesystem::path& dir() const { return dir_; }
  const std::filesystem::path& config_path() const { return config_path_; }
  pid_t pid() const { return pid_; }  // -1 when not running
  const std::string& conninfo() const { return conninfo_; }
  std::string log() const;  // what parleyd wrote so far

  void add_user(const std::string& jid, const std::string& password);
  // Runs parleyctl with this server's config; returns its exit code and output.
  int parleyctl(const std::vector<std::string>& args, std::string& output, const std::string& stdin_text = {});
  // Rewrites the config (for reload tests).
  void write_config(const std::string& extra_config);
  // The modules the next write_config() enables for localhost.
  void set_modules(std::vector<std::string> modules) { options_.modules = std::move(modules); }

 private:
  ServerOptions options_;
  std::filesystem::path dir_;
  std::filesystem::path config_path_;
  std::string conninfo_;
  uint16_t starttls_port_ = 0;
  uint16_t direct_tls_port_ = 0;
  uint16_t http_port_ = 0;
  pid_t pid_ = -1;
};

// A port nobody listens on right now.
uint16_t free_port();
// Whether something listens on this loopback port.
bool port_accepts(uint16_t port);
// A listening socket on 127.0.0.1 (any port, stored in `port`), for tests
// that play a peer; the caller closes it.
int loopback_listener(uint16_t& port);
// Runs a program (no shell); returns its exit code, collects stdout+stderr.
int run_program(const std::vector<std::string>& argv, std::string& output, const std::string& stdin_text = {});
// The shared throwaway cluster's connection string (started on first use).
std::string cluster_conninfo();

}  // namespace parley::test
