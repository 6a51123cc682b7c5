// cmd_eval.cpp: `hrm eval checkpoint=PATH [save_outputs=[...]] [key=value ...]`, the reference's
// evaluate.py: reads all_config.yaml beside the checkpoint, builds the model, loads the weights
// (with or without `_orig_mod.`), evaluates the whole test split and prints the metrics; the outputs
// named in save_outputs go to step_N_all_preds.<rank> beside the checkpoint (save_dir=DIR: there; needed
// for another dataset than the run's, whose outputs must not replace the run's own). Data parallel under
// torchrun, as evaluate.py (train/distributed.h).
// Differs: other config keys may be overridden (e.g. device=cpu for a run trained on CUDA, or
// data_path when the dataset moved); EMA is off (the checkpoint already holds the weights to use).
#include <CLI/CLI.hpp>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <memory>
#include <optional>

#include <unistd.h>

#include "cli/commands.h"
#include "cli/show_puzzles.h"
#include "core/check.h"
#include "core/stop_signals.h"
#include "dist/comm.h"
#include "train/bench_common.h"
#include "train/checkpoint.h"
#include "train/distributed.h"
#include "train/pretrain_config.h"
#include "train/progress.h"
#include "train/train_loop.h"

namespace fs = std::filesystem;

namespace hrm::cli {
namespace {

void run_eval(const std::vector<std::string>& args) {
  std::string checkpoint;
  std::string save_outputs = "[inputs, labels, puzzle_identifiers, logits, q_halt_logits, q_continue_logits]";
  std::vector<std::string> overrides;
  std::string save_dir;  // where step_N_all_preds.<rank> go; default: the run's folder
  int show = 0;
  io::LoadOptions load;
  for (const auto& a : args) {
    if (a.rfind("checkpoint=", 0) == 0)
      checkpoint = a.substr(11);
    else if (a.rfind("show=", 0) == 0) {
      try {
        show = std::stoi(a.substr(5));
      } catch (const std::exception&) {
        show = -1;
      }
      if (show < 0) HRM_THROW(ConfigError, "hrm eval: show=", a.substr(5), ": expected a count >= 0 of puzzles to draw");
    }
    else if (a.rfind("resize_puzzle_emb=", 0) == 0)
      load.resize_puzzle_emb = train::parse_bool("resize_puzzle_emb", "hrm eval argument", a.substr(18));
    else if (a.rfind("save_outputs=", 0) == 0)
      save_outputs = a.substr(13);
    else if (a.rfind("save_dir=", 0) == 0)
      save_dir = a.substr(9);
    else
      overrides.push_back(a);
  }
  if (checkpoint.empty()) HRM_THROW(ConfigError, "hrm eval: checkpoint=PATH is required (a step_N file of a run)");
  const bool state_file = fs::path(checkpoint).filename() == "train_state.pt";
  if (!fs::is_regular_file(checkpoint) || state_file) {
    // A run's folder, a step it never saved, or its train_state.pt: name the checkpoints there are.
    fs::path folder = fs::is_directory(checkpoint) ? fs::path(checkpoint) : fs::path(checkpoint).parent_path();
    if (folder.empty()) folder = ".";
    const std::vector<std::string> steps = train::checkpoint_names(folder.string());  // empty without the folder
    const std::string there = steps.empty() ? std::string()
                              : "; " + folder.string() + " holds " + steps.front() +
                                    (steps.size() > 1 ? " to " + steps.back() : std::string()) +
                                    ", e.g. checkpoint=" + (folder / steps.back()).string();
    HRM_THROW(Error, "checkpoint '", checkpoint, "' ",
              state_file                     ? "is the run's training state (for resume=), not a model checkpoint"
              : fs::is_directory(checkpoint) ? "is a folder, not a checkpoint file"
              : fs::exists(checkpoint)       ? "is not a file"
                                             : "does not exist",
              there);
  }
  const std::string parent = fs::path(checkpoint).parent_path().string();
  const std::string run_dir = parent.empty() ? "." : parent;  // checkpoint=step_N from inside the run directory

  train::ConfigBuilder builder;
  builder.merge_file((fs::path(run_dir) / "all_config.yaml").string());
  std::string run_data_path;  // the run's own dataset, before any data_path= override
  try {
    run_data_path = builder.build().data_path;
  } catch (const Error&) {  // the overrides may be what makes the run's config valid here
  }
  builder.set("eval_save_outputs", save_outputs, "save_outputs=" + save_outputs);
  for (const auto& o : overrides) {
    // Keys of a training run that an evaluation would ignore: refused rather than silently dropped.
    for (const auto& [key, why] : {std::pair<const char*, const char*>{"checkpoint_path=", "it writes into the checkpoint's run folder, or save_dir=DIR"},
                                   {"resume=", "it evaluates checkpoint=PATH; resume= continues a training run (hrm train)"},
                                   {"ema=", "it evaluates the weights the checkpoint holds (a run with ema=True saved its EMA weights)"}})
      if (o.rfind(key, 0) == 0) HRM_THROW(ConfigError, "hrm eval: ", o, " does not apply: ", why);
    try {
      builder.merge_override(o);
    } catch (const ConfigError& e) {  // a misspelt key of eval's own is as likely as a config key's
      const std::string what = e.what();
      if (what.find("unknown config key") == std::string::npos) throw;
      HRM_THROW(ConfigError, what, " (hrm eval's own keys: checkpoint, save_outputs, save_dir, show, resize_puzzle_emb)");
    }
  }
  train::PretrainConfig config = builder.build();
  if (show > 0)
    for (const char* k : {"inputs", "labels", "logits"})
      if (std::find(config.eval_save_outputs.begin(), config.eval_save_outputs.end(), k) == config.eval_save_outputs.end())
        HRM_THROW(ConfigError, "hrm eval: show=N needs '", k, "' in save_outputs (got ", save_outputs, ")");
  config.checkpoint_path = run_dir;
  config.ema = false;
  config.resume.reset();
  const bool overridden = std::any_of(overrides.begin(), overrides.end(), [](const std::string& o) { return o.rfind("data_path=", 0) == 0; });
  if (!fs::exists(config.data_path)) {
    if (overridden) HRM_THROW(ConfigError, "data_path '", config.data_path, "' does not exist");
    HRM_THROW(ConfigError, "data_path '", config.data_path, "' (from ", (fs::path(run_dir) / "all_config.yaml").string(),
              fs::path(config.data_path).is_relative() ? ", relative to where hrm train ran" : "",
              ") does not exist here: give the dataset with data_path=DIR");
  }
  // Dataloader (the training split only for its metadata, as evaluate.py), then the model.
  const data::Dataset train_data = data::Dataset::open(config.data_path, "train");
  const data::Dataset eval_data = data::Dataset::open(config.data_path, "test");
  data::check_splits_agree(train_data, eval_data);
  int64_t test_examples = 0;
  for (const auto& set : eval_data.sets()) test_examples += set.examples();
  if (test_examples == 0)  // e.g. built with --test-size 0: no metric and no output file would come of it
    HRM_THROW(ConfigError, "hrm eval: ", eval_data.split_dir().string(), " has no examples; nothing to evaluate");

  // Data parallel when launched so (torchrun, as evaluate.py): each rank evaluates its slice of every
  // test batch and saves it as step_N_all_preds.<rank>; the metrics are reduced to rank 0, which prints.
  // After the dataset is read: a rank that cannot read it tells the others why it stops (main.cpp).
  const std::unique_ptr<dist::Comm> comm = train::init_distributed(config);
  if (comm) {
    train::sync_config(*comm, config);
    std::string root_checkpoint;
    if (const int64_t differ = train::ranks_unlike_root(*comm, checkpoint, "checkpoint path", root_checkpoint); differ > 0)
      HRM_THROW(ConfigError, "rank ", comm->rank(), ": ", differ, " rank(s) were given another checkpoint= than ",
                "rank 0's ", root_checkpoint, " (this rank: ", checkpoint, "); every rank must evaluate the same checkpoint");
  }
  std::ostream nowhere(nullptr);
  std::ostream& out = !comm || comm->is_root() ? std::cout : nowhere;
  train::TrainState state = train::init_train_state(config, train_data.metadata(), comm.get(), train::ModelUse::evaluation);
  if (!comm || comm->is_root()) note_slow_cpu_dtype(std::cout, state.device, config.arch.forward_dtype);
  train::load_model_checkpoint(checkpoint, state.model, load);
  // The run's folder holds the answers on the run's own dataset (hrm report and arc-score read them
  // with it): answers on another dataset that still exists here go elsewhere, or nowhere.
  std::error_code ec;
  if (save_dir.empty() && !config.eval_save_outputs.empty() && !run_data_path.empty() && fs::exists(run_data_path) &&
      !fs::equivalent(run_data_path, config.data_path, ec))
    HRM_THROW(ConfigError, "hrm eval: data_path ", config.data_path, " is not the run's dataset (", run_data_path,
              "); its outputs would replace the run's own in ", run_dir,
              ": give save_dir=DIR for them, or save_outputs=[] to save none");
  const std::string outputs_dir = save_dir.empty() ? run_dir : save_dir;
  state.step = 0;
  const std::string name = fs::path(checkpoint).filename().string();
  if (name.rfind("step_", 0) == 0) {
    try {
      state.step = std::stoll(name.substr(5));
    } catch (const std::exception&) {
    }
  }

  out << "Starting evaluation" << std::endl;
  state.model->eval();
  train::Progress progress(out, 0, 0, (!comm || comm->is_root()) && ::isatty(STDOUT_FILENO) != 0);
  // Ctrl-C or SIGTERM: abandoned after the segment (CPU) or batch (GPU) in progress, every rank alike,
  // writing nothing (no partial metrics or outputs that a later `hrm report` or `arc-score` would
  // take for the whole test split).
  const std::string stop_notice = std::string("\nstopping the evaluation after this ") + train::eval_stop_unit(state.device) +
                                  "; it writes nothing (again to stop now)\n";
  const StopSignals stop(stop_notice.c_str());
  int64_t batches_done = 0, batches_total = 0;
  train::EvalControl control;
  control.abandon = [&] {
    train::StepRequests r;
    r.stop = stop.requested();
    if (comm) r = train::any_rank_requests(*comm, r);
    return r.stop;
  };
  control.progress = [&](int64_t done, int64_t total) {
    batches_done = done;
    batches_total = total;
    progress.evaluation(done, total);
  };
  const std::optional<train::EvalMetrics> evaluated = train::evaluate(config, state, eval_data, outputs_dir, control);
  progress.end_evaluation();
  if (!evaluated)
    HRM_THROW(Interrupted, "hrm eval stopped after ", batches_done, " of ", batches_total, " test batches (",
              StopSignals::received(), "); an evaluation writes its metrics and outputs only when complete, so it wrote nothing");
  const train::EvalMetrics& metrics = *evaluated;
  nlohmann::ordered_json j = nlohmann::ordered_json::object();
  for (const auto& [set, values] : metrics) {
    out << set << ":";
    for (const auto& [k, v] : values) {
      char buf[32];
      std::snprintf(buf, sizeof buf, "%.6f", v);
      out << " " << k << " " << buf;
      j[set][k] = v;
    }
    out << "\n";
  }
  out << j.dump() << std::endl;
  const std::string preds = (fs::path(outputs_dir) / ("step_" + std::to_string(state.step) + "_all_preds.0")).string();
  if (!config.eval_save_outputs.empty())
    out << "outputs: " << preds << (comm ? " to ." + std::to_string(comm->world_size() - 1) + " (one per rank)" : "")
        << std::endl;
  if (show > 0 && (!comm || comm->is_root())) show_puzzles(preds, eval_data.metadata(), show, out);
}

}  // namespace

void register_eval(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "eval",
      "Evaluate a checkpoint on its dataset's test split (the reference's evaluate.py): hrm eval "
      "checkpoint=RUN_DIR/step_N [save_outputs=[inputs,labels,puzzle_identifiers,logits,q_halt_logits,"
      "q_continue_logits]] [save_dir=DIR] [show=N] [resize_puzzle_emb=True] [key=value ...]. Reads "
      "RUN_DIR/all_config.yaml; prints the metrics per set and saves the outputs as DIR/step_N_all_preds.<rank> "
      "(default DIR: RUN_DIR; another dataset's outputs need their own save_dir); with show=N draws N solved and N "
      "failed test puzzles. resize_puzzle_emb=True loads "
      "a checkpoint whose puzzle-embedding table has another row count than the dataset (new rows: the mean).");
  auto args = std::make_shared<std::vector<std::string>>();
  cmd->add_option("args", *args, "checkpoint=PATH, save_outputs=[...], save_dir=DIR, show=N, resize_puzzle_emb=True, config overrides key=value")->required();
  cmd->callback([=] { run_eval(*args); });
}

}  // namespace hrm::cli
