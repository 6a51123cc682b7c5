// dir_lock.cpp: see dir_lock.h.
#include "core/dir_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "core/check.h"

namespace hrm {

DirLock::DirLock(const std::string& dir, const std::string& what) {
  std::filesystem::create_directories(dir);
  const std::string path = (std::filesystem::path(dir) / ".hrm.lock").string();
  fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd_ < 0) HRM_THROW(Error, "cannot open ", path, ": ", std::strerror(errno));
  if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
    const int error = errno;
    char holder[32] = {};
    [[maybe_unused]] const ssize_t n = ::pread(fd_, holder, sizeof holder - 1, 0);
    ::close(fd_);
    fd_ = -1;
    if (error == EWOULDBLOCK)
      HRM_THROW(ConfigError, what, " '", dir, "' is in use by another process (pid ", *holder ? holder : "?", ", holding ",
                path, "): two runs in one folder would mix their files; choose another ", what);
    HRM_THROW(Error, "cannot lock ", path, ": ", std::strerror(error));
  }
  const std::string pid = std::to_string(::getpid());
  if (::ftruncate(fd_, 0) == 0) {
    [[maybe_unused]] const ssize_t n = ::pwrite(fd_, pid.data(), pid.size(), 0);
  }
}

DirLock::~DirLock() {
  if (fd_ >= 0) ::close(fd_);  // releases the lock; the file stays, unlocked
}

}  // namespace hrm
