#pragma once
// One parleyd per state directory. Two would share its embedded database and
// files while each routed only its own sessions. The lock is an flock on
// <state_dir>/parleyd.pid, which holds the owner's pid; the kernel drops it
// when the process ends, however it ends.
#include <filesystem>
#include <string>

namespace parley::core {

class InstanceLock {
 public:
  InstanceLock() = default;
  ~InstanceLock();
  InstanceLock(const InstanceLock&) = delete;
  InstanceLock& operator=(const InstanceLock&) = delete;

  enum class Outcome {
    locked,
    busy,         // another parleyd holds it; `message` names it
    unavailable,  // the file cannot be written (a read-only state directory); `message` says why
  };
  Outcome acquire(const std::filesystem::path& state_dir, std::string& message);

 private:
  int fd_ = -1;
};

}  // namespace parley::core
