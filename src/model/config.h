// config.h: HierarchicalReasoningModel_ACTV1Config and the loss-head choice.
// Mirrors models/hrm/hrm_act_v1.py (the pydantic config) and config/arch/hrm_v1.yaml of
// sapientinc/HRM@42410da: same names, same defaults. Unlike pydantic it validates meaning, not
// only types: an error names the key and what is allowed.
#pragma once

#include <map>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace hrm {

struct HRMConfig {
  int batch_size = 768;
  int seq_len = 81;
  int puzzle_emb_ndim = 512;  // arch yaml: ${.hidden_size}
  int num_puzzle_identifiers = 1;
  int vocab_size = 11;

  int H_cycles = 2;
  int L_cycles = 2;
  int H_layers = 4;
  int L_layers = 4;

  int hidden_size = 512;
  double expansion = 4.0;
  int num_heads = 8;
  std::string pos_encodings = "rope";  // rope | learned

  double rms_norm_eps = 1e-5;
  double rope_theta = 10000.0;

  int halt_max_steps = 16;
  double halt_exploration_prob = 0.1;

  std::string forward_dtype = "bfloat16";  // bfloat16 | float32 | float16

  // The loss head's choice (config/arch/hrm_v1.yaml: loss.name / loss.loss_type).
  std::string loss_type = "stablemax_cross_entropy";  // | softmax_cross_entropy

  // Derived quantities, named as in the reference.
  int puzzle_emb_len() const { return (puzzle_emb_ndim + hidden_size - 1) / hidden_size; }  // ceil div
  int head_dim() const { return hidden_size / num_heads; }
  int total_seq_len() const { return seq_len + puzzle_emb_len(); }
  int intermediate_size() const;  // SwiGLU: _find_multiple(round(expansion*hidden*2/3), 256)

  // Throws ConfigError naming the first offending key and the allowed values.
  void validate() const;

  // key=value assignment by reference name (string value parsed to the field's type).
  // Unknown keys throw ConfigError naming the nearest valid key.
  void set(const std::string& key, const std::string& value);
  static const std::vector<std::string>& keys();
  std::string get(const std::string& key) const;  // value as text (for printing and saving)

  // The fixture/HF-style JSON object {"batch_size": 4, ...}; unknown keys are errors.
  static HRMConfig from_json(const nlohmann::json& j);
  nlohmann::json to_json() const;
};

// Nearest key by edit distance (for "did you mean" hints).
std::string nearest_key(const std::string& key, const std::vector<std::string>& candidates);

}  // namespace hrm
