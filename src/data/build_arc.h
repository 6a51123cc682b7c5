// build_arc.h: `hrm data arc`: ARC task directories -> a puzzle dataset with augmentations.
// Mirrors dataset/build_arc_dataset.py (load_puzzles_arcagi, convert_single_arc_puzzle,
// convert_dataset) of sapientinc/HRM@42410da: same split rule, encoding, augmentations, names,
// identifiers, group/puzzle structure, dtypes and metadata.
// Differs: reproducible. Directory listings are sorted (the reference follows file-system order),
// the train split is always written and numbered before the test split (the reference's order can
// come from Python's per-process string hashing), and every draw comes from an hrm::Rng stream of
// (seed, task, puzzle), so the output is byte-identical for a seed whatever the thread count. The
// bytes differ from the reference's (numpy's RNG is not reproduced). Rows stream to disk through
// data::DatasetWriter (bounded memory, atomic); two tasks with the same id are an error (the
// reference would silently merge their identifiers).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "data/arc.h"

namespace hrm::arc {

struct BuildConfig {
  std::vector<std::string> dataset_dirs;  // each one's subdirectories hold the task files
  std::string output_dir;
  uint64_t seed = 42;
  int num_aug = 1000;
  int threads = 0;  // 0: all cores
};

// A task and where it came from. `evaluation`: its subdirectory is named "evaluation", so its
// test pairs form the test split (elsewhere every pair goes to training).
struct SourceTask {
  Task task;
  bool evaluation = false;
};

struct BuildSummary {
  std::vector<std::pair<std::string, int64_t>> tasks_per_dir;  // the reference's "total puzzles"
  int64_t num_identifiers = 0;                                 // including <blank>
  int64_t train_examples = 0, train_puzzles = 0, train_groups = 0;
  int64_t test_examples = 0, test_puzzles = 0, test_groups = 0;
  // Tasks that got fewer than num_aug distinct augmentations: (task id, puzzles in its group).
  std::vector<std::pair<std::string, int64_t>> short_groups;
};

// Every *.json in every subdirectory of each dir (names sorted; files starting with '.' skipped as
// glob does), parsed, each subdirectory's tasks shuffled by `seed` as the reference shuffles them.
// `counts` (optional) receives the number of tasks per dir.
std::vector<SourceTask> load_task_dirs(const std::vector<std::string>& dirs, uint64_t seed,
                                       std::vector<std::pair<std::string, int64_t>>* counts = nullptr);

// Builds the dataset at config.output_dir (replaced atomically at the end).
BuildSummary build_dataset(const BuildConfig& config);

}  // namespace hrm::arc
