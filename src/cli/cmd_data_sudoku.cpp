// cmd_data_sudoku.cpp: `hrm data sudoku OUT`: builds a Sudoku dataset from the reference's CSVs
// (--train/--test), from puzzle lists it solves itself (--input), or from puzzles it generates
// (--generate). Mirrors dataset/build_sudoku_dataset.py's command line (--subsample-size,
// --min-difficulty, --num-aug); see build_sudoku.h and docs/SUDOKU.md. --size 4 or 6 generates
// small Sudoku instead (mini_sudoku.h), the task of the demo and of the learning test.
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <chrono>
#include <iostream>

#include "cli/data_commands.h"
#include "cli/validators.h"
#include "core/check.h"
#include "core/cores.h"
#include "data/build_sudoku.h"
#include "data/mini_sudoku.h"

namespace hrm::cli {

void register_data_sudoku(CLI::App& data) {
  auto* cmd = data.add_subcommand(
      "sudoku", "Build a Sudoku dataset (token = digit + 1, vocab 11, seq_len 81; a group per puzzle: the puzzle, then "
                "--num-aug shuffled copies in train) from the reference's CSVs, from puzzle lists it solves itself, or "
                "from puzzles it generates; --size 4|6 generates small Sudoku instead (the demo's task)");
  auto cfg = std::make_shared<data::SudokuBuildConfig>();
  auto subsample = std::make_shared<int64_t>(-1);
  auto min_difficulty = std::make_shared<int64_t>(-1);
  auto train_size = std::make_shared<int64_t>(-1);
  auto test_size = std::make_shared<int64_t>(-1);
  auto no_csv = std::make_shared<bool>(false);
  auto on_invalid = std::make_shared<std::string>("error");
  cmd->add_option("output", cfg->output_dir, "output dataset directory (written atomically)")->required();
  auto* train = cmd->add_option("--train", cfg->train_input,
                                "training puzzles: the reference's CSV (source,question,answer,rating; header row) or a "
                                "puzzle list (81 cells a line, '.' or '0' blank; '#' comment lines; after the cells a blank, ':', ';', '|' or '#' starts a comment)")
                    ->check(CLI::ExistingFile);
  auto* test = cmd->add_option("--test", cfg->test_input, "test puzzles (same formats as --train)")->check(CLI::ExistingFile);
  train->needs(test);
  test->needs(train);
  auto* input = cmd->add_option("--input", cfg->inputs,
                                "puzzle lists or CSVs, pooled, cleared of repeats and shuffled copies, split by --train-size/--test-size")
                    ->check(CLI::ExistingFile);
  auto* generate = cmd->add_option("--generate", cfg->generate, "generate this many new unique puzzles, split by --train-size/--test-size")
      ->check(non_negative());
  input->excludes(train)->excludes(test)->excludes(generate);
  generate->excludes(train)->excludes(test);
  cmd->add_option("--min-rating", cfg->min_rating, "--generate: lowest rating of a generated puzzle (guesses, see docs/SUDOKU.md)")
      ->capture_default_str();
  cmd->add_option("--train-size", *train_size, "--input/--generate: training puzzles, drawn with --seed (--size 4|6: default 2000)")
      ->check(non_negative());
  cmd->add_option("--test-size", *test_size, "--input/--generate: test puzzles (default: all the others; --size 4|6: 200)")
      ->check(non_negative());
  cmd->add_option("--subsample-size", *subsample, "keep this many training puzzles, drawn with --seed (default: all)")
      ->check(non_negative());
  cmd->add_option("--min-difficulty", *min_difficulty,
                  "keep puzzles rated >= this: the CSV's rating column, or the computed rating of listed puzzles")
      ->check(non_negative());
  cmd->add_option("--num-aug", cfg->num_aug, "shuffled copies of each training puzzle (9x9 only)")->capture_default_str()
      ->check(non_negative());
  cmd->add_option("--seed", cfg->seed, "seed of every random draw (subsample, split, shuffles, generator)")->capture_default_str()
      ->check(non_negative());  // -1 would silently become 2^64 - 1
  cmd->add_option("--on-invalid", *on_invalid, "a listed puzzle with no or several solutions: skip (and count) or error")
      ->check(CLI::IsMember({"skip", "error"}))
      ->capture_default_str();
  cmd->add_flag("--no-csv", *no_csv, "do not save each split's puzzles as <output>/input/{train,test}.csv");
  auto size = std::make_shared<int>(9);
  auto blanks = std::make_shared<int>(-1);
  cmd->add_option("--size", *size,
                  "9: Sudoku proper; 4 or 6: generate small Sudoku (2x2 or 2x3 boxes; token = digit + 1, vocab size + 2) "
                  "split by --train-size/--test-size, with no test solution grid in training")
      ->check(CLI::IsMember({4, 6, 9}))
      ->capture_default_str();
  cmd->add_option("--blanks", *blanks, "--size 4|6: blank cells per puzzle, kept while the solution stays unique "
                                       "(default size*size/2 + 2)")
      ->check(non_negative());
  cmd->add_option("--threads", cfg->threads, "worker threads (default: all cores; output does not depend on it)")
      ->check(thread_count());
  cfg->threads = 0;
  cmd->callback([=] {
    if (*size != 9) {
      for (const char* opt : {"--train", "--test", "--input", "--generate", "--min-rating", "--subsample-size",
                              "--min-difficulty", "--num-aug", "--on-invalid", "--no-csv"})
        if (cmd->count(opt)) HRM_THROW(ConfigError, "hrm data sudoku --size ", *size, ": ", opt, " applies to 9x9 Sudoku only");
      data::MiniSudokuBuildConfig m;
      m.output_dir = cfg->output_dir;
      m.size = *size;
      m.blanks = *blanks;
      m.seed = cfg->seed;
      if (*train_size >= 0) m.train_size = *train_size;
      if (*test_size >= 0) m.test_size = *test_size;
      const auto t0 = std::chrono::steady_clock::now();
      const data::MiniSudokuBuildSummary s = data::build_mini_sudoku_dataset(m);
      const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      std::cout << fmt::format("wrote {}: {}x{} Sudoku, train {} puzzles, test {} puzzles (solution grids not in train), "
                               "{:.1f} blanks on average, in {:.1f} s\n",
                               m.output_dir, m.size, m.size, s.train_puzzles, s.test_puzzles, s.mean_blanks, secs);
      return;
    }
    if (cmd->count("--blanks")) HRM_THROW(ConfigError, "hrm data sudoku: --blanks applies to --size 4|6 only");
    data::SudokuBuildConfig c = *cfg;
    if (*subsample >= 0) c.subsample_size = *subsample;
    if (*min_difficulty >= 0) c.min_difficulty = *min_difficulty;
    if (*train_size >= 0) c.train_size = *train_size;
    if (*test_size >= 0) c.test_size = *test_size;
    c.on_invalid = *on_invalid == "skip" ? data::OnInvalid::kSkip : data::OnInvalid::kError;
    c.save_csv = !*no_csv;
    if (c.threads <= 0) c.threads = static_cast<int>(usable_cores());
    const auto t0 = std::chrono::steady_clock::now();
    const data::SudokuBuildSummary s = data::build_sudoku_dataset(c);
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::cout << fmt::format("read {} puzzles", s.read);
    if (s.duplicates) std::cout << fmt::format(", {} repeats dropped", s.duplicates);
    if (s.unsolvable || s.multiple)
      std::cout << fmt::format(", skipped {} without and {} with several solutions", s.unsolvable, s.multiple);
    if (s.below_min_difficulty) std::cout << fmt::format(", {} below --min-difficulty", s.below_min_difficulty);
    std::cout << fmt::format("\nwrote {}: train {} puzzles ({} examples, mean rating {:.1f}), test {} puzzles "
                             "({} examples, mean rating {:.1f}) in {:.1f} s\n",
                             c.output_dir, s.train_puzzles, s.train_examples, s.mean_train_rating, s.test_puzzles,
                             s.test_examples, s.mean_test_rating, secs);
    if (s.test_in_train)  // kept, as the reference would: the files are the user's to choose
      std::cerr << fmt::format("warning: {} of the {} test puzzles are also training puzzles, or shuffles of them ({} and {}): "
                               "the test score will not measure generalisation\n",
                               s.test_in_train, s.test_puzzles, c.train_input, c.test_input);
  });
}

}  // namespace hrm::cli
