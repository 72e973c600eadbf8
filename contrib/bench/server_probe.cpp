#include "server_probe.hpp"

#include <dirent.h>
#include <time.h>
#include <unistd.h>

#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>

namespace parley::bench {
namespace {

struct ProcStat {
  pid_t parent = 0;
  unsigned long long reaped_ticks = 0;  // cutime + cstime
};

// proc(5): the command name (field 2) may contain spaces and parentheses,
// so fields are counted from the last ')'.
std::optional<ProcStat> read_stat(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(in, line)) return std::nullopt;
  const std::size_t paren = line.rfind(')');
  if (paren == std::string::npos) return std::nullopt;
  std::istringstream fields(line.substr(paren + 2));
  std::string state;
  ProcStat stat;
  fields >> state >> stat.parent;
  std::string skip;
  for (int field = 5; field <= 13; ++field) fields >> skip;  // pgrp .. cmajflt
  // utime and stime (read from the process's CPU clock instead, in ns),
  // then cutime, cstime: the CPU of children already reaped, so work done by
  // short-lived helpers between two samples still counts.
  unsigned long long utime = 0, stime = 0, cutime = 0, cstime = 0;
  fields >> utime >> stime >> cutime >> cstime;
  if (!fields) return std::nullopt;
  stat.reaped_ticks = cutime + cstime;
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

std::optional<double> ServerProbe::cpu_seconds() const {
  if (pids_.empty()) return std::nullopt;
  std::map<pid_t, ProcStat> all;
  if (DIR* dir = opendir("/proc")) {
    while (dirent* entry = readdir(dir)) {
      const pid_t pid = static_cast<pid_t>(std::atol(entry->d_name));
      if (pid <= 0) continue;
      if (auto stat = read_stat(pid)) all.emplace(pid, *stat);
    }
    closedir(dir);
  }
  std::set<pid_t> wanted;
  for (pid_t pid : pids_) {
    if (!all.count(pid)) return std::nullopt;  // the server is gone
    wanted.insert(pid);
  }
  // Add descendants until nothing changes (process trees are shallow).
  for (bool grew = true; grew;) {
    grew = false;
    for (const auto& [pid, stat] : all) {
      if (!wanted.count(pid) && wanted.count(stat.parent)) grew = wanted.insert(pid).second || grew;
    }
  }
  unsigned long long reaped_ticks = 0;
  double seconds = 0;
  for (pid_t pid : wanted) {
    const auto own = own_cpu_seconds(pid);
    if (!own) continue;  // a helper that has just exited: its parent will count it when reaping
    seconds += *own;
    reaped_ticks += all[pid].reaped_ticks;
  }
  return seconds + static_cast<double>(reaped_ticks) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

}  // namespace parley::bench
