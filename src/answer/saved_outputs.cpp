// saved_outputs.cpp: see saved_outputs.h.
#include "answer/saved_outputs.h"

#include <filesystem>

#include "core/check.h"
#include "io/torch_file.h"

namespace hrm::answer {
namespace fs = std::filesystem;

namespace {

template <typename T>
std::vector<T> flat(const torch::Tensor& t, at::ScalarType type) {
  const torch::Tensor c = t.to(type).contiguous();
  return std::vector<T>(c.data_ptr<T>(), c.data_ptr<T>() + c.numel());
}

}  // namespace

SavedOutputs load_saved_outputs(const std::string& path) {
  const io::StateDict sd = io::load_torch_file(path);
  SavedOutputs out;
  out.rows = -1;
  auto check_rows = [&](const std::string& key, const torch::Tensor& t, int64_t rank) {
    if (t.dim() != rank) HRM_THROW(FormatError, path, ": \"", key, "\" has ", t.dim(), " dimensions, expected ", rank);
    if (out.rows >= 0 && t.size(0) != out.rows)
      HRM_THROW(FormatError, path, ": \"", key, "\" has ", t.size(0), " rows, other outputs ", out.rows);
    out.rows = t.size(0);
    if (rank >= 2) {
      if (out.seq_len > 0 && t.size(1) != out.seq_len)
        HRM_THROW(FormatError, path, ": \"", key, "\" has ", t.size(1), " positions, other outputs ", out.seq_len);
      out.seq_len = t.size(1);
    }
  };
  bool has_preds = false;
  for (const auto& [k, v] : sd) has_preds = has_preds || k == "preds";
  for (const auto& [k, v] : sd) {
    if (k == "inputs" || k == "labels" || k == "preds") {
      check_rows(k, v, 2);
      (k == "inputs" ? out.inputs : k == "labels" ? out.labels : out.preds) = flat<int32_t>(v, torch::kInt32);
    } else if (k == "logits" && !has_preds) {
      check_rows(k, v, 3);
      out.preds = flat<int32_t>(v.argmax(-1), torch::kInt32);
      out.vocab_size = v.size(2);
    } else if (k == "puzzle_identifiers") {
      check_rows(k, v, 1);
      out.puzzle_identifiers = flat<int32_t>(v, torch::kInt32);
    } else if (k == "q_halt_logits" || k == "q_continue_logits") {
      check_rows(k, v, 1);
      (k == "q_halt_logits" ? out.q_halt_logits : out.q_continue_logits) = flat<float>(v, torch::kFloat32);
    }
  }
  if (out.rows < 0) HRM_THROW(FormatError, path, ": none of inputs, labels, puzzle_identifiers, preds, logits, q_halt_logits");
  return out;
}

std::string latest_saved_outputs(const std::string& run_dir) {
  std::string best;
  long long best_step = -1;
  if (!fs::is_directory(run_dir)) return best;
  for (const auto& e : fs::directory_iterator(run_dir)) {
    const std::string name = e.path().filename().string();
    const std::string suffix = "_all_preds.0";
    if (name.rfind("step_", 0) != 0 || name.size() <= suffix.size() + 5 ||
        name.compare(name.size() - suffix.size(), suffix.size(), suffix) != 0)
      continue;
    try {
      const long long step = std::stoll(name.substr(5, name.size() - 5 - suffix.size()));
      if (step > best_step) best_step = step, best = e.path().string();
    } catch (const std::exception&) {
    }
  }
  return best;
}

}  // namespace hrm::answer
