// state_dict.cpp: state_dict() / load_state_dict() for torch::nn::Module (see state_dict.h).
// The walk follows torch/nn/modules/module.py (_save_to_state_dict then children); the strict-mode
// report follows load_state_dict's "Missing key(s) / Unexpected key(s) / size mismatch" error.
#include "io/state_dict.h"

#include <map>
#include <sstream>

#include "core/check.h"

namespace hrm::io {
namespace {

const std::string kCompiledPrefix = "_orig_mod.";
const std::string kPuzzleEmb = "model.inner.puzzle_emb.weights";

void collect(const torch::nn::Module& m, const std::string& prefix, StateDict& out) {
  for (const auto& p : m.named_parameters(/*recurse=*/false))
    if (p.value().defined()) out.emplace_back(prefix + p.key(), p.value().detach());
  for (const auto& b : m.named_buffers(/*recurse=*/false))
    if (b.value().defined()) out.emplace_back(prefix + b.key(), b.value().detach());
  for (const auto& c : m.named_children()) collect(*c.value(), prefix + c.key() + ".", out);
}

std::string shape(const torch::Tensor& t) {
  std::ostringstream os;
  os << t.sizes();
  return os.str();
}

// New table of `rows` rows: the file's rows first, then rows equal to the mean of the file's rows
// (a neutral start for unseen puzzles; zeros when the file has none).
torch::Tensor resize_rows(const torch::Tensor& table, int64_t rows) {
  int64_t have = table.size(0);
  if (rows <= have) return table.narrow(0, 0, rows);
  torch::Tensor fill = have > 0 ? table.to(torch::kFloat64).mean(0, /*keepdim=*/true).to(table.scalar_type())
                                : torch::zeros({1, table.size(1)}, table.options());
  return torch::cat({table, fill.expand({rows - have, table.size(1)})}, 0);
}

}  // namespace

StateDict state_dict(const torch::nn::Module& module) {
  StateDict out;
  collect(module, "", out);
  return out;
}

void load_state_dict(torch::nn::Module& module, const StateDict& sd, const std::string& source_name,
                     const LoadOptions& opts) {
  StateDict dest = state_dict(module);
  std::map<std::string, size_t> dest_index;
  for (size_t k = 0; k < dest.size(); ++k) dest_index[dest[k].first] = k;

  std::vector<std::string> problems;
  std::vector<bool> seen(dest.size(), false);
  std::vector<std::pair<size_t, torch::Tensor>> copies;  // dest index, value
  for (const auto& [file_key, value] : sd) {
    std::string key = file_key.rfind(kCompiledPrefix, 0) == 0 ? file_key.substr(kCompiledPrefix.size()) : file_key;
    auto it = dest_index.find(key);
    if (it == dest_index.end()) {
      problems.push_back("unexpected key '" + file_key + "' " + shape(value));
      continue;
    }
    size_t d = it->second;
    if (seen[d]) {
      problems.push_back("key '" + key + "' appears twice (with and without '" + kCompiledPrefix + "')");
      continue;
    }
    seen[d] = true;
    const torch::Tensor& target = dest[d].second;
    torch::Tensor v = value;
    bool rows_differ = key == kPuzzleEmb && v.dim() == 2 && target.dim() == 2 && v.size(1) == target.size(1) &&
                       v.size(0) != target.size(0);
    if (rows_differ && opts.resize_puzzle_emb) {
      v = resize_rows(v, target.size(0));
    } else if (rows_differ) {
      problems.push_back(::hrm::detail::concat("'", key, "' has ", v.size(0), " rows (puzzle identifiers) in the file but ",
                                               target.size(0), " in the model; to resize it (added rows = the mean of the old ones, extra rows dropped) pass ",
                                               "resize_puzzle_emb=True to hrm eval or --resize-puzzle-emb to hrm solve"));
      continue;
    } else if (!v.sizes().equals(target.sizes())) {
      std::string why;  // the shapes the dataset sets: the usual cause is a checkpoint of another task
      if (key == "model.inner.embed_tokens.embedding_weight" && v.dim() == 2 && target.dim() == 2)
        why = ::hrm::detail::concat(" (vocab_size: the checkpoint's task has ", v.size(0), " tokens, the dataset's ",
                                    target.size(0), "; a checkpoint of another task?)");
      else if (key == "model.inner.embed_pos.embedding_weight" && v.dim() == 2 && target.dim() == 2)
        why = ::hrm::detail::concat(" (positions: the checkpoint's task has ", v.size(0), ", the dataset's ",
                                    target.size(0), "; a checkpoint of another task?)");
      problems.push_back("size mismatch for '" + key + "': file " + shape(v) + ", model " + shape(target) + why);
      continue;
    }
    copies.emplace_back(d, v);
  }
  for (size_t k = 0; k < dest.size(); ++k)
    if (!seen[k]) problems.push_back("missing key '" + dest[k].first + "' " + shape(dest[k].second));

  if (!problems.empty()) {
    std::ostringstream os;
    os << source_name << ": the state dict does not match the model (" << problems.size() << " problem"
       << (problems.size() == 1 ? "" : "s") << "):";
    for (const auto& p : problems) os << "\n  " << p;
    throw FormatError(os.str());
  }
  torch::NoGradGuard no_grad;
  for (auto& [d, v] : copies) dest[d].second.copy_(v);  // copy_ converts dtype and device
}

}  // namespace hrm::io
