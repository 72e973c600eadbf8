#include "harness/test_server.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <doctest/doctest.h>

#include <chrono>
#include <fstream>
#include <set>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "net/certificate.hpp"
#include "store/embedded_postgres.hpp"
#include "store/pg_client.hpp"
#include "store/pg_sync.hpp"
#include "xmpp/accounts.hpp"
#include "xmpp/jid.hpp"

extern char** environ;

namespace parley::test {

namespace {

// Tests write to sockets the server may have closed on purpose.
const bool sigpipe_ignored = [] {
  ::signal(SIGPIPE, SIG_IGN);
  return true;
}();

std::filesystem::path make_temp_dir(const char* prefix) {
  std::string pattern = (std::filesystem::temp_directory_path() / (std::string(prefix) + "XXXXXX")).string();
  if (!mkdtemp(pattern.data())) throw std::runtime_error("mkdtemp failed");
  // When the tests run as root, PostgreSQL runs as the postgres user and must
  // be able to traverse into the cluster directory.
  std::filesystem::permissions(pattern, std::filesystem::perms(0755));
  return pattern;
}

// The test binary's cluster: started once, stopped at exit by its owner.
struct Cluster {
  std::filesystem::path dir = make_temp_dir("parley-it-pg-");
  std::unique_ptr<store::EmbeddedPostgres> postgres;
  int next_database = 0;
  Cluster() {
    std::string error;
    store::EmbeddedPostgresOptions options;
    options.fsync = false;  // throwaway data: speed over durability
    postgres = store::EmbeddedPostgres::start(dir / "data", error, [](std::string_view) {}, options);
    if (!postgres) throw std::runtime_error("cannot start the test PostgreSQL cluster: " + error);
  }
  ~Cluster() {
    postgres.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
};

Cluster& cluster() {
  static Cluster instance;
  return instance;
}

}  // namespace

bool port_accepts(uint16_t port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bool ok = connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  close(fd);
  return ok;
}

int loopback_listener(uint16_t& port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (fd < 0 || bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || listen(fd, 8) != 0)
    throw std::runtime_error("cannot listen on loopback");
  socklen_t len = sizeof addr;
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  port = ntohs(addr.sin_port);
  return fd;
}

TestCa::TestCa() : dir_(make_temp_dir("parley-ca-")) {
  files = {dir_ / "ca.key", dir_ / "ca.crt"};
  std::string error;
  if (!net::create_certificate_authority("Parley test CA", files.key_file, files.cert_file, error)) {
    throw std::runtime_error("test CA: " + error);
  }
}

TestCa::~TestCa() {
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

void TestCa::issue(const std::vector<std::string>& names, const std::string& file) {
  std::string error;
  if (!net::write_self_signed_certificate(names, dir_ / (file + ".key"), dir_ / (file + ".crt"), error, &files)) {
    throw std::runtime_error("certificate: " + error);
  }
}

std::string cluster_conninfo() { return cluster().postgres->conninfo(); }

uint16_t free_port() {
  // A port is free only until it is bound, and parleyd binds its ports
  // later: two calls in a row may get the same one from the kernel (it
  // happened to an s2s listener and an HTTP port). So no port is handed out
  // twice by this test process.
  static std::set<uint16_t> handed_out;
  while (true) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    socklen_t len = sizeof addr;
    getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
    close(fd);
    uint16_t port = ntohs(addr.sin_port);
    if (handed_out.insert(port).second) return port;
  }
}

int run_program(const std::vector<std::string>& argv, std::string& output, const std::string& stdin_text) {
  int in_pipe[2], out_pipe[2];
  if (pipe(in_pipe) != 0 || pipe(out_pipe) != 0) return -1;
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, in_pipe[0], 0);
  posix_spawn_file_actions_adddup2(&actions, out_pipe[1], 1);
  posix_spawn_file_actions_adddup2(&actions, out_pipe[1], 2);
  posix_spawn_file_actions_addclose(&actions, in_pipe[1]);
  posix_spawn_file_actions_addclose(&actions, out_pipe[0]);
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid;
  int rc = posix_spawn(&pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  close(in_pipe[0]);
  close(out_pipe[1]);
  if (rc != 0) {
    close(in_pipe[1]);
    close(out_pipe[0]);
    return -1;
  }
  if (!stdin_text.empty()) {
    ssize_t ignored = write(in_pipe[1], stdin_text.data(), stdin_text.size());
    (void)ignored;
  }
  close(in_pipe[1]);
  char buffer[4096];
  ssize_t n;
  while ((n = read(out_pipe[0], buffer, sizeof buffer)) > 0) output.append(buffer, static_cast<size_t>(n));
  close(out_pipe[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

TestServer::TestServer(ServerOptions options) : options_(std::move(options)) {
  Cluster& c = cluster();
  dir_ = make_temp_dir("parley-it-");
  if (options_.database.empty()) {
    std::string database = "it_" + std::to_string(getpid()) + "_" + std::to_string(c.next_database++);
    store::PgSync admin(c.postgres->conninfo());
    store::PgResult created = admin.exec("CREATE DATABASE " + database, {});
    if (!created.ok) throw std::runtime_error("CREATE DATABASE failed: " + created.error);
    conninfo_ = c.postgres->conninfo_for(database);
  } else {
    conninfo_ = options_.database;
  }
  starttls_port_ = options_.starttls_port != 0 ? options_.starttls_port : free_port();
  direct_tls_port_ = free_port();
  http_port_ = free_port();
  std::filesystem::create_directories(dir_ / "certs");
  for (const std::string& host : options_.hosts) {
    std::string error;
    if (!net::write_self_signed_certificate({host}, dir_ / "certs" / (host + ".key"),
                                            dir_ / "certs" / (host + ".crt"), error,
                                            options_.issuer ? &*options_.issuer : nullptr)) {
      throw std::runtime_error("certificate: " + error);
    }
  }
  write_config(options_.extra_config);
  if (options_.start) start();
}

TestServer::~TestServer() {
  if (pid_ > 0) {
    // A crash, or a hang at shutdown, fails the test that owned the server,
    // whatever the test itself was checking.
    int status = stop();
    if (status != 0) FAIL_CHECK("parleyd ended with status " << status << " (-1: killed after a hung stop):\n" << log());
  }
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

void TestServer::write_config(const std::string& extra_config) {
  config_path_ = dir_ / "parley.toml";
  std::ofstream out(config_path_);
  out << "[server]\nstate_dir = \"" << dir_.string() << "\"\nlog_level = \"debug\"\n"
      << options_.server_config << "\n\n"
      << "[database]\nembedded = false\ndsn = \"" << conninfo_ << "\"\n\n"
      << "[c2s]\nbind_addresses = [\"127.0.0.1\"]\nstarttls_port = " << starttls_port_
      << "\ndirect_tls_port = " << direct_tls_port_ << "\n" << options_.c2s_config << "\n\n";
  // HTTPS on a free loopback port, unless the test writes its own [http] table.
  if (extra_config.find("[http]\n") == std::string::npos) {
    out << "[http]\nbind_addresses = [\"127.0.0.1\"]\ntls_port = " << http_port_ << "\n\n";
  }
  // Fast credentials, unless the test writes its own [auth] table.
  if (extra_config.find("[auth]\n") == std::string::npos) out << "[auth]\nscram_iterations = 4096\n\n";
  // A host table the test writes itself (to set per-host options) replaces ours.
  for (const std::string& host : options_.hosts) {
    std::string table = "[hosts.\"" + host + "\"]";
    if (extra_config.find(table + "\n") != std::string::npos) continue;
    out << table << "\nmodules_enabled = [";
    for (size_t i = 0; i < options_.modules.size(); ++i) out << (i ? ", " : "") << '"' << options_.modules[i] << '"';
    out << "]\n";
  }
  out << "\n" << extra_config << "\n";
}

void TestServer::start() {
  std::filesystem::path log_path = dir_ / "parleyd.log";
  std::string config = config_path_.string();
  pid_t parent = getpid();
  pid_ = fork();
  if (pid_ < 0) throw std::runtime_error("cannot fork for parleyd");
  if (pid_ == 0) {
    // parleyd must not outlive a test binary that crashed.
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != parent) _exit(1);
    int log = open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    dup2(log, 1);
    dup2(log, 2);
    execl(PARLEYD_PATH, PARLEYD_PATH, "--config", config.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (std::chrono::steady_clock::now() < deadline) {
    if (port_accepts(starttls_port_)) return;
    int status;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      throw std::runtime_error("parleyd exited at start:\n" + log());
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  throw std::runtime_error("parleyd did not start listening:\n" + log());
}

bool TestServer::running() {
  if (pid_ <= 0) return false;
  int status;
  if (waitpid(pid_, &status, WNOHANG) == pid_) {
    pid_ = -1;
    return false;
  }
  return true;
}

void TestServer::signal(int signum) {
  if (pid_ > 0) ::kill(pid_, signum);
}

int TestServer::stop() {
  if (pid_ <= 0) return -1;
  ::kill(pid_, SIGTERM);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  int status = 0;
  while (std::chrono::steady_clock::now() < deadline) {
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  kill_hard();
  return -1;
}

void TestServer::kill_hard() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  waitpid(pid_, nullptr, 0);
  pid_ = -1;
}

std::string TestServer::log() const {
  std::ifstream in(dir_ / "parleyd.log");
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void TestServer::add_user(const std::string& jid, const std::string& password) {
  std::optional<xmpp::Jid> parsed = xmpp::Jid::parse(jid);
  if (!parsed) throw std::runtime_error("bad test JID " + jid);
  store::PgSync db(conninfo_);
  std::string error = xmpp::account_admin::create(db, parsed->domain(), parsed->node(), password, 4096);
  if (!error.empty()) throw std::runtime_error("add_user " + jid + ": " + error);
}

int TestServer::parleyctl(const std::vector<std::string>& args, std::string& output, const std::string& stdin_text) {
  std::vector<std::string> argv = {PARLEYCTL_PATH, "--config", config_path_.string()};
  argv.insert(argv.end(), args.begin(), args.end());
  return run_program(argv, output, stdin_text);
}

}  // namespace parley::test
