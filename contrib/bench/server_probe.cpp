#include "server_probe.hpp"

#include <dirent.h>
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
  unsigned long long ticks = 0;  // utime + stime + cutime + cstime
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
  // utime, stime, then cutime, cstime: the CPU of children already reaped,
  // so work done by short-lived helpers between two samples still counts.
  unsigned long long utime = 0, stime = 0, cutime = 0, cstime = 0;
  fields >> utime >> stime >> cutime >> cstime;
  if (!fields) return std::nullopt;
  stat.ticks = utime + stime + cutime + cstime;
  return stat;
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
  unsigned long long ticks = 0;
  for (pid_t pid : wanted) ticks += all[pid].ticks;
  return static_cast<double>(ticks) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

}  // namespace parley::bench
