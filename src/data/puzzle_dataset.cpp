// puzzle_dataset.cpp: see puzzle_dataset.h. Statement order follows puzzle_dataset.py so the two
// read side by side: _iter_train / _sample_batch, _iter_test, _collate_batch.
#include "data/puzzle_dataset.h"

#include <algorithm>

#include "core/check.h"

namespace hrm::data {

PuzzleSampler::PuzzleSampler(const Dataset& dataset, SamplerConfig config) : dataset_(dataset), config_(config) {
  if (config_.global_batch_size <= 0 || config_.num_replicas <= 0 || config_.global_batch_size % config_.num_replicas != 0)
    HRM_THROW(ConfigError, "global_batch_size ", config_.global_batch_size, " must be a positive multiple of num_replicas ",
              config_.num_replicas);
  if (config_.rank < 0 || config_.rank >= config_.num_replicas)
    HRM_THROW(ConfigError, "rank ", config_.rank, " outside [0, num_replicas=", config_.num_replicas, ")");
  if (config_.epochs_per_iter < 1) HRM_THROW(ConfigError, "epochs_per_iter must be >= 1, got ", config_.epochs_per_iter);
  local_batch_size_ = config_.global_batch_size / config_.num_replicas;
}

void PuzzleSampler::rebuild_group_order() {
  // rng = Generator(Philox(seed + iters)); group_order = concat of epochs_per_iter permutations
  rng_ = Rng::derive(config_.seed, static_cast<uint64_t>(st_.iters));
  const int64_t groups = dataset_.sets()[static_cast<size_t>(st_.set_index)].groups();
  group_order_.clear();
  group_order_.reserve(static_cast<size_t>(groups * config_.epochs_per_iter));
  for (int64_t e = 0; e < config_.epochs_per_iter; ++e) {
    const std::vector<int64_t> perm = rng_.permutation(groups);
    group_order_.insert(group_order_.end(), perm.begin(), perm.end());
  }
}

void PuzzleSampler::start_set() {
  st_.position = 0;
  if (config_.test_set_mode) return;
  ++st_.iters;  // one per set and pass, as the reference's self._iters
  rebuild_group_order();
}

bool PuzzleSampler::next(Batch& batch) {
  const int64_t num_sets = static_cast<int64_t>(dataset_.sets().size());
  if (!st_.in_pass) {
    st_.in_pass = true;
    st_.set_index = 0;
    if (num_sets > 0) start_set();
  }
  while (st_.set_index < num_sets) {
    const DatasetSet& set = dataset_.sets()[static_cast<size_t>(st_.set_index)];
    if (config_.test_set_mode ? next_test(set, batch) : next_train(set, batch)) return true;
    if (++st_.set_index < num_sets) start_set();
  }
  st_.in_pass = false;
  return false;
}

bool PuzzleSampler::next_train(const DatasetSet& set, Batch& batch) {
  // _sample_batch: pack whole puzzles' examples (the last one cut) until the global batch is full.
  const int64_t gbs = config_.global_batch_size;
  std::vector<int64_t> examples, puzzles;
  std::vector<int64_t> pick;
  while (st_.position < static_cast<int64_t>(group_order_.size()) && static_cast<int64_t>(examples.size()) < gbs) {
    const int64_t group_id = group_order_[static_cast<size_t>(st_.position)];
    const int64_t puzzle_id = rng_.integers(set.group_indices[static_cast<size_t>(group_id)],
                                            set.group_indices[static_cast<size_t>(group_id) + 1]);
    ++st_.position;
    const int64_t puzzle_start = set.puzzle_indices[static_cast<size_t>(puzzle_id)];
    const int64_t puzzle_size = set.puzzle_indices[static_cast<size_t>(puzzle_id) + 1] - puzzle_start;
    const int64_t append_size = std::min(puzzle_size, gbs - static_cast<int64_t>(examples.size()));
    // np.random.choice(puzzle_size, append_size, replace=False): a partial Fisher-Yates shuffle.
    pick.resize(static_cast<size_t>(puzzle_size));
    for (int64_t i = 0; i < puzzle_size; ++i) pick[static_cast<size_t>(i)] = i;
    for (int64_t i = 0; i < append_size; ++i) {
      std::swap(pick[static_cast<size_t>(i)], pick[static_cast<size_t>(i + rng_.integers(0, puzzle_size - i))]);
      examples.push_back(puzzle_start + pick[static_cast<size_t>(i)]);
      puzzles.push_back(puzzle_id);
    }
  }
  const int64_t global_effective_batch_size = static_cast<int64_t>(examples.size());
  if (global_effective_batch_size < gbs) {  // drop the last, incomplete batch
    st_.position = static_cast<int64_t>(group_order_.size());
    return false;
  }
  const auto lo = examples.begin() + config_.rank * local_batch_size_;
  const std::vector<int64_t> local(lo, lo + local_batch_size_);
  const auto plo = puzzles.begin() + config_.rank * local_batch_size_;
  const std::vector<int64_t> local_puzzles(plo, plo + local_batch_size_);
  collate(set, local, local_puzzles, batch);
  batch.effective_rows = global_effective_batch_size;
  return true;
}

bool PuzzleSampler::next_test(const DatasetSet& set, Batch& batch) {
  const int64_t total_examples = set.examples();
  const int64_t start_index = st_.position;
  if (start_index >= total_examples) return false;
  const int64_t end_index = std::min(total_examples, start_index + config_.global_batch_size);
  const int64_t local_start = start_index + config_.rank * local_batch_size_;
  const int64_t local_end = std::min(start_index + (config_.rank + 1) * local_batch_size_, end_index);
  std::vector<int64_t> examples, puzzles;
  // Puzzle of each example: searchsorted(puzzle_indices, i, side="right") - 1.
  for (int64_t i = local_start; i < local_end; ++i) {
    const auto it = std::upper_bound(set.puzzle_indices.begin(), set.puzzle_indices.end(), static_cast<int32_t>(i));
    examples.push_back(i);
    puzzles.push_back(static_cast<int64_t>(it - set.puzzle_indices.begin()) - 1);
  }
  collate(set, examples, puzzles, batch);
  batch.effective_rows = end_index - start_index;
  st_.position += config_.global_batch_size;
  return true;
}

void PuzzleSampler::collate(const DatasetSet& set, const std::vector<int64_t>& examples,
                            const std::vector<int64_t>& puzzles, Batch& batch) const {
  const DatasetMetadata& m = dataset_.metadata();
  const int64_t L = m.seq_len;
  batch.set_name = set.name;
  batch.rows = local_batch_size_;
  batch.seq_len = L;
  batch.local_real_rows = static_cast<int64_t>(examples.size());
  // Padding rows: pad_id inputs, ignored labels, the blank identifier.
  batch.inputs.assign(static_cast<size_t>(batch.rows * L), static_cast<int32_t>(m.pad_id));
  batch.labels.assign(static_cast<size_t>(batch.rows * L), kIgnoreLabelId);
  batch.puzzle_identifiers.assign(static_cast<size_t>(batch.rows), static_cast<int32_t>(m.blank_identifier_id));
  for (size_t r = 0; r < examples.size(); ++r) {
    int32_t* in = batch.inputs.data() + r * static_cast<size_t>(L);
    int32_t* lab = batch.labels.data() + r * static_cast<size_t>(L);
    set.input_row(examples[r], in);
    set.label_row(examples[r], lab);
    if (m.ignore_label_id)
      for (int64_t k = 0; k < L; ++k)
        if (lab[k] == *m.ignore_label_id) lab[k] = kIgnoreLabelId;
    batch.puzzle_identifiers[r] = set.puzzle_identifiers[static_cast<size_t>(puzzles[r])];  // checked by open()
    // A token outside the vocabulary would otherwise surface much later as the embedding's "index out
    // of range"; checked per batch (the arrays are memory-mapped, never scanned whole).
    set.check_tokens(examples[r], in, lab, m.vocab_size, m.ignore_label_id);
  }
}

SamplerState PuzzleSampler::state() const {
  SamplerState s = st_;
  s.rng_state = rng_.state();
  return s;
}

int64_t PuzzleSampler::test_batches_per_pass() const {
  HRM_CHECK(config_.test_set_mode, "test_batches_per_pass: a training sampler");
  int64_t batches = 0;
  for (const DatasetSet& set : dataset_.sets())
    batches += (set.examples() + config_.global_batch_size - 1) / config_.global_batch_size;
  return batches;
}

SamplerState PuzzleSampler::state_before_pass_end() const {
  HRM_CHECK(!st_.in_pass, "state_before_pass_end: the sampler is inside a pass");
  SamplerState s = state();
  s.in_pass = true;
  s.set_index = static_cast<int64_t>(dataset_.sets().size());
  return s;
}

bool PuzzleSampler::pass_end_pending() const {
  return st_.in_pass && st_.set_index >= static_cast<int64_t>(dataset_.sets().size());
}

void PuzzleSampler::restore(const SamplerState& s) {
  const int64_t num_sets = static_cast<int64_t>(dataset_.sets().size());
  if (s.iters < 0 || s.set_index < 0 || s.set_index > num_sets || s.position < 0)
    HRM_THROW(Error, "sampler state out of range (iters ", s.iters, ", set ", s.set_index, ", position ", s.position, ")");
  st_ = s;
  if (st_.in_pass && !config_.test_set_mode && st_.set_index < num_sets) {
    if (s.rng_state.size() != 4) HRM_THROW(Error, "sampler state: expected 4 RNG words, got ", s.rng_state.size());
    rebuild_group_order();  // a function of (seed, iters, set): regenerated, not stored
    if (st_.position > static_cast<int64_t>(group_order_.size()))
      HRM_THROW(Error, "sampler state: position ", st_.position, " beyond the pass's ", group_order_.size(), " groups");
  }
  // The generator as saved, between passes too (where the next set's start derives it anew): a state
  // saved again before that (a resumed run that only had its last evaluation left) is the
  // uninterrupted run's, bit for bit.
  if (s.rng_state.size() == 4) rng_.set_state(s.rng_state);
}

}  // namespace hrm::data
