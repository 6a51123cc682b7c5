// atomic_file.cpp: see atomic_file.h.
#include "core/atomic_file.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>

#include "core/check.h"
#include "core/remove_tree.h"

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

bool starts_after_space(const std::string& content, const std::string& prefix) {
  const size_t b = content.find_first_not_of(" \t\r\n");
  return b != std::string::npos && content.compare(b, prefix.size(), prefix) == 0;
}

void check_replaceable(const std::string& path, const std::function<bool(const std::string& content)>& is_kind,
                       const char* kind) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) {
    // Said now, before the work whose result it is for (the write would fail naming a temporary).
    const std::filesystem::path parent = std::filesystem::path(path).parent_path();
    if (!parent.empty() && !std::filesystem::is_directory(parent, ec))
      HRM_THROW(Error, path, ": its folder ", parent.string(), " does not exist; create it, or write ", kind, " elsewhere");
    return;
  }
  if (!std::filesystem::is_regular_file(path, ec))
    HRM_THROW(Error, path, ": exists and is not a file; refusing to write ", kind, " there");
  // A dataset's metadata is JSON too, but never an output of ours.
  if (std::filesystem::path(path).filename() == "dataset.json")
    HRM_THROW(Error, path, ": is a dataset's metadata; refusing to write ", kind, " there");
  const auto size = std::filesystem::file_size(path, ec);
  constexpr std::uintmax_t kLargest = std::uintmax_t{256} << 20;  // larger than any output of ours
  std::string content;
  if (!ec && size <= kLargest) {
    std::ifstream in(path, std::ios::binary);
    content.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    if (content.find_first_not_of(" \t\r\n") == std::string::npos) return;  // empty: nothing to lose
    if (is_kind(content)) return;
  }
  HRM_THROW(Error, path, ": exists and is not ", kind, " (hrm would replace it with one); refusing: remove it, or write to another path");
}

int remove_stale_temporaries(const std::string& dir, const std::string& prefix) {
  int removed = 0;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
    const std::string name = e.path().filename().string();
    const size_t at = name.rfind(".tmp-");
    if (at == std::string::npos || name.rfind(prefix, 0) != 0) continue;
    // `<pid>` or `<pid>-<n>` to the end: nothing else is taken for a temporary of ours.
    const char* digits = name.c_str() + at + 5;
    char* end = nullptr;
    const long pid = std::strtol(digits, &end, 10);
    if (end == digits || !std::isdigit(static_cast<unsigned char>(*digits))) continue;
    if (*end == '-') {
      const char* n = end + 1;
      if (*n == '\0' || std::strspn(n, "0123456789") != std::strlen(n)) continue;
    } else if (*end != '\0') {
      continue;
    }
    if (pid > 0 && ::kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH && remove_tree(e.path().string())) ++removed;
  }
  return removed;
}

std::string read_file(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec))  // opens, then reads as empty: name it instead
    HRM_THROW(Error, path, " is a directory; expected a file");
  std::ifstream in(path, std::ios::binary);
  if (!in) HRM_THROW(Error, "cannot open ", path, ": ", std::strerror(errno));
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string read_text_file(const std::string& path) {
  std::string text = read_file(path);
  if (text.compare(0, 3, "\xEF\xBB\xBF") == 0) text.erase(0, 3);
  return text;
}

}  // namespace hrm
