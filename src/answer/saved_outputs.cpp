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

SavedOutputs load_one_file(const std::string& path) {
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
  out.files = {path};
  return out;
}

// Appends `more` (another rank's file) to `all`: the same tensors of the same row length.
void append(SavedOutputs& all, SavedOutputs more) {
  const std::string& f = more.files.front();
  if (more.seq_len != all.seq_len || more.vocab_size != all.vocab_size)
    HRM_THROW(FormatError, f, ": ", more.seq_len, " positions per row, vocabulary ", more.vocab_size, "; ",
              all.files.front(), " has ", all.seq_len, ", ", all.vocab_size);
  auto join = [&](auto& a, auto& b, const char* key) {
    if (a.empty() != b.empty())
      HRM_THROW(FormatError, f, ": ", b.empty() ? "lacks" : "has", " \"", key, "\", which ", all.files.front(),
                b.empty() ? " has" : " lacks");
    a.insert(a.end(), b.begin(), b.end());
  };
  join(all.inputs, more.inputs, "inputs");
  join(all.labels, more.labels, "labels");
  join(all.puzzle_identifiers, more.puzzle_identifiers, "puzzle_identifiers");
  join(all.preds, more.preds, "preds/logits");
  join(all.q_halt_logits, more.q_halt_logits, "q_halt_logits");
  join(all.q_continue_logits, more.q_continue_logits, "q_continue_logits");
  all.rows += more.rows;
  all.files.push_back(f);
}

}  // namespace

std::vector<std::string> rank_output_files(const std::string& path) {
  std::vector<std::string> files{path};
  const std::string rank0 = "_all_preds.0";
  if (path.size() < rank0.size() || path.compare(path.size() - rank0.size(), rank0.size(), rank0) != 0) return files;
  const std::string stem = path.substr(0, path.size() - 1);
  for (int rank = 1; fs::exists(stem + std::to_string(rank)); ++rank) files.push_back(stem + std::to_string(rank));
  return files;
}

SavedOutputs load_saved_outputs(const std::string& path) {
  const std::vector<std::string> files = rank_output_files(path);
  SavedOutputs all = load_one_file(files[0]);
  for (size_t r = 1; r < files.size(); ++r) append(all, load_one_file(files[r]));
  return all;
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
