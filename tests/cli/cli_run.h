// cli_run.h: runs the built `hrm` binary (HRM_BINARY) from tests, capturing its output.
#pragma once

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <string>
#include <vector>

#include "test_paths.h"

namespace hrm::testing {

struct RunResult {
  int status = -1;  // exit code, or -1 when killed by a signal
  std::string output;  // stdout and stderr together
};

inline std::string shell_quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

// Runs `hrm --threads 1 ARGS...` to completion.
inline RunResult run_hrm(const std::vector<std::string>& args) {
  std::string cmd = shell_quote(HRM_BINARY) + " --threads 1";
  for (const auto& a : args) cmd += " " + shell_quote(a);
  cmd += " 2>&1";
  RunResult r;
  FILE* p = ::popen(cmd.c_str(), "r");
  if (!p) return r;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) r.output.append(buf, n);
  const int st = ::pclose(p);
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return r;
}

// Starts `hrm --threads 1 ARGS...` in the background with its output in `log`; returns its pid.
inline pid_t spawn_hrm(const std::vector<std::string>& args, const std::string& log) {
  std::vector<std::string> all{HRM_BINARY, "--threads", "1"};
  all.insert(all.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : all) argv.push_back(a.data());
  argv.push_back(nullptr);
  const pid_t pid = ::fork();
  if (pid == 0) {  // only async-signal-safe calls between fork and exec
    const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd >= 0) {
      ::dup2(fd, 1);
      ::dup2(fd, 2);
    }
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  return pid;
}

}  // namespace hrm::testing
