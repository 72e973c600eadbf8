#pragma once
// Every client, server link and database connection is a file descriptor,
// and the soft limit on open files is often 1024 (a login shell's, or a
// service manager's default): left there, the server would turn clients
// away after a thousand or so. The hard limit is what the administrator
// allows, so the server raises the soft limit to it at start-up.
#include <sys/resource.h>

#include <string>

namespace parley::core {

struct FdLimit {
  rlim_t before = 0;
  rlim_t now = 0;
};

// Raises RLIMIT_NOFILE's soft limit to the hard one. False and `error` set
// if the limits cannot be read or changed.
bool raise_fd_limit(FdLimit& limit, std::string& error);

// Below this many descriptors the start-up log warns that the server cannot
// take many clients.
inline constexpr rlim_t kFewFds = 4096;

}  // namespace parley::core
