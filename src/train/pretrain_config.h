// pretrain_config.h: the typed training configuration of `hrm train` / `hrm eval`.
// Mirrors PretrainConfig / ArchConfig / LossConfig in pretrain.py and config/cfg_pretrain.yaml +
// config/arch/hrm_v1.yaml of sapientinc/HRM@42410da: same keys, same defaults, the same `key=value`
// and `arch.key=value` overrides (Hydra's), `${.hidden_size}` interpolation (OmegaConf's), and the
// same `all_config.yaml` beside the checkpoints (readable by the reference's evaluate.py).
// Differs: unknown keys are errors naming the nearest valid key (pydantic's extra='allow' accepts
// anything on arch); wrong types are errors naming the expected type; eval_save_outputs names are
// checked; a few keys of hrm's own (device, cuda_graphs, ema, ema_rate, max_nonfinite_steps, resume, log_interval, save_state_minutes, dist_timeout, dist_reducer).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "model/config.h"

namespace hrm::train {

struct PretrainConfig {
  // arch (config/arch/hrm_v1.yaml). batch_size, seq_len, vocab_size and num_puzzle_identifiers of
  // `arch` are not config keys: create_model sets them from global_batch_size and the dataset.
  std::string arch_name = "hrm.hrm_act_v1@HierarchicalReasoningModel_ACTV1";
  std::string loss_name = "losses@ACTLossHead";
  HRMConfig arch = default_arch();

  // Data
  std::string data_path = "data/arc-aug-1000";

  // Hyperparams
  int64_t global_batch_size = 768;
  int64_t epochs = 100000;
  double lr = 1e-4;
  double lr_min_ratio = 1.0;
  int64_t lr_warmup_steps = 2000;
  double weight_decay = 0.1;
  double beta1 = 0.9;
  double beta2 = 0.95;
  double puzzle_emb_lr = 1e-2;
  double puzzle_emb_weight_decay = 0.1;

  // Names
  std::optional<std::string> project_name, run_name, checkpoint_path;

  // Extras
  int64_t seed = 0;
  bool checkpoint_every_eval = true;           // the yaml's value (pydantic's default is False)
  std::optional<int64_t> eval_interval = 10000;  // epochs per train/eval iteration; null: epochs
  std::vector<std::string> eval_save_outputs;

  // hrm's own keys
  std::string device = "auto";  // auto (cuda when this machine has a GPU, else cpu) | cpu | cuda | cuda:N
  // Evaluation ACT steps as a replayed CUDA graph (train/eval_graph.h); needs a GPU (device=cuda, or auto on one).
  bool cuda_graphs = false;
  bool ema = false;
  double ema_rate = 0.999;
  // Steps in a row with a non-finite loss or gradient (each skipped: it updates nothing) before training
  // stops. 0: no check, as the reference (no host sync per step; such a step writes NaN into the weights).
  int64_t max_nonfinite_steps = 10;
  std::optional<std::string> resume;  // a run directory to continue
  int64_t log_interval = 10;
  // Minutes between saves of train_state.pt between evaluations (after the step in progress); 0: only
  // at evaluations and when a signal stops the run.
  double save_state_minutes = 0;
  // Data parallel (docs/DISTRIBUTED.md): seconds the rendezvous and each collective may wait for the other
  // ranks before this rank stops with an error (a dead or stuck peer).
  double dist_timeout = 1800;
  // Data parallel: gradients summed by c10d's Reducer during the backward (DDP's buckets, overlapped);
  // false: one bucketed all-reduce after the backward.
  bool dist_reducer = true;

  // The arch yaml's values on HRMConfig (hrm_v1.yaml; forward_dtype etc. keep HRMConfig's).
  static HRMConfig default_arch();

  // Throws ConfigError naming the first bad key and what is allowed.
  void validate() const;
  // Epochs per train/eval iteration (the reference's train_epochs_per_iter).
  int64_t epochs_per_iter() const { return eval_interval ? *eval_interval : epochs; }
};

// Every valid key, dotted (arch.hidden_size, arch.loss.loss_type, ...), in all_config.yaml order.
const std::vector<std::string>& config_keys();

// Sets one dotted key from YAML text (`1e-4`, `True`, `[inputs, logits]`, `null`). Unknown key ->
// ConfigError naming it and the nearest valid key; wrong type -> ConfigError naming the type.
// `${.other}` is accepted for arch keys and resolved by resolve_interpolations().
class ConfigBuilder {
 public:
  ConfigBuilder();  // the built-in defaults (= configs/cfg_pretrain.yaml + configs/arch/hrm_v1.yaml)
  // Merges a YAML file: a cfg_pretrain.yaml-style file (a `defaults:` list loads `arch: NAME` from
  // DIR/arch/NAME.yaml) or an all_config.yaml (arch inline). `hydra:` is ignored.
  void merge_file(const std::string& path);
  // One `key=value` argument (Hydra's override syntax without +/~ prefixes).
  void merge_override(const std::string& arg);
  void set(const std::string& key, const std::string& yaml_value, const std::string& origin);
  // Resolves `${.key}` references and builds the typed config (validated).
  PretrainConfig build() const;

 private:
  std::vector<std::pair<std::string, std::string>> values_;  // dotted key -> YAML text, in set order
  std::vector<std::string> origins_;                          // where each value came from
};

// The whole command line of `hrm train`: optional --config file, then overrides. With resume=DIR
// the base is DIR/all_config.yaml (instead of the defaults or the file) and checkpoint_path is DIR.
PretrainConfig load_pretrain_config(const std::optional<std::string>& config_file,
                                    const std::vector<std::string>& overrides);

// Fills project_name, run_name and checkpoint_path as load_synced_config does when they are null
// (`<Basename of data_path capitalised> ACT-torch`, `HierarchicalReasoningModel_ACTV1 <slug>`,
// checkpoints/<project>/<run>). The slug is a UTC timestamp instead of coolname's random words.
void fill_names(PretrainConfig& config);

// The resolved config as YAML, in the reference's all_config.yaml layout (yaml.dump of
// config.model_dump(): nested arch with loss, keys sorted) plus hrm's keys.
std::string to_yaml(const PretrainConfig& config);
// Writes to_yaml() to DIR/all_config.yaml atomically.
void save_all_config(const PretrainConfig& config, const std::string& dir);

// A boolean command-line value as config overrides read one (YAML: True, false, yes, ...); a
// ConfigError naming `key` and `origin` otherwise.
bool parse_bool(const std::string& key, const std::string& origin, const std::string& text);

// Python's repr of a float in PyYAML's form (a '.' always present: 1.0e-05), so that yaml.safe_load
// reads it back as a float.
std::string yaml_float(double v);

}  // namespace hrm::train
