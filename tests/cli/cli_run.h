// cli_run.h: runs the built `hrm` binary (HRM_BINARY) from tests, capturing its output.
#pragma once

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <string>
#include <thread>
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
// `env` entries (NAME=value) replace those of this process with the same name.
inline pid_t spawn_hrm(const std::vector<std::string>& args, const std::string& log,
                       const std::vector<std::string>& env = {}, const std::string& cwd = "") {
  std::vector<std::string> all{HRM_BINARY, "--threads", "1"};
  all.insert(all.end(), args.begin(), args.end());
  std::vector<std::string> vars;
  for (char** e = environ; *e; ++e) {
    const std::string kv = *e;
    bool replaced = false;
    for (const auto& v : env) replaced = replaced || kv.compare(0, v.find('=') + 1, v, 0, v.find('=') + 1) == 0;
    if (!replaced) vars.push_back(kv);
  }
  vars.insert(vars.end(), env.begin(), env.end());
  std::vector<char*> argv, envp;
  for (auto& a : all) argv.push_back(a.data());
  argv.push_back(nullptr);
  for (auto& v : vars) envp.push_back(v.data());
  envp.push_back(nullptr);
  const pid_t pid = ::fork();
  if (pid == 0) {  // only async-signal-safe calls between fork and exec
    const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd >= 0) {
      ::dup2(fd, 1);
      ::dup2(fd, 2);
    }
    if (!cwd.empty() && ::chdir(cwd.c_str()) != 0) ::_exit(126);
    ::execve(argv[0], argv.data(), envp.data());
    ::_exit(127);
  }
  return pid;
}

// What a spawned process has written to its log so far ("" before it has opened it).
inline std::string log_so_far(const std::string& log) {
  std::ifstream f(log);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

// Signals a process of spawn_hrm once `ready()` holds (or after 60 s) and waits for it: its exit code
// (-1 when the signal ended it) and its log.
inline RunResult signal_when(pid_t pid, const std::string& log, int sig, const std::function<bool()>& ready) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (!ready() && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  ::kill(pid, sig);
  int status = 0;
  RunResult r;
  if (::waitpid(pid, &status, 0) == pid && WIFEXITED(status)) r.status = WEXITSTATUS(status);
  r.output = log_so_far(log);
  return r;
}

// The model checkpoint of a run directory's last step (RUN/step_N with the largest N); empty if none.
inline std::filesystem::path last_checkpoint(const std::filesystem::path& run) {
  std::filesystem::path best;
  long long best_step = -1;
  if (!std::filesystem::is_directory(run)) return best;
  for (const auto& e : std::filesystem::directory_iterator(run)) {
    const std::string n = e.path().filename().string();
    if (n.rfind("step_", 0) != 0 || n.size() == 5 || n.find_first_not_of("0123456789", 5) != std::string::npos) continue;
    const long long s = std::stoll(n.substr(5));
    if (s > best_step) best_step = s, best = e.path();
  }
  return best;
}

}  // namespace hrm::testing
