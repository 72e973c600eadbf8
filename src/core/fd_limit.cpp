#include "core/fd_limit.hpp"

#include <cerrno>
#include <cstring>

namespace parley::core {

bool raise_fd_limit(FdLimit& limit, std::string& error) {
  rlimit current{};
  if (getrlimit(RLIMIT_NOFILE, &current) != 0) {
    error = std::string("getrlimit(RLIMIT_NOFILE): ") + std::strerror(errno);
    return false;
  }
  limit.before = current.rlim_cur;
  limit.now = current.rlim_cur;
  if (current.rlim_cur == current.rlim_max) return true;
  rlimit raised = current;
  raised.rlim_cur = current.rlim_max;
  if (setrlimit(RLIMIT_NOFILE, &raised) != 0) {
    error = std::string("setrlimit(RLIMIT_NOFILE): ") + std::strerror(errno);
    return false;
  }
  limit.now = raised.rlim_cur;
  return true;
}

}  // namespace parley::core
