// cmd_data_arc.cpp: `hrm data arc OUT --dataset-dirs DIR...`: builds an ARC dataset from task
// directories (see data/build_arc.h). Mirrors the command line of dataset/build_arc_dataset.py
// (--dataset-dirs, --seed 42, --num-aug 1000) and its messages; the output directory is positional
// as in the other `hrm data` builders.
#include <CLI/CLI.hpp>

#include <chrono>
#include <iomanip>
#include <iostream>

#include "cli/data_commands.h"
#include "cli/validators.h"
#include "data/build_arc.h"

namespace hrm::cli {

void register_data_arc(CLI::App& data) {
  auto* cmd = data.add_subcommand(
      "arc", "Build an ARC dataset from task JSON directories: every subdirectory of each --dataset-dirs entry is "
             "scanned; a subdirectory named 'evaluation' puts its test pairs in the test split, elsewhere all pairs "
             "train. Each task gets --num-aug distinct augmentations (dihedral transform x permutation of colours "
             "1-9); training examples are randomly translated on the 30x30 canvas. ARC-1: --dataset-dirs "
             "ARC-AGI-1 ConceptARC; ARC-2: --dataset-dirs ARC-AGI-2");
  auto cfg = std::make_shared<arc::BuildConfig>();
  cmd->add_option("output", cfg->output_dir, "output dataset directory (written atomically)")->required();
  cmd->add_option("--dataset-dirs", cfg->dataset_dirs, "directories whose subdirectories hold the task files")
      ->required()
      ->check(CLI::ExistingDirectory);
  cmd->add_option("--num-aug", cfg->num_aug, "augmentations per task (fewer when a task has fewer distinct ones)")
      ->capture_default_str()
      ->check(CLI::Range(0, arc::kMaxAugmentations));
  cmd->add_option("--seed", cfg->seed, "seed of every random draw (same seed, same bytes)")->capture_default_str()
      ->check(non_negative());  // -1 would silently become 2^64 - 1
  cmd->add_option("--threads", cfg->threads, "worker threads (default: all cores; output does not depend on it)")
      ->check(thread_count());
  cmd->callback([cfg] {
    const auto t0 = std::chrono::steady_clock::now();
    const arc::BuildSummary s = arc::build_dataset(*cfg);
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    // Plain iostreams: this file is compiled next to libtorch, whose bundled fmt headers can shadow
    // the system fmt the binary links.
    for (const auto& [dir, n] : s.tasks_per_dir) std::cout << "[" << dir << "] total puzzles: " << n << "\n";
    for (const auto& [task, n] : s.short_groups)
      std::cout << "[Puzzle " << task << "] augmentation not full, only " << n << "\n";
    std::cout << "Total puzzle IDs (including <blank>): " << s.num_identifiers << "\n";
    std::cout << "wrote " << cfg->output_dir << ": train " << s.train_examples << " examples, " << s.train_puzzles
              << " puzzles, " << s.train_groups << " groups; test " << s.test_examples << " examples, " << s.test_puzzles
              << " puzzles, " << s.test_groups << " groups in " << std::fixed << std::setprecision(1) << secs << " s\n";
    if (s.test_groups == 0)  // as the reference: the test split is the evaluation tasks' test pairs
      std::cout << "note: no test split (no --dataset-dirs folder has an evaluation/ folder); hrm train and hrm eval "
                   "need one\n";
  });
}

}  // namespace hrm::cli
