// arc_scoring.h: ARC scoring from saved evaluation outputs: un-augment, crop, vote, pass@k, and the
// ARC Prize submission.json.
// Mirrors arc_eval.ipynb (`test`, `inverse_aug`, `crop`) of sapientinc/HRM@42410da.
// Differs: no torch and no notebook; a prediction row is matched to its test example of the stored
// split (by position, or by puzzle identifier and input when the rows come from several ranks), so
// a test input is identified by its position in its puzzle, not by a hash of its un-augmented
// input (the notebook asserts when two test inputs of a task are equal); every row's un-augmented input is checked against its original puzzle's, which catches
// outputs from another dataset or a wrong augmentation name; the answers are also written as a
// submission.json.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "data/arc.h"

namespace hrm::arc {

inline const std::vector<int> kPassKs = {1, 2, 10, 100, 1000};  // the notebook's Ks

// The dataset's test split as scoring needs it: names, puzzle layout and row access.
struct TestSplit {
  std::vector<std::string> identifiers;     // identifiers.json
  std::vector<int32_t> puzzle_identifiers;  // [puzzles]
  std::vector<int32_t> puzzle_indices;      // [puzzles + 1]
  int64_t num_examples = 0;
  // Writes example `row`'s kSeqLen tokens (stored, PAD 0 / EOS 1 / colour + 2) to `out`.
  std::function<void(int64_t row, int32_t* out)> input_row, label_row;
};

// Opens dataset_dir/test (set "all") and identifiers.json; rows stay memory-mapped.
TestSplit load_test_split(const std::string& dataset_dir);

// Evaluation outputs. One process saves row i for test example i, then the padding of the last
// batch (blank identifier 0). A data-parallel evaluation saves each rank's slices of every batch in
// its own file; concatenated, their rows are in another order, and with `inputs` given each test
// example is found by its puzzle identifier and input (the notebook matches by a hash of the input).
struct Predictions {
  int64_t rows = 0;
  const int32_t* tokens = nullptr;              // [rows, kSeqLen] argmax tokens
  const int32_t* puzzle_identifiers = nullptr;  // [rows], checked against the split's layout
  const float* q_halt_logits = nullptr;         // [rows]
  const int32_t* inputs = nullptr;              // [rows, kSeqLen], optional (null: rows in the split's order)
};

// One distinct (un-augmented, cropped) answer to a test input.
struct Candidate {
  Grid grid;
  int64_t votes = 0;    // rows that gave this answer
  double mean_q = 0;    // mean sigmoid(q_halt_logits) over those rows
};

// A row's confidence in the vote: sigmoid(q_halt_logit) in float32, as the notebook's torch sigmoid.
// It is exactly 1 from a logit of ~16.6, so confident answers with equal votes tie and keep their
// first-appearance order there (a double sigmoid would rank them by logit instead).
float vote_confidence(float q_halt_logit);

// The vote of one test input: the distinct answers ranked by count, ties by mean confidence
// (vote_confidence), then by first appearance. `hrm solve` votes its augmented runs with this.
std::vector<Candidate> vote(const std::vector<Grid>& answers, const std::vector<double>& confidences);

struct TestInputResult {
  Grid input, label;
  std::vector<Candidate> ranked;  // by votes, then mean_q, then first appearance (stable)
};

struct TaskResult {
  std::string task_id;
  std::vector<TestInputResult> tests;  // in the task's test order
};

struct Score {
  std::vector<int> ks;
  std::vector<int64_t> tasks_correct;  // per k: tasks whose every test input has its label in the top k
  std::vector<TaskResult> tasks;       // in the order of their original puzzles in the split
  double pass_at(size_t i) const {     // fraction for ks[i]
    return tasks.empty() ? 0.0 : static_cast<double>(tasks_correct[i]) / static_cast<double>(tasks.size());
  }
};

// Votes every test input and counts pass@k; "first appearance" is the test split's order, whatever
// the order of a data-parallel evaluation's rank files (the notebook's is its glob's). FormatError when the predictions do not fit the split
// (a test example without its row, a row of no test example, identifiers), a name has no original
// puzzle, or an un-augmented input differs.
Score score(const TestSplit& split, const Predictions& preds, const std::vector<int>& ks = kPassKs);

// "pass@1 40.25% (161/400)" lines, one per k.
std::string summary(const Score& s);

// The ARC Prize format: {task_id: [{"attempt_1": grid, "attempt_2": grid}, ...]}, one entry per
// test input; attempt_2 repeats attempt_1 when there is only one candidate, and an empty crop is
// written as [[0]] (a grid needs at least one cell).
std::string submission_json(const Score& s);
// One grid of a submission: its rows of colours, [[0]] for an empty crop.
std::vector<std::vector<int>> submission_grid(const Grid& g);
void write_submission(const std::string& path, const Score& s);  // atomically

}  // namespace hrm::arc
