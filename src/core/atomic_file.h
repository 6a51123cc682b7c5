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

// Before an output option writes `path`: an existing file there must be one hrm writes of that kind,
// as `is_kind(whole content)` decides (an empty file passes; a dataset.json never does); else
// hrm::Error, so that a mistyped --out or --json cannot replace a checkpoint, a run's metrics.jsonl or
// a dataset file. Checked before the work. `kind` names it with its article ("an HTML report").
void check_replaceable(const std::string& path, const std::function<bool(const std::string& content)>& is_kind,
                       const char* kind);

// `content` after leading white space starts with `prefix`.
bool starts_after_space(const std::string& content, const std::string& prefix);

// Removes the temporaries in `dir` that writers killed before their rename left behind: entries
// named `<prefix>...tmp-<pid>...` (write_atomic_with's `path.tmp-<pid>`, the dataset writer's
// `.<name>.tmp-<pid>-<n>`) whose process is gone. Best effort; returns how many were removed.
int remove_stale_temporaries(const std::string& dir, const std::string& prefix = "");

std::string read_file(const std::string& path);  // whole file; hrm::Error naming the path on failure
// read_file less a leading UTF-8 byte-order mark (Windows editors write one), for text parsers whose
// errors would otherwise count three invisible characters.
std::string read_text_file(const std::string& path);

}  // namespace hrm
