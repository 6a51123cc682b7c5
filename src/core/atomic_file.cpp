// atomic_file.cpp: see atomic_file.h.
#include "core/atomic_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>

#include "core/check.h"

namespace hrm {
namespace {

// fsync(2) of a file (hrm::Error on failure), and of a directory's entries (best effort).
void sync_to_disk(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) HRM_THROW(Error, "cannot open ", path, " to sync it: ", std::strerror(errno));
  const int rc = ::fsync(fd);
  const int err = errno;
  ::close(fd);
  if (rc != 0) HRM_THROW(Error, "cannot sync ", path, " to disk: ", std::strerror(err));
}

void sync_directory(const std::string& dir) noexcept {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;  // best effort: some file systems do not sync directories
  ::fsync(fd);
  ::close(fd);
}

}  // namespace

void write_atomic_with(const std::string& path, const std::function<void(const std::string&)>& write) {
  const std::string tmp = path + ".tmp-" + std::to_string(::getpid());
  try {
    write(tmp);
    sync_to_disk(tmp);  // the data reaches the disk before the name does: a power loss leaves old or new, whole
  } catch (...) {
    std::remove(tmp.c_str());
    throw;
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    const std::string why = std::strerror(errno);
    std::remove(tmp.c_str());
    HRM_THROW(Error, "cannot rename ", tmp, " to ", path, ": ", why);
  }
  const size_t slash = path.find_last_of('/');
  sync_directory(slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash));  // the rename itself
}

void write_file_atomic(const std::string& path, const std::string& content) {
  write_atomic_with(path, [&](const std::string& tmp) {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) HRM_THROW(Error, "cannot open ", tmp, " for writing: ", std::strerror(errno));
    out.write(content.data(), static_cast<std::streamsize>(content.size()));
    out.flush();
    if (!out) HRM_THROW(Error, "cannot write ", tmp, ": ", std::strerror(errno));
  });
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) HRM_THROW(Error, "cannot open ", path, ": ", std::strerror(errno));
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace hrm
