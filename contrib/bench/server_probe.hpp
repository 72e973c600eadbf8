// Reads a server's resident memory and CPU time from /proc (Linux only).
#pragma once

#include <sys/types.h>

#include <optional>
#include <vector>

namespace parley::bench {

class ServerProbe {
 public:
  // pids[0] is the server process whose memory is measured; CPU time is
  // summed over every pid given (e.g. an embedded database) and all their
  // descendants. Empty: nothing is measured.
  explicit ServerProbe(std::vector<pid_t> pids);

  bool enabled() const { return !pids_.empty(); }
  // VmRSS of pids[0] in KiB.
  std::optional<long> rss_kib() const;

  // User + system CPU seconds of the server's processes, reaped children
  // included. A timed section reads cpu_at_start() right before it and
  // cpu_at_end() right after. Finding the descendants means reading every
  // process in /proc, some milliseconds of work that leaves the client's
  // caches cold; done just before the section, it would show up in what the
  // section measures (a first login took 5 % longer). So the start reads
  // only the processes found by the last walk, and the end, whose timing is
  // already taken, walks /proc again so helpers started during the section
  // are counted.
  std::optional<double> cpu_at_start() const;
  std::optional<double> cpu_at_end();

 private:
  bool find_processes();  // false if a server process is gone
  std::optional<double> cpu_of_processes() const;

  std::vector<pid_t> pids_;
  std::vector<pid_t> processes_;  // pids_ and their descendants, from the last walk
};

}  // namespace parley::bench
