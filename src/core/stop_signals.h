// stop_signals.h: Ctrl-C or SIGTERM (a scheduler's preemption or time limit) asks the work in
// progress to stop at its next safe point (after a training step or an evaluation's segment or batch)
// instead of killing it there; a second signal stops at once. Under data parallel the ranks agree on
// that point first (train/distributed.h, any_rank_requests), whichever of them was signalled.
#pragma once

#include <string>

#include <signal.h>

namespace hrm {

class StopSignals {
 public:
  // While alive: the first SIGINT or SIGTERM sets the flag and writes `notice` (kept by the caller
  // for as long as this object lives, e.g. "\nstopping after this step ...\n") on stderr; a second one more than a second later ends
  // the process as that signal does by default. A second signal within a second of the first
  // counts as the same one (a job runner signalling the process and then its group, or SIGTERM after
  // SIGINT).
  explicit StopSignals(const char* notice);
  ~StopSignals();
  StopSignals(const StopSignals&) = delete;
  StopSignals& operator=(const StopSignals&) = delete;

  bool requested() const;
  // For messages: what this process received, or why it stops without a signal of its own.
  static std::string received();

 private:
  struct sigaction old_int_ {}, old_term_ {};
};

}  // namespace hrm
