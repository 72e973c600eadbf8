// The register module's SMS gateways other than the outbox: exec (a script)
// and http (against tests/integration/harness/sms_http_server.py, a small
// local HTTP server that records every request), including a 500 answer and a
// timeout, which must be retried a bounded number of times, with a growing
// pause between attempts, and reported to the user as a temporary error.
#include <doctest/doctest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "core/base64.hpp"
#include "harness/raw_client.hpp"
#include "harness/test_server.hpp"
#include "register_test_util.hpp"
#include "test_util.hpp"

using namespace parley;
using namespace parley::test;

namespace {

constexpr const char* kNumber = "+12015550123";

std::vector<std::string> read_lines(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

std::filesystem::path write_script(const std::filesystem::path& dir, const std::string& name,
                                   const std::string& body) {
  std::filesystem::path path = dir / name;
  std::ofstream(path) << "#!/bin/sh\n" << body << "\n";
  std::filesystem::permissions(path, std::filesystem::perms::owner_all);
  return path;
}

// The recording HTTP server, stopped (by its pid) at the end of the test.
class SmsHttpServer {
 public:
  explicit SmsHttpServer(std::filesystem::path record) : record_(std::move(record)), port_(free_port()) {
    std::string port = std::to_string(port_);
    pid_ = fork();
    if (pid_ == 0) {
      execl("/usr/bin/python3", "python3", SMS_HTTP_SERVER_PATH, port.c_str(), record_.c_str(),
            static_cast<char*>(nullptr));
      _exit(127);
    }
    for (int i = 0; i < 250; ++i) {
      if (port_accepts(port_)) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    FAIL("the recording HTTP server did not start");
  }
  ~SmsHttpServer() {
    kill(pid_, SIGTERM);
    waitpid(pid_, nullptr, 0);
  }
  std::string url(const std::string& path) const { return "http://127.0.0.1:" + std::to_string(port_) + path; }
  std::vector<std::string> requests() const { return read_lines(record_); }
  // When each request arrived, in seconds (the recorder's monotonic clock).
  std::vector<double> times() const {
    std::vector<double> times;
    for (const std::string& line : requests()) times.push_back(std::stod(line.substr(line.find("\"time\": ") + 8)));
    return times;
  }
  // Waits until `count` requests have arrived.
  bool wait_for(size_t count) const {
    for (int i = 0; i < 250 && requests().size() < count; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return requests().size() >= count;
  }

 private:
  std::filesystem::path record_;
  uint16_t port_;
  pid_t pid_ = -1;
};

std::filesystem::path temp_dir() {
  char pattern[] = "/tmp/parley-sms-XXXXXX";
  return mkdtemp(pattern);
}

void check_temporary_failure(const xml::Element& answer) {
  CHECK(condition_of(answer, kStanzaErrors) == "service-unavailable");
  CHECK(answer.first_child("error")->attr("type") == "wait");
  CHECK(error_text(answer) == "the SMS could not be sent; try again later");
}

}  // namespace

TEST_CASE("register: the exec gateway runs a program with the number and text as arguments") {
  std::filesystem::path dir = temp_dir();
  std::filesystem::path sent = dir / "sent.txt";
  SUBCASE("success") {
    auto script = write_script(dir, "send-sms", "printf '%s|%s\\n' \"$1\" \"$2\" >> " + sent.string());
    TestServer server(register_options("sms_gateway = \"exec\"\nexec_program = \"" + script.string() + "\"\n"));
    auto client = tls_client(server);
    REQUIRE(ask(*client, "", signup_form(kNumber, "pw"), "set").attr("type") == "result");
    std::vector<std::string> lines = read_lines(sent);
    REQUIRE(lines.size() == 1);
    REQUIRE(lines[0].rfind(std::string(kNumber) + "|Your localhost code is ", 0) == 0);
    std::string code = lines[0].substr(lines[0].rfind(' ') + 1);
    CHECK(ask(*client, "", code_form(kNumber, code), "set").attr("type") == "result");
    CHECK(account_count(server, kNumber) == 1);
  }
  SUBCASE("a failing program is a temporary error, and no code stays pending") {
    auto script = write_script(dir, "send-sms", "exit 3");
    TestServer server(register_options("sms_gateway = \"exec\"\nexec_program = \"" + script.string() + "\"\n"));
    auto client = tls_client(server);
    check_temporary_failure(ask(*client, "", signup_form(kNumber, "pw"), "set"));
    CHECK(db_value(server, "SELECT count(*) FROM phone_verifications") == "0");
    CHECK(server.log().find("exited with status 3") != std::string::npos);
  }
  SUBCASE("a program that hangs is killed after the timeout") {
    auto script = write_script(dir, "send-sms", "exec sleep 30");
    TestServer server(register_options("sms_gateway = \"exec\"\nexec_program = \"" + script.string() +
                                       "\"\nexec_timeout = \"300ms\"\n"));
    auto client = tls_client(server);
    auto started = std::chrono::steady_clock::now();
    check_temporary_failure(ask(*client, "", signup_form(kNumber, "pw"), "set"));
    CHECK(std::chrono::steady_clock::now() - started < std::chrono::seconds(3));
    CHECK(server.log().find("the SMS program timed out") != std::string::npos);
  }
  std::filesystem::remove_all(dir);
}

TEST_CASE("register: the http gateway posts templated requests and retries failures") {
  std::filesystem::path dir = temp_dir();
  SmsHttpServer http(dir / "requests.jsonl");
  SUBCASE("JSON body, bearer token, templated header") {
    TestServer server(register_options("sms_gateway = \"http\"\nhttp_url = \"" + http.url("/ok") +
                                       "\"\nhttp_content_type = \"json\"\n"
                                       "http_body = '{\"to\": \"{number}\", \"text\": \"{text}\"}'\n"
                                       "http_auth = \"bearer\"\nhttp_token = \"tok\"\n"
                                       "http_headers = [\"X-Number: {number}\"]\n"));
    auto client = tls_client(server);
    REQUIRE(ask(*client, "", signup_form(kNumber, "pw"), "set").attr("type") == "result");
    std::vector<std::string> requests = http.requests();
    REQUIRE(requests.size() == 1);
    const std::string& r = requests[0];
    CHECK(r.find("\"path\": \"/ok\"") != std::string::npos);
    CHECK(r.find("\"content_type\": \"application/json\"") != std::string::npos);
    CHECK(r.find("\"authorization\": \"Bearer tok\"") != std::string::npos);
    CHECK(r.find("\"x_number\": \"+12015550123\"") != std::string::npos);
    // The body, as JSON inside the recorder's JSON.
    CHECK(r.find("{\\\"to\\\": \\\"+12015550123\\\", \\\"text\\\": \\\"Your localhost code is ") != std::string::npos);
  }
  SUBCASE("form body with basic authentication") {
    TestServer server(register_options("sms_gateway = \"http\"\nhttp_url = \"" + http.url("/ok") +
                                       "\"\nhttp_auth = \"basic\"\nhttp_username = \"acct\"\n"
                                       "http_password = \"secret\"\n"));
    auto client = tls_client(server);
    REQUIRE(ask(*client, "", signup_form(kNumber, "pw"), "set").attr("type") == "result");
    std::vector<std::string> requests = http.requests();
    REQUIRE(requests.size() == 1);
    CHECK(requests[0].find("\"body\": \"To=%2B12015550123&Body=Your%20localhost%20code%20is%20") != std::string::npos);
    CHECK(requests[0].find("\"content_type\": \"application/x-www-form-urlencoded\"") != std::string::npos);
    CHECK(requests[0].find("\"authorization\": \"Basic " + core::base64_encode("acct:secret") + "\"") !=
          std::string::npos);
  }
  SUBCASE("parleyctl sms test uses the same gateway") {
    TestServer server(register_options("sms_gateway = \"http\"\nhttp_url = \"" + http.url("/ok") + "\"\n"));
    std::string out;
    CHECK(server.parleyctl({"sms", "test", "+12015550123"}, out) == 0);
    CHECK(out.find("sent a test SMS to +12015550123 through the http gateway") != std::string::npos);
    REQUIRE(http.requests().size() == 1);
    CHECK(http.requests()[0].find("Body=Parley%20SMS%20gateway%20test%20for%20localhost") != std::string::npos);
    TestServer failing(register_options("sms_gateway = \"http\"\nhttp_url = \"" + http.url("/fail") +
                                        "\"\nhttp_retries = 0\n"));
    out.clear();
    CHECK(failing.parleyctl({"sms", "test", "+12015550123"}, out) == 1);
    CHECK(out.find("the http gateway failed: the SMS gateway answered HTTP 500") != std::string::npos);
  }
  SUBCASE("a 500 is retried http_retries times, after growing pauses, then a temporary error") {
    TestServer server(register_options("sms_gateway = \"http\"\nhttp_url = \"" + http.url("/fail") +
                                       "\"\nhttp_retries = 2\nhttp_retry_delay = \"200ms\"\n"));
    auto client = tls_client(server);
    check_temporary_failure(ask(*client, "", signup_form(kNumber, "pw"), "set"));
    std::vector<double> times = http.times();
    REQUIRE(times.size() == 3);
    // Arrival times are taken by a Python process that may be scheduled
    // late; the bounds leave it 50 ms and still tell a pause from none,
    // and a doubled pause from a repeated one.
    CHECK(times[1] - times[0] >= 0.15);
    CHECK(times[2] - times[1] >= 0.35);  // doubled
    CHECK(times[2] - times[0] < 2.0);
    CHECK(server.log().find("answered HTTP 500") != std::string::npos);
    CHECK(db_value(server, "SELECT count(*) FROM phone_verifications") == "0");
  }
  SUBCASE("a timeout is retried, then a temporary error") {
    TestServer server(register_options("sms_gateway = \"http\"\nhttp_url = \"" + http.url("/slow") +
                                       "\"\nhttp_retries = 1\nhttp_timeout = \"400ms\"\n"
                                       "http_retry_delay = \"200ms\"\n"));
    auto client = tls_client(server);
    auto started = std::chrono::steady_clock::now();
    client->send("<iq type='set' id='slow'>" + signup_form(kNumber, "pw") + "</iq>");
    // The server loop stays responsive meanwhile: the request never blocks it.
    auto other = tls_client(server);
    CHECK(ask(*other, "", "<query xmlns='jabber:iq:register'/>").attr("type") == "result");
    std::optional<xml::Element> answer = client->next_named("iq");
    REQUIRE(answer);
    CHECK(answer->attr("id") == "slow");
    check_temporary_failure(*answer);
    CHECK(std::chrono::steady_clock::now() - started < std::chrono::seconds(3));
    std::vector<double> times = http.times();
    REQUIRE(times.size() == 2);
    CHECK(times[1] - times[0] >= 0.55);  // the timeout, then the pause (50 ms slack, as above)
  }
  SUBCASE("a gateway dropped by a reload or a stop while it waits to retry") {
    std::string config = "sms_gateway = \"http\"\nhttp_url = \"" + http.url("/fail") +
                         "\"\nhttp_retries = 1\nhttp_retry_delay = \"1s\"\n";
    TestServer server(register_options(config));
    {
      auto client = tls_client(server);
      client->send("<iq type='set' id='dropped'>" + signup_form(kNumber, "pw") + "</iq>");
      REQUIRE(http.wait_for(1));
      // The reload replaces the gateway during its pause: the retry timer
      // must be closed with it (no crash, no late request; like any report
      // of a dropped gateway, the answer is lost).
      server.signal(SIGHUP);
      std::this_thread::sleep_for(std::chrono::milliseconds(1500));
      CHECK(server.running());
      CHECK(server.log().find("configuration and certificates reloaded") != std::string::npos);
      CHECK(http.requests().size() == 1);  // the retry went with the old gateway
    }
    auto client = tls_client(server);
    client->send("<iq type='set' id='stopped'>" + signup_form("+12015550124", "pw") + "</iq>");
    REQUIRE(http.wait_for(2));
    client.reset();
    CHECK(server.stop() == 0);  // a clean exit with a retry pending
    CHECK(http.requests().size() == 2);
  }
  std::filesystem::remove_all(dir);
}
