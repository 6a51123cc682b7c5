// dir_lock.h: one process at a time in a folder (a run's checkpoint_path): two runs writing one
// folder would interleave their metrics, replace each other's checkpoints and state, and clear each
// other's temporaries as a killed run's.
#pragma once

#include <string>

namespace hrm {

class DirLock {
 public:
  // Creates `dir` if missing and takes `dir`/.hrm.lock (flock: released however the process ends,
  // so a killed run leaves no stale lock). ConfigError naming the holder's pid when another process
  // holds it; `what` says what the folder is, for that message ("checkpoint_path").
  DirLock(const std::string& dir, const std::string& what);
  ~DirLock();
  DirLock(const DirLock&) = delete;
  DirLock& operator=(const DirLock&) = delete;

 private:
  int fd_ = -1;
};

}  // namespace hrm
