// parleyctl, signals (SIGHUP reload, SIGTERM close) and database outages.
#include <doctest/doctest.h>

#include <signal.h>
#include <sys/resource.h>

#include <fstream>
#include <sstream>
#include <thread>

#include "harness/raw_client.hpp"
#include "harness/test_server.hpp"
#include "store/embedded_postgres.hpp"
#include "test_util.hpp"

using namespace parley;
using namespace parley::test;

TEST_CASE("parleyctl manages users with clear exit codes") {
  TestServer server;
  std::string out;
  CHECK(server.parleyctl({"user", "add", "dave@localhost"}, out, "pa55word\n") == 0);
  CHECK(out.find("created dave@localhost") != std::string::npos);
  out.clear();
  CHECK(server.parleyctl({"user", "add", "dave@localhost"}, out, "other\n") == 1);
  CHECK(out.find("already exists") != std::string::npos);

  RawClient client(server.starttls_port());
  CHECK(client.login("dave", "pa55word", "x") == "dave@localhost/x");

  out.clear();
  CHECK(server.parleyctl({"user", "passwd", "dave@localhost"}, out, "n3w\n") == 0);
  RawClient again(server.starttls_port());
  again.open_stream();
  again.starttls();
  // SCRAM-SHA-256 is what login() used: the server had those credentials cached.
  CHECK(condition_of(again.authenticate("SCRAM-SHA-256", "dave", "pa55word"), kSasl) == "not-authorized");
  CHECK(again.authenticate("SCRAM-SHA-1", "dave", "n3w").name() == "success");

  out.clear();
  server.parleyctl({"user", "add", "erin@localhost"}, out, "e\n");
  out.clear();
  CHECK(server.parleyctl({"user", "list", "localhost"}, out) == 0);
  CHECK(out == "dave@localhost\nerin@localhost\n");

  out.clear();
  CHECK(server.parleyctl({"user", "del", "dave@localhost"}, out) == 0);
  out.clear();
  CHECK(server.parleyctl({"user", "del", "dave@localhost"}, out) == 1);
  CHECK(out.find("no such account") != std::string::npos);

  out.clear();
  CHECK(server.parleyctl({"user", "add", "x@elsewhere.example"}, out, "p\n") == 2);
  CHECK(out.find("not in") != std::string::npos);
  out.clear();
  CHECK(server.parleyctl({"user", "add", "not a jid"}, out, "p\n") == 2);
  out.clear();
  CHECK(server.parleyctl({"frobnicate"}, out) == 2);
  out.clear();
  CHECK(server.parleyctl({"--help"}, out) == 0);
  CHECK(out.find("user add JID") != std::string::npos);
  out.clear();
  CHECK(server.parleyctl({"version"}, out) == 0);
  CHECK(out.rfind("parleyctl ", 0) == 0);
  out.clear();
  CHECK(server.parleyctl({"check-config"}, out) == 0);
  out.clear();
  CHECK(server.parleyctl({"migrate"}, out) == 0);
}

TEST_CASE("config errors name the file, line and option") {
  ServerOptions options;
  options.start = false;
  options.extra_config = "[c2s]\nbogus_option = 1\n";
  TestServer server(options);
  std::string out;
  // The generated config already has a [c2s] table: the duplicate is a TOML error.
  CHECK(server.parleyctl({"check-config"}, out) == 2);
  CHECK(out.find("parley.toml:") != std::string::npos);

  server.write_config("[limits]\nmax_xml_depth = 2\n");
  out.clear();
  CHECK(server.parleyctl({"check-config"}, out) == 2);
  CHECK(out.find("parley.toml:") != std::string::npos);
  CHECK(out.find("limits.max_xml_depth") != std::string::npos);

  server.write_config("[limits]\nno_such_limit = 3\n");
  out.clear();
  std::string parleyd_out;
  CHECK(run_program({PARLEYD_PATH, "--config", server.config_path().string()}, parleyd_out) == 2);
  CHECK(parleyd_out.find("no_such_limit") != std::string::npos);
}

TEST_CASE("a second parleyd on the port the first serves exits with the error; the first keeps serving") {
  TestServer first;
  first.add_user("alice@localhost", "secret");
  ServerOptions options;
  options.start = false;
  options.starttls_port = first.starttls_port();
  TestServer second(options);
  std::string out;
  // Were the port shared (both listeners have SO_REUSEPORT), the second would
  // run and split the clients with the first: timeout ends it with 124.
  const int status = run_program({"/usr/bin/timeout", "20", PARLEYD_PATH, "--config", second.config_path().string()}, out);
  CHECK(status == 1);
  CHECK_MESSAGE(out.find("c2s.starttls_port: 127.0.0.1 port " + std::to_string(first.starttls_port()) +
                         ": already in use by another program") != std::string::npos,
                out);
  check_still_serving(first);
}

TEST_CASE("a second parleyd on the same state directory exits before touching it") {
  TestServer first;
  first.add_user("alice@localhost", "secret");
  std::ifstream pid_file(first.dir() / "parleyd.pid");
  std::string pid;
  pid_file >> pid;
  REQUIRE_FALSE(pid.empty());
  CHECK(std::filesystem::exists("/proc/" + pid + "/exe"));
  std::string out;
  const int status =
      run_program({"/usr/bin/timeout", "20", PARLEYD_PATH, "--config", first.config_path().string()}, out);
  CHECK(status == 1);
  CHECK_MESSAGE(out.find("another parleyd (pid " + pid + ") is running with the state directory " +
                         first.dir().string()) != std::string::npos,
                out);
  // It stopped before the database and the ports: nothing else in its output.
  CHECK(out.find("[database]") == std::string::npos);
  CHECK(out.find("in use by another program") == std::string::npos);
  check_still_serving(first);
}

TEST_CASE("SIGHUP reloads the config without dropping sessions; SIGTERM closes streams and exits 0") {
  ServerOptions options;
  options.extra_config = "[hosts.\"localhost\"]\nmodules_enabled = [\"disco\"]\n";
  TestServer server(options);
  server.add_user("alice@localhost", "secret");
  RawClient client(server.starttls_port());
  client.login("alice", "secret", "stay");
  CHECK(condition_of(ping(client), kStanzaErrors) == "service-unavailable");

  server.write_config("");  // default modules: ping enabled
  server.signal(SIGHUP);
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  CHECK(ping(client).attr("type") == "result");

  // A broken config on reload is refused and the server keeps running.
  server.write_config("[c2s]\nrequire_encryption = \"maybe\"\n");
  server.signal(SIGHUP);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  CHECK(server.running());
  CHECK(server.log().find("reload refused") != std::string::npos);

  CHECK(server.stop() == 0);
  CHECK(client.wait_closed());
  CHECK(client.stream_closed());
}

TEST_CASE("SIGHUP reopens server.log_file, for logrotate; a log that cannot be reopened keeps the old one") {
  ServerOptions options;
  options.server_config = "log_file = \"logs/parleyd.log\"\n";  // relative to the state directory
  options.start = false;
  TestServer server(options);
  std::filesystem::create_directories(server.dir() / "logs");
  server.start();
  server.add_user("alice@localhost", "secret");
  const std::filesystem::path log_file = server.dir() / "logs" / "parleyd.log";
  CHECK(read_file(log_file).find("parleyd ready") != std::string::npos);

  // What logrotate does: move the file away, then signal.
  const std::filesystem::path rotated = server.dir() / "logs" / "parleyd.log.1";
  std::filesystem::rename(log_file, rotated);
  server.signal(SIGHUP);
  CHECK(eventually([&] { return read_file(log_file).find("configuration and certificates reloaded") != std::string::npos; }));
  check_still_serving(server);  // debug lines of the login go to the new file
  CHECK(read_file(log_file).find("alice@localhost") != std::string::npos);
  CHECK(read_file(rotated).find("reloaded") == std::string::npos);
  CHECK(read_file(rotated).find("alice@localhost") == std::string::npos);

  // The directory is gone and a file stands in its way: the reload goes on
  // and the server keeps writing where it wrote.
  std::filesystem::rename(server.dir() / "logs", server.dir() / "logs.old");
  std::ofstream(server.dir() / "logs") << "not a directory";
  server.signal(SIGHUP);
  const std::filesystem::path kept = server.dir() / "logs.old" / "parleyd.log";
  CHECK(eventually([&] {
    return read_file(kept).find("reload keeps the current log: cannot open log file") != std::string::npos;
  }));
  CHECK(eventually([&] { return read_file(kept).find("configuration and certificates reloaded") != std::string::npos; }));
  CHECK(server.running());
}

TEST_CASE("parleyd raises its open files limit to the hard limit, and says so") {
  rlimit saved{};
  REQUIRE(getrlimit(RLIMIT_NOFILE, &saved) == 0);
  if (saved.rlim_max <= 1024) {
    MESSAGE("skipped: the hard limit is " << saved.rlim_max);
    return;
  }
  // parleyd inherits a login shell's usual soft limit.
  rlimit low = saved;
  low.rlim_cur = 1024;
  REQUIRE(setrlimit(RLIMIT_NOFILE, &low) == 0);
  ServerOptions options;
  options.start = false;
  TestServer server(options);
  try {
    server.start();
  } catch (...) {
    setrlimit(RLIMIT_NOFILE, &saved);
    throw;
  }
  setrlimit(RLIMIT_NOFILE, &saved);
  const std::string limits = read_file("/proc/" + std::to_string(server.pid()) + "/limits");
  const std::string hard = std::to_string(saved.rlim_max);
  std::istringstream lines(limits);
  std::string line;
  while (std::getline(lines, line) && line.rfind("Max open files", 0) != 0) {
  }
  std::istringstream fields(line.substr(std::string("Max open files").size()));
  std::string soft_now, hard_now;
  fields >> soft_now >> hard_now;
  CHECK(soft_now == hard);
  CHECK(hard_now == hard);
  CHECK(server.log().find("open files limit raised from 1024 to " + hard) != std::string::npos);
  CHECK(server.log().find("open files limit is only") == std::string::npos);
}

TEST_CASE("a low hard limit on open files gets a warning at start-up") {
  ServerOptions options;
  options.start = false;
  TestServer server(options);
  std::string out;
  // The limit is logged first thing; timeout then stops the server.
  run_program({"/usr/bin/timeout", "3", "/usr/bin/prlimit", "--nofile=256:512", PARLEYD_PATH, "--config",
               server.config_path().string()},
              out);
  CHECK_MESSAGE(out.find("open files limit raised from 256 to 512") != std::string::npos, out);
  CHECK(out.find("open files limit is only 512: fewer clients than that can connect") != std::string::npos);
}

TEST_CASE("when PostgreSQL goes away logins fail temporarily, and recover") {
  // A cluster of its own, so that stopping it affects only this test.
  std::filesystem::path dir = std::filesystem::temp_directory_path() / ("parley-it-outage-" + std::to_string(getpid()));
  std::string error;
  auto postgres = store::EmbeddedPostgres::start(dir / "data", error, [](std::string_view) {});
  REQUIRE_MESSAGE(postgres, error);
  ServerOptions options;
  options.start = false;
  TestServer server(options);
  // Point this server at the private cluster.
  std::string config = "[database]\n";
  server.write_config("");
  {
    std::string text;
    std::ifstream in(server.config_path());
    std::stringstream ss;
    ss << in.rdbuf();
    text = ss.str();
    size_t at = text.find("dsn = \"");
    size_t end = text.find('"', at + 7);
    text.replace(at + 7, end - at - 7, postgres->conninfo());
    std::ofstream out(server.config_path());
    out << text;
  }
  server.start();
  std::string out;
  REQUIRE(server.parleyctl({"user", "add", "alice@localhost"}, out, "secret\n") == 0);
  {
    RawClient client(server.starttls_port());
    CHECK(client.login("alice", "secret", "a") == "alice@localhost/a");
  }
  postgres->stop();
  {
    // Credentials the server never read (SCRAM-SHA-1) need the database...
    RawClient client(server.starttls_port());
    client.open_stream();
    client.starttls();
    xml::Element outcome = client.authenticate("SCRAM-SHA-1", "alice", "secret");
    CHECK(condition_of(outcome, kSasl) == "temporary-auth-failure");
  }
  {
    // ...while the ones of the login above are cached and still work.
    RawClient client(server.starttls_port());
    client.open_stream();
    client.starttls();
    CHECK(client.authenticate("SCRAM-SHA-256", "alice", "secret").name() == "success");
  }
  CHECK(server.running());
  postgres = store::EmbeddedPostgres::start(dir / "data", error, [](std::string_view) {});
  REQUIRE_MESSAGE(postgres, error);
  bool recovered = false;
  for (int i = 0; i < 100 && !recovered; ++i) {
    RawClient client(server.starttls_port());
    client.open_stream();
    client.starttls();
    recovered = client.authenticate("SCRAM-SHA-256", "alice", "secret").name() == "success";
    if (!recovered) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  CHECK(recovered);
  server.stop();
  postgres.reset();
  std::filesystem::remove_all(dir);
}
