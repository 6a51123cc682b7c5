// cmd_data_maze.cpp: `hrm data maze OUT`: builds a maze dataset from the reference's CSVs
// (--input DIR with train.csv and test.csv) or from mazes it generates (the default).
// Mirrors dataset/build_maze_dataset.py's command line (--subsample-size, --aug); see build_maze.h.
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <chrono>
#include <iostream>

#include "cli/data_commands.h"
#include "cli/validators.h"
#include "core/check.h"
#include "core/cores.h"
#include "data/build_maze.h"

namespace hrm::cli {

void register_data_maze(CLI::App& data) {
  auto* cmd = data.add_subcommand(
      "maze", "Build a 30x30 maze dataset (tokens '# SGo' -> 1..5) from the reference's CSVs (--input) or generate "
              "Maze-Hard-like mazes: random walls, random start and goal, shortest path by BFS, kept when longer than "
              "--min-path-length; no duplicates, no wall layout in both splits");
  auto cfg = std::make_shared<data::MazeBuildConfig>();
  auto subsample = std::make_shared<int64_t>(-1);
  auto no_check = std::make_shared<bool>(false);
  auto no_csv = std::make_shared<bool>(false);
  cmd->add_option("output", cfg->output_dir, "output dataset directory (written atomically)")->required();
  cmd->add_option("--input", cfg->input_dir, "directory with train.csv and test.csv (source,question,answer,rating); "
                                             "without it the mazes are generated")
      ->check(CLI::ExistingDirectory);
  cmd->add_flag("--aug", cfg->aug, "add the 8 dihedral transforms of every training maze (one group per maze)");
  cmd->add_option("--subsample-size", *subsample, "keep this many training mazes, drawn with --seed (default: all)")
      ->check(non_negative());
  cmd->add_option("--seed", cfg->seed, "seed of the generator and of --subsample-size")->capture_default_str()
      ->check(non_negative());  // -1 would silently become 2^64 - 1
  cmd->add_flag("--no-check", *no_check, "do not check that each CSV answer is a shortest path");
  cmd->add_option("--train-size", cfg->train_size, "generated training mazes")->capture_default_str()
      ->check(non_negative());
  cmd->add_option("--test-size", cfg->test_size, "generated test mazes")->capture_default_str()
      ->check(non_negative());
  cmd->add_option("--min-path-length", cfg->generator.min_path_length,
                  "keep generated mazes whose shortest path is longer than this many moves (Maze-Hard: 110)")
      ->capture_default_str()
      ->check(non_negative());
  cmd->add_option("--wall-min", cfg->generator.wall_min, "lowest fraction of wall cells")->capture_default_str();
  cmd->add_option("--wall-max", cfg->generator.wall_max, "highest fraction of wall cells")->capture_default_str();
  cmd->add_option("--side", cfg->generator.side, "side of generated mazes")->capture_default_str()
      ->check(non_negative());
  cmd->add_flag("--no-csv", *no_csv, "do not save the generated mazes as <output>/input/{train,test}.csv");
  cmd->add_option("--threads", cfg->threads, "generator threads (default: all cores; output does not depend on it)")
      ->check(thread_count());
  cfg->threads = 0;
  cmd->callback([=] {
    if (!cfg->input_dir.empty())  // they would be ignored: an import keeps the CSVs' mazes
      for (const char* generator_only : {"--train-size", "--test-size", "--min-path-length", "--wall-min", "--wall-max",
                                         "--side", "--no-csv"})
        if (cmd->count(generator_only) > 0)
          HRM_THROW(ConfigError, generator_only, " applies to generated mazes; --input imports its CSVs as they are (",
                    "--subsample-size N keeps N training mazes)");
    // hrm tells a dataset's kind from its shape (data::task_kind), and a 4x4 maze has a 4x4 Sudoku's:
    // data info, report and solve would draw it, and answer it, as a Sudoku.
    if (cfg->generator.side == 4)
      HRM_THROW(ConfigError, "--side 4: a 4x4 maze has the shape of a 4x4 Sudoku (16 cells, vocabulary 6), which hrm ",
                "could not tell apart; choose another side");
    data::MazeBuildConfig c = *cfg;
    if (*subsample >= 0) c.subsample_size = *subsample;
    c.check = !*no_check;
    c.save_csv = !*no_csv;
    if (c.threads <= 0) c.threads = static_cast<int>(usable_cores());
    const auto t0 = std::chrono::steady_clock::now();
    const data::MazeBuildSummary s = data::build_maze_dataset(c);
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::cout << fmt::format("wrote {}: train {} examples, test {} examples", c.output_dir, s.train_examples, s.test_examples);
    if (c.input_dir.empty()) std::cout << fmt::format(" ({} generator attempts)", s.attempts);
    std::cout << fmt::format(" in {:.1f} s\n", secs);
  });
}

}  // namespace hrm::cli
