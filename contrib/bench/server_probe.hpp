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
  explicit ServerProbe(std::vector<pid_t> pids) : pids_(std::move(pids)) {}

  bool enabled() const { return !pids_.empty(); }
  // VmRSS of pids[0] in KiB.
  std::optional<long> rss_kib() const;
  // user + system CPU seconds (including reaped children), see above.
  std::optional<double> cpu_seconds() const;

 private:
  std::vector<pid_t> pids_;
};

}  // namespace parley::bench
