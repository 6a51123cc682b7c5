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

double sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }

const std::string& puzzle_name(const TestSplit& split, size_t p) {
  const int32_t id = split.puzzle_identifiers[p];
  if (id < 0 || static_cast<size_t>(id) >= split.identifiers.size())
    HRM_THROW(FormatError, "test split: puzzle ", p, " has identifier ", id, ", outside identifiers.json (",
              split.identifiers.size(), " names)");
  return split.identifiers[static_cast<size_t>(id)];
}

void check_layout(const TestSplit& split, const Predictions& preds) {
  const size_t puzzles = split.puzzle_identifiers.size();
  if (split.puzzle_indices.size() != puzzles + 1 || split.puzzle_indices.front() != 0 ||
      split.puzzle_indices.back() != split.num_examples)
    HRM_THROW(FormatError, "test split: puzzle_indices must have ", puzzles + 1, " entries from 0 to ", split.num_examples);
  if (preds.rows < split.num_examples)
    HRM_THROW(FormatError, "predictions: ", preds.rows, " rows for ", split.num_examples, " test examples");
  for (size_t p = 0; p < puzzles; ++p) {
    for (int64_t e = split.puzzle_indices[p]; e < split.puzzle_indices[p + 1]; ++e)
      if (preds.puzzle_identifiers[e] != split.puzzle_identifiers[p])
        HRM_THROW(FormatError, "predictions: row ", e, " has puzzle identifier ", preds.puzzle_identifiers[e],
                  ", the test split has ", split.puzzle_identifiers[p], " (", puzzle_name(split, p), ") there");
  }
  for (int64_t e = split.num_examples; e < preds.rows; ++e)
    if (preds.puzzle_identifiers[e] != 0)
      HRM_THROW(FormatError, "predictions: padding row ", e, " has puzzle identifier ", preds.puzzle_identifiers[e],
                ", expected the blank identifier 0");
}

}  // namespace

std::vector<Candidate> vote(const std::vector<Grid>& answers, const std::vector<double>& confidences) {
  HRM_CHECK(answers.size() == confidences.size(), "vote: ", answers.size(), " answers, ", confidences.size(), " confidences");
  Ballot b;
  for (size_t i = 0; i < answers.size(); ++i) b.add(answers[i], confidences[i]);
  return b.ranked();
}

TestSplit load_test_split(const std::string& dataset_dir) {
  auto ds = std::make_shared<data::Dataset>(data::Dataset::open(dataset_dir, "test"));
  const data::DatasetSet& set = ds->set("all");
  HRM_CHECK(ds->metadata().seq_len == kSeqLen, dataset_dir, "/test: seq_len ", ds->metadata().seq_len,
            " is not ARC's ", kSeqLen);
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
  check_layout(split, preds);
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
      const Grid answer = invert(crop(preds.tokens + (first + j) * kSeqLen), name.aug);
      ballots[it->second][j].add(answer, sigmoid(preds.q_halt_logits[first + j]));
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

std::string submission_json(const Score& s) {
  auto grid_json = [](const Grid& g) {
    if (g.rows * g.cols == 0) return nlohmann::json::array({nlohmann::json::array({0})});
    nlohmann::json rows = nlohmann::json::array();
    for (int r = 0; r < g.rows; ++r) {
      nlohmann::json row = nlohmann::json::array();
      for (int c = 0; c < g.cols; ++c) row.push_back(int(g.at(r, c)));
      rows.push_back(std::move(row));
    }
    return rows;
  };
  nlohmann::json out = nlohmann::json::object();
  for (const TaskResult& t : s.tasks) {
    nlohmann::json attempts = nlohmann::json::array();
    for (const TestInputResult& r : t.tests) {
      const Grid none;
      const Grid& a1 = r.ranked.empty() ? none : r.ranked[0].grid;
      const Grid& a2 = r.ranked.size() > 1 ? r.ranked[1].grid : a1;
      attempts.push_back({{"attempt_1", grid_json(a1)}, {"attempt_2", grid_json(a2)}});
    }
    out[t.task_id] = std::move(attempts);
  }
  return out.dump();
}

void write_submission(const std::string& path, const Score& s) { write_file_atomic(path, submission_json(s)); }

}  // namespace hrm::arc
