// stop_signals.cpp: see stop_signals.h.
#include "core/stop_signals.h"

#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstring>

namespace hrm {
namespace {

std::atomic<int> g_stop_signal{0};
std::atomic<int64_t> g_stop_signal_ms{0};
std::atomic<const char*> g_notice{""};

int64_t monotonic_ms() {  // async-signal-safe
  struct timespec ts {};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

extern "C" void on_stop_signal(int sig) {
  const int saved_errno = errno;  // the interrupted code may be about to read it
  // The time first: a second signal, perhaps on another thread, compares with it.
  const int64_t now = monotonic_ms();
  int64_t first = 0;
  if (!g_stop_signal_ms.compare_exchange_strong(first, now)) {
    // The second stops now, unless it is the same one delivered twice (timeout(1), job runners and
    // `hrm launch` under a scheduler signal the process and then its group, or the process twice).
    if (now - first < 1000) {
      errno = saved_errno;
      return;
    }
    ::signal(sig, SIG_DFL);
    ::raise(sig);
    errno = saved_errno;
    return;
  }
  g_stop_signal = sig;
  const char* notice = g_notice.load();
  [[maybe_unused]] const ssize_t n = ::write(STDERR_FILENO, notice, std::strlen(notice));  // strlen: async-signal-safe
  errno = saved_errno;
}

}  // namespace

StopSignals::StopSignals(const char* notice) {
  g_stop_signal = 0;
  g_stop_signal_ms = 0;
  g_notice = notice;
  struct sigaction sa {};
  sa.sa_handler = on_stop_signal;
  sa.sa_flags = SA_RESTART;  // a write in progress (a checkpoint) goes on instead of failing with EINTR
  sigemptyset(&sa.sa_mask);
  sigaddset(&sa.sa_mask, SIGINT);  // not nested in one another on one thread
  sigaddset(&sa.sa_mask, SIGTERM);
  ::sigaction(SIGINT, &sa, &old_int_);
  ::sigaction(SIGTERM, &sa, &old_term_);
}

StopSignals::~StopSignals() {
  ::sigaction(SIGINT, &old_int_, nullptr);
  ::sigaction(SIGTERM, &old_term_, nullptr);
}

bool StopSignals::requested() const { return g_stop_signal != 0; }

std::string StopSignals::received() {
  const int sig = g_stop_signal;
  return sig == SIGINT ? "SIGINT" : sig == SIGTERM ? "SIGTERM" : "another rank was signalled";
}

}  // namespace hrm
