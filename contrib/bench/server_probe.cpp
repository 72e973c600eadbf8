#include "server_probe.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <set>
#include <string>

namespace parley::bench {
namespace {

struct ProcStat {
  pid_t parent = 0;
  unsigned long long reaped_ticks = 0;  // cutime + cstime
};

// proc(5): the command name (field 2) may contain spaces and parentheses,
// so fields are counted from the last ')'. Plain read(2) into a stack
// buffer: this runs right before timed sections, and should cost little.
std::optional<ProcStat> read_stat(pid_t pid) {
  char path[32];
  std::snprintf(path, sizeof path, "/proc/%d/stat", static_cast<int>(pid));
  const int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  char line[1024];
  const ssize_t n = ::read(fd, line, sizeof line - 1);
  ::close(fd);
  if (n <= 0) return std::nullopt;
  line[n] = '\0';
  const char* paren = std::strrchr(line, ')');
  if (paren == nullptr) return std::nullopt;
  // Fields from 3 on: state ppid pgrp session tty_nr tpgid flags minflt
  // cminflt majflt cmajflt utime stime cutime cstime. utime and stime are
  // read from the process's CPU clock instead (in ns); cutime and cstime are
  // the CPU of children already reaped, so work done by short-lived helpers
  // between two samples still counts.
  std::vector<unsigned long long> fields;
  const char* at = paren + 2;
  at = std::strchr(at, ' ');  // skip the state
  while (at != nullptr && fields.size() < 14) {
    char* end = nullptr;
    fields.push_back(std::strtoull(at + 1, &end, 10));
    at = (end != nullptr && *end == ' ') ? end : nullptr;
  }
  if (fields.size() < 14) return std::nullopt;
  ProcStat stat;
  stat.parent = static_cast<pid_t>(fields[0]);
  stat.reaped_ticks = fields[12] + fields[13];
  return stat;
}

// The process's own CPU time, all its threads (exited ones too), with the
// clock's nanosecond resolution: /proc's ticks (10 ms) are coarser than a
// whole login, so a round's CPU would read as 0 or 10 ms.
std::optional<double> own_cpu_seconds(pid_t pid) {
  clockid_t clock;
  timespec now{};
  if (clock_getcpuclockid(pid, &clock) != 0 || clock_gettime(clock, &now) != 0) return std::nullopt;
  return static_cast<double>(now.tv_sec) + static_cast<double>(now.tv_nsec) / 1e9;
}

}  // namespace

std::optional<long> ServerProbe::rss_kib() const {
  if (pids_.empty()) return std::nullopt;
  std::ifstream in("/proc/" + std::to_string(pids_[0]) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  }
  return std::nullopt;
}

ServerProbe::ServerProbe(std::vector<pid_t> pids) : pids_(std::move(pids)) {
  if (!pids_.empty()) find_processes();
}

bool ServerProbe::find_processes() {
  std::map<pid_t, pid_t> parent_of;
  if (DIR* dir = opendir("/proc")) {
    while (dirent* entry = readdir(dir)) {
      const pid_t pid = static_cast<pid_t>(std::atol(entry->d_name));
      if (pid <= 0) continue;
      if (auto stat = read_stat(pid)) parent_of.emplace(pid, stat->parent);
    }
    closedir(dir);
  }
  std::set<pid_t> wanted;
  for (pid_t pid : pids_) {
    if (!parent_of.count(pid)) return false;
    wanted.insert(pid);
  }
  // Add descendants until nothing changes (process trees are shallow).
  for (bool grew = true; grew;) {
    grew = false;
    for (const auto& [pid, parent] : parent_of) {
      if (!wanted.count(pid) && wanted.count(parent)) grew = wanted.insert(pid).second || grew;
    }
  }
  processes_.assign(wanted.begin(), wanted.end());
  return true;
}

std::optional<double> ServerProbe::cpu_of_processes() const {
  unsigned long long reaped_ticks = 0;
  double seconds = 0;
  for (pid_t pid : processes_) {
    const auto own = own_cpu_seconds(pid);
    const auto stat = read_stat(pid);
    if (!own || !stat) {
      // A helper that has just exited: its parent counts it once reaped.
      // A server process gone: nothing to measure.
      if (std::find(pids_.begin(), pids_.end(), pid) != pids_.end()) return std::nullopt;
      continue;
    }
    seconds += *own;
    reaped_ticks += stat->reaped_ticks;
  }
  return seconds + static_cast<double>(reaped_ticks) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

std::optional<double> ServerProbe::cpu_at_start() const {
  if (pids_.empty()) return std::nullopt;
  return cpu_of_processes();
}

std::optional<double> ServerProbe::cpu_at_end() {
  if (pids_.empty() || !find_processes()) return std::nullopt;
  return cpu_of_processes();
}

}  // namespace parley::bench
