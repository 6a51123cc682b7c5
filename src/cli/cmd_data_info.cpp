// cmd_data_info.cpp: `hrm data info DIR`: what a dataset directory holds, and one example as text.
// No reference counterpart (the reference has only its builders' progress bars). Reads with the
// same Dataset reader as training, so a dataset that `info` accepts is one the sampler can load.
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <filesystem>
#include <iostream>
#include <optional>

#include "cli/data_commands.h"
#include "cli/validators.h"
#include "core/check.h"
#include "data/dataset.h"
#include "data/render_text.h"
#include "data/maze.h"

namespace hrm::cli {
namespace {

namespace fs = std::filesystem;
using data::Dataset;
using data::DatasetSet;

// Input and label side by side, as a grid when seq_len is a square.
void print_example(const Dataset& d, const DatasetSet& s, int64_t example) {
  const auto& m = d.metadata();
  std::vector<int32_t> in(static_cast<size_t>(m.seq_len)), lab(in.size());
  s.input_row(example, in.data());
  s.label_row(example, lab.data());
  // Training checks every batch's tokens; the drawing is checked here, before it draws nonsense.
  s.check_tokens(example, in.data(), lab.data(), m.vocab_size, m.ignore_label_id);
  std::cout << data::render_side_by_side(m, {{"input", in, {}}, {"label", lab, {}}});
  const std::string l = data::legend(m);
  if (!l.empty()) std::cout << l << "\n";
}

// Draws `example` of the split's first set; one it lacks is an error only when `must_draw` (the
// split was named), else a note (the other split may have it). Returns whether it was drawn.
bool print_split(const fs::path& dir, const std::string& split, const std::vector<std::string>& ids, int64_t example,
                 bool check, bool must_draw) {
  const Dataset d = Dataset::open(dir, split);
  const auto& m = d.metadata();
  std::cout << "\n[" << split << "] " << data::metadata_to_json(m) << "\n";
  uintmax_t total_bytes = 0;
  for (const auto& s : d.sets()) {
    std::cout << fmt::format("  set '{}': {} examples, {} puzzles, {} groups\n", s.name, s.examples(), s.puzzles(), s.groups());
    for (const char* f : {"inputs", "labels", "puzzle_identifiers", "puzzle_indices", "group_indices"}) {
      const fs::path p = d.split_dir() / (s.name + "__" + f + ".npy");
      const npy::Array a = npy::Array::load(p.string());
      std::string shape;
      for (int64_t x : a.shape()) shape += (shape.empty() ? "" : ", ") + std::to_string(x);
      if (a.shape().size() == 1) shape += ",";  // Python's tuple repr, as numpy prints shapes
      const uintmax_t bytes = fs::file_size(p);
      total_bytes += bytes;
      std::cout << fmt::format("    {:<32} {:<4} {:<8} ({}) {} bytes\n", p.filename().string(), npy::descr(a.dtype()),
                               npy::dtype_name(a.dtype()), shape, bytes);
    }
  }
  std::cout << fmt::format("  on disk: {} bytes ({:.1f} MiB)\n", total_bytes, static_cast<double>(total_bytes) / (1 << 20));
  if (check) {
    const int64_t n = d.check_all_tokens();
    std::cout << fmt::format("  checked: the inputs and labels of all {} examples are within the vocabulary 0..{}{}\n", n,
                             m.vocab_size - 1,
                             m.ignore_label_id ? fmt::format(" (labels: or ignore_label_id {}, or -100)", *m.ignore_label_id)
                                               : " (labels: or -100)");
  }
  if (d.sets().empty() || d.sets()[0].examples() == 0) return false;
  // The reference's builders name every identifier: a count that differs means files of two builds.
  if (!ids.empty() && static_cast<int64_t>(ids.size()) != m.num_puzzle_identifiers)
    std::cout << fmt::format("  note: identifiers.json names {} identifiers, {}/dataset.json counts {}\n", ids.size(), split,
                             m.num_puzzle_identifiers);
  const DatasetSet& s = d.sets()[0];
  if (example < 0 || example >= s.examples()) {
    if (must_draw) HRM_THROW(ConfigError, "--example ", example, " outside [0, ", s.examples(), ") of ", split, "/", s.name);
    std::cout << fmt::format("  (no example {} to draw: set '{}' has {})\n", example, s.name, s.examples());
    return false;
  }
  const auto it = std::upper_bound(s.puzzle_indices.begin(), s.puzzle_indices.end(), static_cast<int32_t>(example));
  const int64_t puzzle = (it - s.puzzle_indices.begin()) - 1;
  const int32_t id = s.puzzle_identifiers[static_cast<size_t>(puzzle)];
  const auto git = std::upper_bound(s.group_indices.begin(), s.group_indices.end(), static_cast<int32_t>(puzzle));
  std::cout << fmt::format("  example {} of set '{}': puzzle {} (identifier {} '{}'), group {}\n", example, s.name, puzzle, id,
                           static_cast<size_t>(id) < ids.size() ? ids[static_cast<size_t>(id)] : "?",
                           (git - s.group_indices.begin()) - 1);
  print_example(d, s, example);
  return true;
}

}  // namespace

void register_data_info(CLI::App& data) {
  auto* cmd = data.add_subcommand("info", "Counts, vocabulary, sequence length, dtypes and sizes on disk of a dataset, "
                                          "and one example drawn as text");
  auto dir = std::make_shared<std::string>();
  auto split = std::make_shared<std::string>("all");
  auto example = std::make_shared<int64_t>(0);
  cmd->add_option("dir", *dir, "dataset directory (holds identifiers.json, train/, test/)")->required()->check(CLI::ExistingDirectory);
  cmd->add_option("--split", *split, "train, test or all")->capture_default_str();
  cmd->add_option("--example", *example, "index of the example to draw (in the first set of each split)")
      ->capture_default_str()
      ->check(non_negative());
  auto check = std::make_shared<bool>(false);
  cmd->add_flag("--check", *check,
                "also read every example and check its tokens against the vocabulary (a dataset of your own, before "
                "training on it; training checks each batch as it is drawn)");
  cmd->callback([=] {
    const fs::path root(*dir);
    std::vector<std::string> splits;
    if (*split == "all") {
      for (const char* s : {"train", "test"})
        if (fs::exists(root / s / "dataset.json")) splits.push_back(s);
      if (splits.empty()) HRM_THROW(FormatError, root.string(), ": no train/dataset.json or test/dataset.json");
    } else {
      splits.push_back(*split);
    }
    std::vector<std::string> ids;
    if (fs::exists(root / "identifiers.json")) ids = data::read_identifiers(root);
    std::cout << "dataset " << root.string() << ": " << ids.size() << " puzzle identifier name" << (ids.size() == 1 ? "" : "s") << " in identifiers.json\n";
    bool drawn = false;
    for (const auto& s : splits) drawn = print_split(root, s, ids, *example, *check, *split != "all") || drawn;
    if (!drawn && *example > 0)
      HRM_THROW(ConfigError, "--example ", *example, " is beyond the first set of every split (see the counts above)");
  });
}

}  // namespace hrm::cli
