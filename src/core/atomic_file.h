// atomic_file.h: write, fsync, then rename, so a reader never sees a half-written output file, not
// even after a power loss.
#pragma once

#include <functional>
#include <string>

namespace hrm {

// Writes `content` to `path` through `path.tmp-<pid>` and rename(2). Throws hrm::Error on failure
// (the temporary file is removed; an existing `path` is left untouched).
void write_file_atomic(const std::string& path, const std::string& content);

// Same, for writers that need a real file: `write(tmp_path)` creates the temporary file.
void write_atomic_with(const std::string& path, const std::function<void(const std::string& tmp_path)>& write);

std::string read_file(const std::string& path);  // whole file; hrm::Error naming the path on failure

}  // namespace hrm
