// arc_scoring.cpp: voting, pass@k and submission.json (see arc_scoring.h; mirrors arc_eval.ipynb
// of sapientinc/HRM@42410da).
#include "data/arc_scoring.h"

#include <algorithm>
#include <cmath>
#include <fmt/format.h>
#include <map>
#include <nlohmann/json.hpp>
#include <unordered_map>

#include "core/atomic_file.h"
#include "core/check.h"
#include "data/dataset.h"

namespace hrm::arc {
namespace {

std::string grid_key(const Grid& g) {
  std::string k;
  k.push_back(static_cast<char>(g.rows));
  k.push_back(static_cast<char>(g.cols));
  k.append(g.cells.begin(), g.cells.end());
  return k;
}

// Votes of one test input, in order of first appearance until ranked.
struct Ballot {
  std::vector<Candidate> candidates;
  std::vector<double> q_sums;
  std::unordered_map<std::string, size_t> index;

  void add(Grid g, double q) {
    const auto [it, fresh] = index.emplace(grid_key(g), candidates.size());
    if (fresh) {
      candidates.push_back({std::move(g), 0, 0.0});
      q_sums.push_back(0.0);
    }
    candidates[it->second].votes += 1;
    q_sums[it->second] += q;
  }

  std::vector<Candidate> ranked() {
    for (size_t i = 0; i < candidates.size(); ++i) candidates[i].mean_q = q_sums[i] / static_cast<double>(candidates[i].votes);
    std::vector<Candidate> out = candidates;
    // The notebook: sorted(key=[count, mean q], reverse=True), stable for equal keys.
    std::stable_sort(out.begin(), out.end(), [](const Candidate& a, const Candidate& b) {
      return a.votes != b.votes ? a.votes > b.votes : a.mean_q > b.mean_q;
    });
    return out;
  }
};

const std::string& puzzle_name(const TestSplit& split, size_t p) {
  const int32_t id = split.puzzle_identifiers[p];
  if (id < 0 || static_cast<size_t>(id) >= split.identifiers.size())
    HRM_THROW(FormatError, "test split: puzzle ", p, " has identifier ", id, ", outside identifiers.json (",
              split.identifiers.size(), " names)");
  return split.identifiers[static_cast<size_t>(id)];
}

void check_puzzle_indices(const TestSplit& split) {
  const size_t puzzles = split.puzzle_identifiers.size();
  if (split.puzzle_indices.size() != puzzles + 1 || split.puzzle_indices.front() != 0 ||
      split.puzzle_indices.back() != split.num_examples)
    HRM_THROW(FormatError, "test split: puzzle_indices must have ", puzzles + 1, " entries from 0 to ", split.num_examples);
}

// The split's puzzle of every test example.
std::vector<size_t> puzzle_of_examples(const TestSplit& split) {
  std::vector<size_t> of(static_cast<size_t>(split.num_examples));
  for (size_t p = 0; p + 1 < split.puzzle_indices.size(); ++p)
    for (int64_t e = split.puzzle_indices[p]; e < split.puzzle_indices[p + 1]; ++e) of[static_cast<size_t>(e)] = p;
  return of;
}

// Row i answers example i (one process), checked by identifier, and by input where given.
bool rows_in_split_order(const TestSplit& split, const Predictions& preds, const std::vector<size_t>& puzzle_of) {
  if (preds.rows < split.num_examples) return false;
  std::vector<int32_t> row(kSeqLen);
  for (int64_t e = 0; e < split.num_examples; ++e) {
    if (preds.puzzle_identifiers[e] != split.puzzle_identifiers[puzzle_of[static_cast<size_t>(e)]]) return false;
    if (preds.inputs) {
      split.input_row(e, row.data());
      if (!std::equal(row.begin(), row.end(), preds.inputs + e * kSeqLen)) return false;
    }
  }
  for (int64_t e = split.num_examples; e < preds.rows; ++e)
    if (preds.puzzle_identifiers[e] != 0) return false;
  return true;
}

std::string row_key(int32_t puzzle_identifier, const int32_t* input) {
  std::string k(reinterpret_cast<const char*>(&puzzle_identifier), sizeof puzzle_identifier);
  k.append(reinterpret_cast<const char*>(input), kSeqLen * sizeof(int32_t));
  return k;
}

// The prediction row of every test example: by position when the rows are in the split's order,
// else by (puzzle identifier, input). Rows with the blank identifier 0 are padding.
std::vector<int64_t> match_rows(const TestSplit& split, const Predictions& preds) {
  check_puzzle_indices(split);
  const std::vector<size_t> puzzle_of = puzzle_of_examples(split);
  std::vector<int64_t> row_of(static_cast<size_t>(split.num_examples));
  if (rows_in_split_order(split, preds, puzzle_of)) {
    for (int64_t e = 0; e < split.num_examples; ++e) row_of[static_cast<size_t>(e)] = e;
    return row_of;
  }
  if (!preds.inputs) {  // no way to find the rows: name the first that is out of place
    if (preds.rows < split.num_examples)
      HRM_THROW(FormatError, "predictions: ", preds.rows, " rows for ", split.num_examples, " test examples");
    for (int64_t e = 0; e < split.num_examples; ++e) {
      const size_t p = puzzle_of[static_cast<size_t>(e)];
      if (preds.puzzle_identifiers[e] != split.puzzle_identifiers[p])
        HRM_THROW(FormatError, "predictions: row ", e, " has puzzle identifier ", preds.puzzle_identifiers[e],
                  ", the test split has ", split.puzzle_identifiers[p], " (", puzzle_name(split, p), ") there",
                  " (save the inputs too, and rows in another order are matched by their input)");
    }
    for (int64_t e = split.num_examples; e < preds.rows; ++e)
      if (preds.puzzle_identifiers[e] != 0)
        HRM_THROW(FormatError, "predictions: padding row ", e, " has puzzle identifier ", preds.puzzle_identifiers[e],
                  ", expected the blank identifier 0");
  }
  std::unordered_map<std::string, std::vector<int64_t>> rows_of_key;  // in row order, taken from the back
  for (int64_t r = preds.rows - 1; r >= 0; --r)
    if (preds.puzzle_identifiers[r] != 0)
      rows_of_key[row_key(preds.puzzle_identifiers[r], preds.inputs + r * kSeqLen)].push_back(r);
  std::vector<int32_t> input(kSeqLen);
  for (int64_t e = 0; e < split.num_examples; ++e) {
    const size_t p = puzzle_of[static_cast<size_t>(e)];
    split.input_row(e, input.data());
    const auto it = rows_of_key.find(row_key(split.puzzle_identifiers[p], input.data()));
    if (it == rows_of_key.end() || it->second.empty())
      HRM_THROW(FormatError, "predictions: no row answers test example ", e, " (", puzzle_name(split, p),
                "): none has its puzzle identifier ", split.puzzle_identifiers[p], " and its input (",
                preds.rows, " rows for ", split.num_examples, " test examples)");
    row_of[static_cast<size_t>(e)] = it->second.back();
    it->second.pop_back();
  }
  for (const auto& [key, rows] : rows_of_key)
    if (!rows.empty())
      HRM_THROW(FormatError, "predictions: row ", rows.back(), " (puzzle identifier ", preds.puzzle_identifiers[rows.back()],
                ") answers no test example of the split: its input is not the split's, or it is there twice");
  return row_of;
}

}  // namespace

float vote_confidence(float q_halt_logit) { return 1.f / (1.f + std::exp(-q_halt_logit)); }

std::vector<Candidate> vote(const std::vector<Grid>& answers, const std::vector<double>& confidences) {
  HRM_CHECK(answers.size() == confidences.size(), "vote: ", answers.size(), " answers, ", confidences.size(), " confidences");
  Ballot b;
  for (size_t i = 0; i < answers.size(); ++i) b.add(answers[i], confidences[i]);
  return b.ranked();
}

TestSplit load_test_split(const std::string& dataset_dir) {
  auto ds = std::make_shared<data::Dataset>(data::Dataset::open(dataset_dir, "test"));
  const data::DatasetSet& set = ds->set("all");
  if (ds->metadata().seq_len != kSeqLen || ds->metadata().vocab_size != kVocabSize)
    HRM_THROW(FormatError, dataset_dir, "/test/dataset.json: seq_len ", ds->metadata().seq_len, " and vocab_size ",
              ds->metadata().vocab_size, " are not ARC's ", kSeqLen, " and ", kVocabSize, ": not an ARC dataset (hrm data arc)");
  TestSplit split;
  split.identifiers = data::read_identifiers(dataset_dir);
  split.puzzle_identifiers = set.puzzle_identifiers;
  split.puzzle_indices = set.puzzle_indices;
  split.num_examples = set.examples();
  split.input_row = [ds, &set](int64_t row, int32_t* out) { set.input_row(row, out); };
  split.label_row = [ds, &set](int64_t row, int32_t* out) { set.label_row(row, out); };
  return split;
}

Score score(const TestSplit& split, const Predictions& preds, const std::vector<int>& ks) {
  const std::vector<int64_t> row_of = match_rows(split, preds);
  const size_t puzzles = split.puzzle_identifiers.size();
  Score s;
  s.ks = ks;
  std::map<std::string, size_t> task_of;  // task id -> index in s.tasks
  std::vector<int32_t> row(kSeqLen);

  // Originals first: their cropped inputs and labels are the ground truth (the notebook's
  // puzzle_labels, from the names without an augmentation).
  for (size_t p = 0; p < puzzles; ++p) {
    const PuzzleName name = parse_puzzle_name(puzzle_name(split, p));
    if (name.augmented) continue;
    if (!task_of.emplace(name.task_id, s.tasks.size()).second)
      HRM_THROW(FormatError, "test split: task ", name.task_id, " has two original puzzles");
    TaskResult t{name.task_id, {}};
    for (int64_t e = split.puzzle_indices[p]; e < split.puzzle_indices[p + 1]; ++e) {
      TestInputResult r;
      split.input_row(e, row.data());
      r.input = crop(row.data());
      split.label_row(e, row.data());
      r.label = crop(row.data());
      t.tests.push_back(std::move(r));
    }
    s.tasks.push_back(std::move(t));
  }

  std::vector<std::vector<Ballot>> ballots(s.tasks.size());
  for (size_t i = 0; i < s.tasks.size(); ++i) ballots[i].resize(s.tasks[i].tests.size());
  for (size_t p = 0; p < puzzles; ++p) {
    const std::string& full = puzzle_name(split, p);
    const PuzzleName name = parse_puzzle_name(full);
    const auto it = task_of.find(name.task_id);
    if (it == task_of.end()) HRM_THROW(FormatError, "test split: puzzle ", full, " has no original puzzle ", name.task_id);
    TaskResult& task = s.tasks[it->second];
    const int64_t first = split.puzzle_indices[p], count = split.puzzle_indices[p + 1] - first;
    if (count != static_cast<int64_t>(task.tests.size()))
      HRM_THROW(FormatError, "test split: puzzle ", full, " has ", count, " examples, its original ", task.tests.size());
    for (int64_t j = 0; j < count; ++j) {
      split.input_row(first + j, row.data());
      if (invert(crop(row.data()), name.aug) != task.tests[j].input)
        HRM_THROW(FormatError, "test split: example ", first + j, " (", full, ", test input ", j,
                  "): its un-augmented input differs from the original's");
      const int64_t r = row_of[static_cast<size_t>(first + j)];
      const Grid answer = invert(crop(preds.tokens + r * kSeqLen), name.aug);
      ballots[it->second][j].add(answer, vote_confidence(preds.q_halt_logits[r]));
    }
  }

  s.tasks_correct.assign(ks.size(), 0);
  for (size_t i = 0; i < s.tasks.size(); ++i) {
    std::vector<bool> all_right(ks.size(), true);
    for (size_t j = 0; j < s.tasks[i].tests.size(); ++j) {
      TestInputResult& r = s.tasks[i].tests[j];
      r.ranked = ballots[i][j].ranked();
      for (size_t k = 0; k < ks.size(); ++k) {
        const size_t top = std::min(r.ranked.size(), static_cast<size_t>(std::max(ks[k], 0)));
        bool hit = false;
        for (size_t c = 0; c < top && !hit; ++c) hit = r.ranked[c].grid == r.label;
        all_right[k] = all_right[k] && hit;
      }
    }
    for (size_t k = 0; k < ks.size(); ++k) s.tasks_correct[k] += all_right[k];
  }
  return s;
}

std::string summary(const Score& s) {
  std::string out;
  for (size_t k = 0; k < s.ks.size(); ++k)
    out += fmt::format("pass@{} {:.2f}% ({}/{})\n", s.ks[k], 100.0 * s.pass_at(k), s.tasks_correct[k], s.tasks.size());
  return out;
}

std::vector<std::vector<int>> submission_grid(const Grid& g) {
  if (g.rows * g.cols == 0) return {{0}};
  std::vector<std::vector<int>> rows(static_cast<size_t>(g.rows));
  for (int r = 0; r < g.rows; ++r)
    for (int c = 0; c < g.cols; ++c) rows[static_cast<size_t>(r)].push_back(int(g.at(r, c)));
  return rows;
}

std::string submission_json(const Score& s) {
  nlohmann::json out = nlohmann::json::object();
  for (const TaskResult& t : s.tasks) {
    nlohmann::json attempts = nlohmann::json::array();
    for (const TestInputResult& r : t.tests) {
      const Grid none;
      const Grid& a1 = r.ranked.empty() ? none : r.ranked[0].grid;
      const Grid& a2 = r.ranked.size() > 1 ? r.ranked[1].grid : a1;
      attempts.push_back({{"attempt_1", submission_grid(a1)}, {"attempt_2", submission_grid(a2)}});
    }
    out[t.task_id] = std::move(attempts);
  }
  return out.dump();
}

void write_submission(const std::string& path, const Score& s) { write_file_atomic(path, submission_json(s)); }

}  // namespace hrm::arc
