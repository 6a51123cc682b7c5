// progress.h: live feedback of `hrm train`: a progress bar and the metrics log.
// Mirrors the reference's tqdm bar (pretrain.py: progress_bar over total_steps) and its wandb.log
// calls (metrics per step, eval metrics per set), written instead as JSON lines to
// `metrics.jsonl` in the run directory, one object per log interval or evaluation.
// Differs: the bar also shows the latest loss and accuracy; when stdout is not a terminal it
// prints plain lines (one per log interval) instead of redrawing; evaluations (`hrm train`'s and
// `hrm eval`'s) show their batches and ETA, where the reference is silent for their minutes.
#pragma once

#include <chrono>
#include <cstdint>
#include <iosfwd>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace hrm::train {

using MetricValues = std::vector<std::pair<std::string, double>>;

// "1:02:03", "4:05", "0:07" (h:mm:ss / m:ss) as tqdm shows times.
std::string format_duration(double seconds);

class Progress {
 public:
  // Counts steps in (start_step, total_steps]; `tty` picks the redrawn bar over plain lines.
  Progress(std::ostream& out, int64_t total_steps, int64_t start_step, bool tty);

  // Called every step: redraws the bar (at most ~10 times a second) on a terminal.
  void step(int64_t step);
  // Called when metrics were read (every log interval): remembers loss/accuracy, prints a plain line
  // when not on a terminal.
  void metrics(int64_t step, const MetricValues& m);
  // A message on its own line (the bar is redrawn after it).
  void message(const std::string& text);
  void finish();

  // During an evaluation, after `done` of its `total` batches (0 at its start): on a terminal its own
  // bar in place of the training bar; elsewhere a plain line a minute, so that a long evaluation shows
  // in a log that it moves. end_evaluation() clears that bar and puts the training bar back.
  void evaluation(int64_t done, int64_t total);
  void end_evaluation();
  std::string evaluation_status(int64_t done, int64_t total) const;

  // The current status text: "step 120/1000 12% | 3.4 it/s | ETA 4:18 | loss 1.234 acc 0.812 exact 0.250"
  std::string status(int64_t step) const;

 private:
  void redraw(int64_t step, bool force);

  std::ostream& out_;
  int64_t total_, start_;
  bool tty_;
  std::chrono::steady_clock::time_point t0_, last_draw_;
  int64_t last_step_ = 0;
  std::optional<double> loss_, acc_, exact_;
  bool drawn_ = false;
  std::chrono::steady_clock::time_point eval_t0_, eval_last_line_;
  bool eval_drawn_ = false;
};

// metrics.jsonl: one JSON object per line {"step": N, "<name>": value, ...}, appended and flushed.
class MetricsLog {
 public:
  // Starts DIR/metrics.jsonl afresh; or, when resuming (keep_up_to_step given), keeps the lines up to
  // that step and drops the later ones (written after the checkpoint the run resumes from) and any
  // line cut by a kill while appending, atomically.
  MetricsLog(const std::string& dir, std::optional<int64_t> keep_up_to_step);
  void write(int64_t step, const MetricValues& m);
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace hrm::train
