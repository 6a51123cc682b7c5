// cmd_report.cpp: `hrm report [--run RUN_DIR] [--data DATASET_DIR] [--out report.html]`: one
// self-contained HTML file with the run's training curves (metrics.jsonl), its evaluation metrics,
// puzzles with the model's answers from the newest step_N_all_preds.0, and a browser of the dataset
// (answer/report.h draws it all).
#include <CLI/CLI.hpp>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <iostream>
#include <memory>

#include <yaml-cpp/yaml.h>

#include "answer/report.h"
#include "answer/saved_outputs.h"
#include "cli/commands.h"
#include "cli/validators.h"
#include "core/atomic_file.h"
#include "core/check.h"
#include "data/dataset.h"

namespace fs = std::filesystem;

namespace hrm::cli {
namespace {

struct ReportArgs {
  std::string run, data, outputs, out;
  int64_t samples = 12, groups = 24;
};

// data_path of the run's config, when it names a directory that is there.
std::string run_data_path(const std::string& yaml_text) {
  try {
    const YAML::Node root = YAML::Load(yaml_text);
    if (root["data_path"] && root["data_path"].IsScalar()) {
      const std::string p = root["data_path"].as<std::string>();
      if (fs::is_directory(p)) return p;
    }
  } catch (const YAML::Exception&) {
  }
  return "";
}

// Up to `samples` evaluated rows, half of them wrong when there are wrong ones, in row order.
void add_answers(answer::ReportData& r, const answer::SavedOutputs& s, const std::vector<std::string>& ids, int64_t samples) {
  const int64_t L = s.seq_len;
  std::vector<int64_t> right, wrong;
  for (int64_t i = 0; i < s.rows; ++i) {
    bool blank = true, ok = true, any = false;
    for (int64_t k = 0; k < L && !s.inputs.empty(); ++k) blank = blank && s.inputs[i * L + k] == 0;
    if (blank && !s.inputs.empty()) continue;  // the padding rows of the last batch
    for (int64_t k = 0; k < L && !s.labels.empty() && !s.preds.empty(); ++k) {
      const int32_t lab = s.labels[i * L + k];
      if (lab < 0) continue;
      any = true;
      ok = ok && s.preds[i * L + k] == lab;
    }
    (ok && any ? right : wrong).push_back(i);
  }
  const int64_t total = static_cast<int64_t>(right.size() + wrong.size());
  r.answers_summary = std::to_string(right.size()) + " of " + std::to_string(total) + " rows right (every labelled cell)";
  const int64_t n_wrong = std::min<int64_t>(static_cast<int64_t>(wrong.size()), std::max<int64_t>(samples / 2, samples - static_cast<int64_t>(right.size())));
  std::vector<int64_t> shown(wrong.begin(), wrong.begin() + n_wrong);
  for (size_t k = 0; k < right.size() && static_cast<int64_t>(shown.size()) < samples; ++k) shown.push_back(right[k]);
  std::sort(shown.begin(), shown.end());
  for (int64_t i : shown) {
    answer::AnswerView v;
    v.title = "row " + std::to_string(i);
    if (!s.puzzle_identifiers.empty() && !ids.empty()) {
      const int32_t id = s.puzzle_identifiers[i];
      if (id > 0 && static_cast<size_t>(id) < ids.size()) v.title += " " + ids[id];
    }
    auto row = [&](const std::vector<int32_t>& a) {
      return a.empty() ? std::vector<int32_t>{} : std::vector<int32_t>(a.begin() + i * L, a.begin() + (i + 1) * L);
    };
    v.input = row(s.inputs);
    v.label = row(s.labels);
    v.pred = row(s.preds);
    if (!s.q_halt_logits.empty()) v.confidence = 1.0 / (1.0 + std::exp(-static_cast<double>(s.q_halt_logits[i])));
    r.answers.push_back(std::move(v));
  }
}

void run_report(const ReportArgs& a) {
  if (a.run.empty() && a.data.empty()) HRM_THROW(ConfigError, "hrm report: give --run RUN_DIR, --data DATASET_DIR or both");
  const std::string out = !a.out.empty() ? a.out : a.run.empty() ? "report.html" : (fs::path(a.run) / "report.html").string();
  check_replaceable(out, answer::is_report_html, "an HTML report");
  answer::ReportData r;
  std::string data = a.data;
  if (!a.run.empty()) {
    if (!fs::is_directory(a.run)) HRM_THROW(Error, "run directory '", a.run, "' is not a directory");
    if (!fs::exists(fs::path(a.run) / "metrics.jsonl") && !fs::exists(fs::path(a.run) / "all_config.yaml"))
      HRM_THROW(Error, "'", a.run, "' is not a run folder (no metrics.jsonl, no all_config.yaml)",
                data::dataset_marker(a.run).empty() ? std::string() : "; it is a dataset: hrm report --data " + a.run);
    r.run_dir = a.run;
    fs::path named = fs::absolute(a.run).lexically_normal();  // "run/" and "." have a name too
    if (named.filename().empty()) named = named.parent_path();
    r.title = "HRM report: " + named.filename().string();
    const fs::path log = fs::path(a.run) / "metrics.jsonl", cfg = fs::path(a.run) / "all_config.yaml";
    bool unfinished = false;
    if (fs::is_regular_file(log)) r.metrics = answer::read_metrics_log(log.string(), &unfinished);
    if (unfinished)
      std::cerr << "note: the last line of " << log.string() << " is unfinished (a run still writing it, or one "
                << "killed while it did): left out" << std::endl;
    if (!fs::exists(log)) std::cerr << "note: " << log.string() << " is not there: the report has no training curves" << std::endl;
    if (fs::is_regular_file(cfg)) r.config_yaml = read_file(cfg.string());
    if (data.empty()) data = run_data_path(r.config_yaml);
  }
  std::vector<std::string> ids;
  data::DatasetMetadata meta;
  if (!data.empty()) {
    r.dataset = answer::browse_dataset(data, answer::BrowseLimits{a.groups, 8, 8});
    if (fs::is_regular_file(fs::path(data) / "identifiers.json")) ids = data::read_identifiers(data);
    meta.seq_len = r.dataset["seq_len"].get<int64_t>();
    meta.vocab_size = r.dataset["vocab_size"].get<int64_t>();
  }
  const std::string outputs = !a.outputs.empty() ? a.outputs : a.run.empty() ? "" : answer::latest_saved_outputs(a.run);
  if (!outputs.empty()) {
    const answer::SavedOutputs s = answer::load_saved_outputs(outputs);
    r.outputs_path = outputs;
    r.answers_seq_len = s.seq_len;
    // The kind from the dataset, else from the outputs' own shape.
    r.answers_kind = meta.seq_len == s.seq_len ? answer::kind_of(meta.seq_len, meta.vocab_size)
                                               : answer::kind_of(s.seq_len, s.vocab_size);
    add_answers(r, s, ids, a.samples);
  }
  write_file_atomic(out, answer::render_report(r));
  std::cout << "report: " << out << " (" << r.metrics.size() << " metric lines, " << r.answers.size() << " answers"
            << (r.dataset.is_null() ? "" : ", dataset " + data) << ")" << std::endl;
}

}  // namespace

void register_report(CLI::App& app) {
  auto a = std::make_shared<ReportArgs>();
  auto* cmd = app.add_subcommand(
      "report",
      "Write one self-contained HTML report: training curves (SVG) from RUN_DIR/metrics.jsonl, evaluation metrics, "
      "puzzles with the model's answers from RUN_DIR/step_N_all_preds.0 (wrong cells marked), and a dataset browser.");
  cmd->add_option("--run", a->run, "a run directory of `hrm train`");
  cmd->add_option("--data", a->data, "a dataset directory to browse (default: the run's data_path, when there)");
  cmd->add_option("--outputs", a->outputs, "the saved outputs to show (default: the run's newest step_N_all_preds.0)");
  cmd->add_option("--out", a->out, "the HTML file (default: RUN_DIR/report.html, else ./report.html)");
  cmd->add_option("--samples", a->samples, "puzzles with answers shown (default 12, half wrong ones when any)")
      ->check(non_negative());
  cmd->add_option("--groups", a->groups, "dataset groups sampled per split (default 24)")->check(non_negative());
  cmd->callback([a] { run_report(*a); });
}

}  // namespace hrm::cli
