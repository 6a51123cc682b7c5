// report.h: `hrm report`, one self-contained HTML file (no network, no external files): training
// curves from metrics.jsonl as inline SVG, the evaluation metrics, puzzles with the model's
// answers (wrong cells marked) and a browser of a dataset directory.
// The reference shows curves in wandb and has a puzzle_visualizer.html into which a dataset folder
// is uploaded; here the report embeds a sample of the dataset (evenly spaced groups) as JSON and
// draws the grids with a small inline script: Sudoku digits, mazes, ARC colours in the usual ARC
// palette. No torch: cmd_report.cpp loads the saved outputs (saved_outputs.h).
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "answer/puzzle_text.h"

namespace hrm::answer {

// metrics.jsonl (train/progress.h MetricsLog): one object per line with "step". FormatError naming
// the file and line for a line that is not a JSON object; an unfinished last line (no newline: a
// live run appending, or one killed while it did) is left out, and said in *unfinished_last_line.
std::vector<nlohmann::json> read_metrics_log(const std::string& path, bool* unfinished_last_line = nullptr);

struct Curve {
  std::string name;                               // "train/lm_loss", "all/exact_accuracy"
  std::vector<std::pair<double, double>> points;  // (step, value), in log order
};
// One curve per metric name, in order of first appearance.
std::vector<Curve> curves_from_metrics(const std::vector<nlohmann::json>& lines);
// An inline <svg> line chart with its name, step and value ranges written on it.
std::string svg_curve(const Curve& c, int width = 360, int height = 200);

// A puzzle with the model's answer, as shown in the report.
struct AnswerView {
  std::string title;
  std::vector<int32_t> input, label, pred;  // label: -100 where ignored; pred may be empty
  double confidence = -1;                   // sigmoid(q_halt); < 0 unknown
};

// A sample of one dataset directory for the browser: per split and set, evenly spaced groups.
struct BrowseLimits {
  int64_t groups = 24, puzzles_per_group = 8, examples_per_puzzle = 8;
};
nlohmann::json browse_dataset(const std::string& dir, const BrowseLimits& limits);

struct ReportData {
  std::string title = "HRM report";
  std::string run_dir, config_yaml;           // empty without a run
  std::vector<nlohmann::json> metrics;        // metrics.jsonl lines
  std::string outputs_path;                   // the step_N_all_preds.0 shown
  Kind answers_kind = Kind::kOther;
  int64_t answers_seq_len = 0;
  std::vector<AnswerView> answers;
  std::string answers_summary;                // e.g. "12 of 64 rows right (exact)"
  nlohmann::json dataset;                     // browse_dataset(), or null
};

std::string render_report(const ReportData& r);

// Is `content` a report render_report wrote (what `hrm report --out` may replace)?
bool is_report_html(const std::string& content);

}  // namespace hrm::answer
