#include "core/instance_lock.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace parley::core {

InstanceLock::~InstanceLock() {
  if (fd_ >= 0) ::close(fd_);
}

InstanceLock::Outcome InstanceLock::acquire(const std::filesystem::path& state_dir, std::string& message) {
  const std::filesystem::path file = state_dir / "parleyd.pid";
  const int fd = ::open(file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) {
    message = file.string() + ": " + std::strerror(errno);
    return Outcome::unavailable;
  }
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    const int lock_errno = errno;
    char pid[32] = {};
    const ssize_t n = ::pread(fd, pid, sizeof pid - 1, 0);
    ::close(fd);
    if (lock_errno != EWOULDBLOCK) {
      message = file.string() + ": " + std::strerror(lock_errno);
      return Outcome::unavailable;
    }
    std::string owner = n > 0 ? std::string(pid, static_cast<size_t>(n)) : std::string();
    while (!owner.empty() && (owner.back() == '\n' || owner.back() == ' ')) owner.pop_back();
    message = "another parleyd" + (owner.empty() ? std::string() : " (pid " + owner + ")") +
              " is running with the state directory " + state_dir.string();
    return Outcome::busy;
  }
  const std::string pid = std::to_string(::getpid()) + "\n";
  if (::ftruncate(fd, 0) != 0 || ::pwrite(fd, pid.data(), pid.size(), 0) != static_cast<ssize_t>(pid.size())) {
    message = file.string() + ": " + std::strerror(errno);
    ::close(fd);
    return Outcome::unavailable;
  }
  fd_ = fd;
  return Outcome::locked;
}

}  // namespace parley::core
