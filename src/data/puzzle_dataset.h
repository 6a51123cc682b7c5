// puzzle_dataset.h: the batch sampler over a puzzle dataset, train and test iteration.
// Mirrors puzzle_dataset.py (PuzzleDataset, _sample_batch, _collate_batch; SPEC section 3).
// Differs:
// - every draw comes from one explicitly seeded hrm::Rng per pass (Rng::derive(seed, iters)),
//   including the choice of examples within a puzzle, which the reference draws from numpy's
//   global generator (in its DataLoader worker, seeded from torch's generator, which pretrain.py
//   seeds with seed + RANK: ranks may order a puzzle's examples differently, so a puzzle cut at a
//   rank boundary can lose or repeat examples; here every rank draws the same); so batches are
//   reproducible, but not the reference's numbers;
// - the position (pass counter, set, index, RNG state) can be saved and restored for checkpoints;
// - batches are plain int32 vectors (hrm_base has no libtorch).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/rng.h"
#include "data/dataset.h"

namespace hrm::data {

struct SamplerConfig {  // PuzzleDatasetConfig
  uint64_t seed = 0;
  int64_t global_batch_size = 0;
  bool test_set_mode = false;
  int64_t epochs_per_iter = 1;  // permutations of the groups per pass
  int64_t rank = 0;
  int64_t num_replicas = 1;
};

struct Batch {
  std::string set_name;
  std::vector<int32_t> inputs;              // [rows, seq_len]
  std::vector<int32_t> labels;              // [rows, seq_len], ignore_label_id -> -100
  std::vector<int32_t> puzzle_identifiers;  // [rows]
  int64_t rows = 0;     // local batch size (global_batch_size / num_replicas), padding included
  int64_t seq_len = 0;
  int64_t effective_rows = 0;   // real examples in the GLOBAL batch (the reference's 3rd item)
  int64_t local_real_rows = 0;  // real rows of this rank's slice; rows after them are padding
};

// Where iteration stands; restore() continues exactly where state() was taken.
struct SamplerState {
  int64_t iters = 0;       // sets started so far, over all passes (the reference's _iters)
  int64_t set_index = 0;   // set in progress within the pass
  int64_t position = 0;    // train: index into the pass's group order; test: first example of the next batch
  bool in_pass = false;    // false: the next call to next() starts a new pass
  std::vector<uint64_t> rng_state;  // train: the pass RNG at `position`
};

class PuzzleSampler {
 public:
  // Keeps a reference to `dataset`, which must outlive the sampler.
  PuzzleSampler(const Dataset& dataset, SamplerConfig config);

  // Fills `batch` with the next batch of this rank. Returns false at the end of a pass (all sets,
  // as one `for` loop over the reference's dataset); the call after that starts the next pass.
  bool next(Batch& batch);

  SamplerState state() const;
  void restore(const SamplerState& state);
  // Right after next() reported the end of a pass: the state just before that report. Restored,
  // next() reports the end once more, then starts the next pass as it would have (a run stopped
  // between its last training batch and its evaluation resumes at the evaluation).
  SamplerState state_before_pass_end() const;
  // Restored from such a state: the pass's batches are all handed out, its end not yet reported.
  bool pass_end_pending() const;
  // Test mode: the batches of one pass, ceil(examples / global_batch_size) per set.
  int64_t test_batches_per_pass() const;
  int64_t local_batch_size() const { return local_batch_size_; }
  const SamplerConfig& config() const { return config_; }

 private:
  void start_set();
  bool next_train(const DatasetSet& set, Batch& batch);
  bool next_test(const DatasetSet& set, Batch& batch);
  void rebuild_group_order();
  // Copies examples `examples` (puzzle of each in `puzzles`) into batch, then pads (_collate_batch).
  void collate(const DatasetSet& set, const std::vector<int64_t>& examples, const std::vector<int64_t>& puzzles,
               Batch& batch) const;

  const Dataset& dataset_;
  SamplerConfig config_;
  int64_t local_batch_size_ = 0;
  SamplerState st_;
  Rng rng_{0};
  std::vector<int64_t> group_order_;  // of st_.set_index in pass st_.iters
};

}  // namespace hrm::data
