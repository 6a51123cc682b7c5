// atomic_file.h: write, fsync, then rename, so a reader never sees a half-written output file, not
// even after a power loss.
#pragma once

#include <functional>
#include <initializer_list>
#include <string>

namespace hrm {

// Writes `content` to `path` through `path.tmp-<pid>` and rename(2). Throws hrm::Error on failure
// (the temporary file is removed; an existing `path` is left untouched).
void write_file_atomic(const std::string& path, const std::string& content);

// Same, for writers that need a real file: `write(tmp_path)` creates the temporary file.
void write_atomic_with(const std::string& path, const std::function<void(const std::string& tmp_path)>& write);

// Before an output option writes `path`: an existing file there must be one hrm writes of that kind,
// i.e. start (after white space) with one of `starts` (e.g. "<!DOCTYPE html"); else hrm::Error, so
// that a mistyped --out cannot replace a checkpoint or a dataset file. Checked before the work.
// `kind` names it with its article ("an HTML report").
void check_replaceable(const std::string& path, std::initializer_list<const char*> starts, const char* kind);

// Removes the temporaries in `dir` that writers killed before their rename left behind: entries
// named `<prefix>...tmp-<pid>...` (write_atomic_with's `path.tmp-<pid>`, the dataset writer's
// `.<name>.tmp-<pid>-<n>`) whose process is gone. Best effort; returns how many were removed.
int remove_stale_temporaries(const std::string& dir, const std::string& prefix = "");

std::string read_file(const std::string& path);  // whole file; hrm::Error naming the path on failure

}  // namespace hrm
