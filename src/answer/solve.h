// solve.h: a trained checkpoint answering raw puzzles, for `hrm solve`.
// The reference has no such entry point: its evaluate.py only scores a built test split. Here a
// checkpoint and its all_config.yaml become a model on the CPU (or a chosen device), token rows
// made by puzzle_text.h go through the ACT loop, and each row's answer, segments used and halting
// Q-values come back. ARC tasks are answered with test-time augmentation and the voting of
// arc_scoring.h.
// The header has no torch (pimpl), so `hrm solve`'s command file compiles without libtorch.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "data/arc.h"
#include "data/arc_scoring.h"

namespace hrm::answer {

struct SolverOptions {
  std::string checkpoint;               // RUN_DIR/step_N; RUN_DIR/all_config.yaml gives the architecture
  std::string data_dir;                 // the training dataset; empty: data_path of all_config.yaml
  std::string device = "cpu";           // cpu | cuda | cuda:N
  std::vector<std::string> overrides;   // further all_config.yaml key=value (e.g. arch.forward_dtype=float32)
  bool resize_puzzle_emb = false;       // a puzzle-embedding table of another row count: resize (io::LoadOptions)
};

// When a row stops: after halt_max_steps segments, as the reference evaluates (every row runs
// them all), or at the first segment whose q_halt_logit exceeds its q_continue_logit (the halting
// rule of training, without exploration), at the latest after halt_max_steps.
enum class Halting { kMaxSteps, kQ };

struct ModelAnswer {
  std::vector<int32_t> tokens;  // argmax of the logits at the halting segment, [seq_len]
  int steps = 0;                // segments run for this row
  double q_halt_logit = 0, q_continue_logit = 0;
  double confidence() const;    // sigmoid(q_halt_logit): the model's estimate that the answer is right
};

class Solver {
 public:
  // Reads the config, the dataset's metadata (seq_len, vocab, identifiers) and the weights.
  // Without the dataset, vocab and identifier count come from the checkpoint's tensor shapes and
  // seq_len from its learned position embedding; a RoPE checkpoint then needs the dataset
  // (ConfigError naming what to pass).
  explicit Solver(const SolverOptions& options);
  ~Solver();
  Solver(const Solver&) = delete;
  Solver& operator=(const Solver&) = delete;

  int64_t seq_len() const;
  int64_t vocab_size() const;
  int64_t num_puzzle_identifiers() const;
  int halt_max_steps() const;
  // identifiers.json of the dataset (empty without it), and a name's identifier or 0 (blank).
  const std::vector<std::string>& identifiers() const;
  int32_t identifier_of(const std::string& name) const;

  // Throws ConfigError when the checkpoint's seq_len or vocabulary differs from the puzzle's:
  // "<checkpoint> was trained on seq_len 81 and vocab 11 (sudoku); this maze needs 900 and 6".
  void check_fits(int64_t seq_len, int64_t vocab_size, const std::string& what) const;

  // One answer per row (inputs: rows of seq_len tokens < vocab; ids: one per row), in batches.
  static constexpr int64_t kBatchRows = 64;
  std::vector<ModelAnswer> run(const std::vector<std::vector<int32_t>>& inputs, const std::vector<int32_t>& ids,
                               Halting halting, int64_t batch_size = kBatchRows);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// ---- ARC by test-time augmentation ----
struct ArcTestAnswer {
  arc::Grid attempt_1, attempt_2;           // the two best-voted answers (attempt_2 = attempt_1 if only one)
  std::vector<arc::Candidate> ranked;       // every distinct answer, by votes then mean confidence
  int64_t runs = 0;                         // augmented copies voted
  double mean_steps = 0;
};

struct ArcSolveResult {
  std::vector<ArcTestAnswer> tests;  // one per test input of the task
  // Augmentations run, and the identifier each used: the dataset's identifiers of the task's
  // names ("<id>" and "<id>_t<k>_<colours>") when the task was in the training data (its puzzle
  // embeddings were trained), else the blank identifier 0 with freshly drawn augmentations.
  std::vector<arc::Augmentation> augmentations;
  std::vector<int32_t> identifiers;
  bool known_task = false;
};

// Runs every test input of `task` under the identity and up to `num_aug` augmentations, undoes
// each augmentation on the cropped answer, and votes (arc::vote).
ArcSolveResult solve_arc(Solver& solver, const arc::Task& task, int num_aug, Halting halting, uint64_t seed = 0);

}  // namespace hrm::answer
