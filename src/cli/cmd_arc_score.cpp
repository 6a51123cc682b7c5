// cmd_arc_score.cpp: `hrm arc-score RUN_DIR/step_N_all_preds.0 [--data DIR] [--out submission.json]`,
// the reference's arc_eval.ipynb as a command: un-augments and crops every saved answer, votes per
// test input, prints pass@1/2/10/100/1000 and writes the ARC Prize submission.json
// (data/arc_scoring.h does the work).
// Differs: the dataset defaults to data_path of the run's all_config.yaml beside the outputs.
#include <CLI/CLI.hpp>

#include <filesystem>
#include <iostream>
#include <memory>

#include <nlohmann/json.hpp>
#include <yaml-cpp/yaml.h>

#include "answer/saved_outputs.h"
#include "cli/commands.h"
#include "core/atomic_file.h"
#include "core/check.h"
#include "data/arc_scoring.h"

namespace fs = std::filesystem;

namespace hrm::cli {
namespace {

struct ArcScoreArgs {
  std::string outputs, data, out;
};

// data_path from all_config.yaml beside the outputs, for runs whose dataset has not moved.
std::string data_path_of_run(const std::string& outputs_path) {
  const fs::path cfg = fs::path(outputs_path).parent_path() / "all_config.yaml";
  if (!fs::is_regular_file(cfg))
    HRM_THROW(ConfigError, "hrm arc-score: --data DIR is required (no all_config.yaml beside ", outputs_path,
              " to take data_path from)");
  YAML::Node root;
  try {
    root = YAML::LoadFile(cfg.string());
  } catch (const YAML::Exception& e) {
    HRM_THROW(ConfigError, cfg.string(), ": ", e.what());
  }
  if (!root["data_path"] || !root["data_path"].IsScalar())
    HRM_THROW(ConfigError, cfg.string(), ": no data_path; pass --data DIR");
  return root["data_path"].as<std::string>();
}

// The ARC Prize format arc-score writes: {task id: [{"attempt_1": grid, "attempt_2": grid}, ...]}.
bool is_submission_json(const std::string& content) {
  const auto j = nlohmann::json::parse(content, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) return false;
  for (const auto& [id, tests] : j.items()) {
    if (!tests.is_array()) return false;
    for (const auto& t : tests)
      if (!t.is_object() || !t.contains("attempt_1")) return false;
  }
  return true;
}

void run_arc_score(const ArcScoreArgs& a) {
  if (!fs::exists(a.outputs))  // before asking for --data, which would be the wrong question
    HRM_THROW(ConfigError, "hrm arc-score: ", a.outputs, " does not exist (expected RUN/step_N_all_preds.0, which ",
              "hrm eval or an evaluation during hrm train saves)");
  const std::string out = a.out.empty() ? (fs::path(a.outputs).parent_path() / "submission.json").string() : a.out;
  check_replaceable(out, is_submission_json, "an ARC Prize submission.json");
  const std::string data = a.data.empty() ? data_path_of_run(a.outputs) : a.data;
  const answer::SavedOutputs saved = answer::load_saved_outputs(a.outputs);
  for (const auto& [name, present] : {std::pair<const char*, bool>{"puzzle_identifiers", !saved.puzzle_identifiers.empty()},
                                      {"preds or logits", !saved.preds.empty()},
                                      {"q_halt_logits", !saved.q_halt_logits.empty()}})
    if (!present)
      HRM_THROW(FormatError, a.outputs, ": no ", name, " (evaluate with save_outputs=[inputs,labels,puzzle_identifiers,",
                "logits,q_halt_logits,q_continue_logits])");
  if (saved.seq_len != arc::kSeqLen)
    HRM_THROW(FormatError, a.outputs, ": ", saved.seq_len, " positions per row, ARC has ", arc::kSeqLen);
  const arc::TestSplit split = arc::load_test_split(data);
  arc::Predictions p;
  p.rows = saved.rows;
  p.tokens = saved.preds.data();
  p.puzzle_identifiers = saved.puzzle_identifiers.data();
  p.q_halt_logits = saved.q_halt_logits.data();
  if (!saved.inputs.empty()) p.inputs = saved.inputs.data();
  if (saved.files.size() > 1) std::cout << "outputs of " << saved.files.size() << " ranks: " << a.outputs << " and its .1 to ." << saved.files.size() - 1 << "\n";
  const arc::Score s = arc::score(split, p);
  std::cout << s.tasks.size() << " tasks, " << split.num_examples << " test rows\n" << arc::summary(s);
  arc::write_submission(out, s);
  std::cout << "submission: " << out << std::endl;
}

}  // namespace

void register_arc_score(CLI::App& app) {
  auto a = std::make_shared<ArcScoreArgs>();
  auto* cmd = app.add_subcommand(
      "arc-score",
      "Score saved ARC evaluation outputs (the reference's arc_eval.ipynb): undo each augmentation, crop, vote "
      "per test input (count, then mean sigmoid(q_halt)), print pass@1,2,10,100,1000 and write the ARC Prize "
      "submission.json.");
  cmd->add_option("outputs", a->outputs,
                  "RUN_DIR/step_N_all_preds.0 of `hrm eval` or `hrm train` (with .1, .2, ... beside it: every rank's)")->required();
  cmd->add_option("--data", a->data, "the ARC dataset directory (default: data_path of RUN_DIR/all_config.yaml)");
  cmd->add_option("--out", a->out, "where to write submission.json (default: RUN_DIR/submission.json)");
  cmd->callback([a] { run_arc_score(*a); });
}

}  // namespace hrm::cli
