// The benchmark's CPU probe, with this test process as the "server" and
// forked children as its helpers.
#include <doctest/doctest.h>

#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "server_probe.hpp"

using parley::bench::ServerProbe;

namespace {

double own_cpu() {
  timespec now{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &now);
  return static_cast<double>(now.tv_sec) + static_cast<double>(now.tv_nsec) / 1e9;
}

void burn(double seconds) {
  const double until = own_cpu() + seconds;
  while (own_cpu() < until) {
  }
}

double cpu_of(pid_t pid) {
  clockid_t clock;
  timespec now{};
  if (clock_getcpuclockid(pid, &clock) != 0 || clock_gettime(clock, &now) != 0) return -1;
  return static_cast<double>(now.tv_sec) + static_cast<double>(now.tv_nsec) / 1e9;
}

}  // namespace

TEST_CASE("helpers started during a timed section count, whether still running or already reaped") {
  ServerProbe probe({getpid()});
  const auto start = probe.cpu_at_start();
  REQUIRE(start);

  const pid_t reaped = fork();
  if (reaped == 0) {
    burn(0.2);
    _exit(0);
  }
  REQUIRE(reaped > 0);
  REQUIRE(waitpid(reaped, nullptr, 0) == reaped);

  // Started after the probe last looked at /proc: only the walk at the end finds it.
  const pid_t running = fork();
  if (running == 0) {
    burn(0.2);
    pause();
    _exit(0);
  }
  REQUIRE(running > 0);
  while (cpu_of(running) < 0.2) usleep(10000);

  const auto end = probe.cpu_at_end();
  kill(running, SIGKILL);
  waitpid(running, nullptr, 0);
  REQUIRE(end);
  CHECK(*end - *start >= 0.38);  // both helpers; reaped CPU comes in 10 ms ticks
  CHECK(*end - *start < 2.0);
}

TEST_CASE("a server process that is gone gives no CPU figure") {
  const pid_t server = fork();
  if (server == 0) {
    pause();
    _exit(0);
  }
  REQUIRE(server > 0);
  ServerProbe probe({server});
  CHECK(probe.cpu_at_start());
  kill(server, SIGKILL);
  waitpid(server, nullptr, 0);
  CHECK_FALSE(probe.cpu_at_end());
  CHECK_FALSE(probe.cpu_at_start());
}

TEST_CASE("without pids nothing is measured") {
  ServerProbe probe({});
  CHECK_FALSE(probe.enabled());
  CHECK_FALSE(probe.cpu_at_start());
  CHECK_FALSE(probe.cpu_at_end());
}
