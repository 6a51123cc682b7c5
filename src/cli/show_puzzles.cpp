// show_puzzles.cpp: see show_puzzles.h.
#include "cli/show_puzzles.h"

#include <torch/torch.h>

#include <ostream>
#include <vector>

#include "answer/saved_outputs.h"
#include "core/check.h"
#include "data/render_text.h"
#include "io/torch_file.h"

namespace hrm::cli {
namespace {

std::vector<int32_t> row(const torch::Tensor& t, int64_t i) {
  torch::Tensor r = t[i].to(torch::kInt32).contiguous();
  return {r.data_ptr<int32_t>(), r.data_ptr<int32_t>() + r.numel()};
}

}  // namespace

void show_puzzles(const std::string& preds_path, const data::DatasetMetadata& metadata, int n, std::ostream& out) {
  std::vector<io::StateDict> files;
  for (const std::string& f : answer::rank_output_files(preds_path)) files.push_back(io::load_torch_file(f));
  auto get = [&](const std::string& key) {
    std::vector<torch::Tensor> parts;
    for (const io::StateDict& f : files)
      for (const auto& [k, v] : f)
        if (k == key) parts.push_back(v);
    if (parts.size() != files.size())
      HRM_THROW(FormatError, preds_path, files.size() > 1 ? " (or another rank's file)" : "", ": no '", key,
                "' output (evaluate with save_outputs=[inputs, labels, logits])");
    return torch::cat(parts);
  };
  // Several ranks' rows are not in test-split order: they are named by row, not by test index.
  const std::string name = files.size() > 1 ? "row " : "test puzzle ";
  const torch::Tensor inputs = get("inputs"), labels = get("labels");
  const torch::Tensor answers = get("logits").argmax(-1);
  // Labels equal to the loss's ignore id (-100) are not scored: the padding rows of the last batch
  // have no label at all, and the reference counts a row exact when every scored cell is right.
  const torch::Tensor scored = labels != -100;
  const torch::Tensor wrong = (answers != labels) & scored;
  const torch::Tensor has_label = scored.any(-1), exact = wrong.any(-1).logical_not() & has_label;
  const int64_t rows = has_label.sum().item<int64_t>(), solved = exact.sum().item<int64_t>();

  int shown[2] = {0, 0};
  for (int64_t i = 0; i < inputs.size(0) && (shown[0] < n || shown[1] < n); ++i) {
    if (!has_label[i].item<bool>()) continue;
    const bool ok = exact[i].item<bool>();
    if (shown[ok ? 1 : 0]++ >= n) continue;
    std::vector<int32_t> lab = row(labels, i);
    std::vector<bool> marks(lab.size());
    const torch::Tensor w = wrong[i];
    int64_t n_wrong = 0;
    for (size_t c = 0; c < lab.size(); ++c) n_wrong += (marks[c] = w[static_cast<int64_t>(c)].item<bool>());
    out << "\n" << (ok ? "SOLVED" : "FAILED") << " " << name << i << (ok ? "" : " (" + std::to_string(n_wrong) + " wrong cells)") << "\n";
    for (auto& t : lab) t = t == -100 ? static_cast<int32_t>(metadata.pad_id) : t;
    std::vector<data::TextGrid> grids = {{"input", row(inputs, i), {}}, {"model", row(answers, i), {}}};
    if (!ok) grids.push_back({"wrong (x)", row(answers, i), marks});
    grids.push_back({"label", lab, {}});
    out << data::render_side_by_side(metadata, grids);
  }
  const std::string l = data::legend(metadata);
  out << "\nsolved " << solved << " of " << rows << " test puzzles" << (l.empty() ? "" : " " + l) << "\n";
}

}  // namespace hrm::cli
