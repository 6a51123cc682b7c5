// test_puzzle_dataset.cpp: tests src/data/puzzle_dataset.cpp, the structure of the reference's
// sampling (SPEC section 3): each group once per epoch, one puzzle per group draw, its examples
// without replacement, full batches only; test mode in file order with padding; rank slices that
// partition the global batch; determinism for a seed; resuming from a saved state.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <set>

#include "core/check.h"
#include "data/puzzle_dataset.h"
#include "test_paths.h"
#include "test_support.h"

namespace hrm::data {
namespace {

using hrm::testing::kDatasetFixtures;

// 9 groups of 1-3 puzzles of 1-4 examples; input row = {example, puzzle, group}, label row =
// {example % 3, 1, 2} (0 is the ignore id), puzzle identifier = puzzle + 1 (0 is the blank).
struct Synthetic {
  fs::path root;
  std::vector<int32_t> group_of_puzzle;
  Synthetic() {
    root = fs::temp_directory_path() / ("hrm_test_sampler_" + std::to_string(::getpid()));
    fs::remove_all(root);
    DatasetWriter w(root);
    SplitWriter& s = w.split("train", 3, 1000);
    int32_t ex = 0, puzzle = 0;
    for (int32_t g = 0; g < 9; ++g) {
      s.begin_group();
      for (int p = 0; p < 1 + g % 3; ++p, ++puzzle) {
        s.begin_puzzle(puzzle + 1);
        group_of_puzzle.push_back(g);
        for (int k = 0; k < 1 + (g + p) % 4; ++k, ++ex) {
          const int32_t in[3] = {ex, puzzle, g}, lab[3] = {ex % 3, 1, 2};
          s.add_example(in, lab);
        }
      }
    }
    DatasetMetadata m;
    m.pad_id = 7;
    m.ignore_label_id = 0;
    m.blank_identifier_id = 0;
    m.num_puzzle_identifiers = puzzle + 1;
    s.finish(m);
    w.commit({});
  }
  ~Synthetic() { fs::remove_all(root); }
};

std::vector<Batch> drain(PuzzleSampler& s) {
  std::vector<Batch> out;
  Batch b;
  while (s.next(b)) out.push_back(b);
  return out;
}

SamplerConfig config(uint64_t seed, int64_t gbs, bool test = false, int64_t epochs = 1, int64_t rank = 0, int64_t replicas = 1) {
  SamplerConfig c;
  c.seed = seed;
  c.global_batch_size = gbs;
  c.test_set_mode = test;
  c.epochs_per_iter = epochs;
  c.rank = rank;
  c.num_replicas = replicas;
  return c;
}

int32_t at(const Batch& b, int64_t row, int64_t col) { return b.inputs[static_cast<size_t>(row * b.seq_len + col)]; }

class Sampler : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { data_ = new Synthetic(); }
  static void TearDownTestSuite() { delete data_; }
  Dataset open() const { return Dataset::open(data_->root, "train"); }
  static Synthetic* data_;
};
Synthetic* Sampler::data_ = nullptr;

TEST_F(Sampler, BatchSizeOneVisitsEveryGroupOncePerEpoch) {
  const Dataset d = open();
  PuzzleSampler s(d, config(3, 1, false, 4));
  const auto batches = drain(s);
  ASSERT_EQ(batches.size(), 9u * 4);
  for (int epoch = 0; epoch < 4; ++epoch) {
    std::set<int32_t> groups;
    for (int i = 0; i < 9; ++i) groups.insert(at(batches[static_cast<size_t>(epoch * 9 + i)], 0, 2));
    EXPECT_EQ(groups.size(), 9u) << "epoch " << epoch;
  }
}

TEST_F(Sampler, TrainBatchesPackWholePuzzlesWithoutRepeatsAndDropTheRemainder) {
  const Dataset d = open();
  const DatasetSet& set = d.sets()[0];
  for (int64_t gbs : {1, 2, 3, 5, 8}) {
    SCOPED_TRACE("global batch " + std::to_string(gbs));
    PuzzleSampler s(d, config(11, gbs));
    std::vector<int32_t> examples, puzzles;  // every row of the pass, in order
    for (const Batch& b : drain(s)) {
      ASSERT_EQ(b.rows, gbs);
      EXPECT_EQ(b.effective_rows, gbs);  // only full batches: the last partial one is dropped
      EXPECT_EQ(b.local_real_rows, gbs);
      for (int64_t r = 0; r < b.rows; ++r) {
        const int32_t ex = at(b, r, 0), puzzle = at(b, r, 1);
        examples.push_back(ex);
        puzzles.push_back(puzzle);
        EXPECT_GE(ex, set.puzzle_indices[static_cast<size_t>(puzzle)]);
        EXPECT_LT(ex, set.puzzle_indices[static_cast<size_t>(puzzle) + 1]);
        EXPECT_EQ(b.puzzle_identifiers[static_cast<size_t>(r)], puzzle + 1);
        EXPECT_EQ(b.labels[static_cast<size_t>(r * 3)], ex % 3 == 0 ? kIgnoreLabelId : ex % 3);  // ignore id -> -100
      }
    }
    EXPECT_EQ(std::set<int32_t>(examples.begin(), examples.end()).size(), examples.size()) << "an example drawn twice";
    // One puzzle per group and epoch; within a batch its rows are contiguous and complete, except for
    // the batch's last puzzle, which is cut to fill the batch (the rest of it is not used).
    std::map<int32_t, int32_t> puzzle_of_group;
    for (size_t i = 0; i < puzzles.size();) {
      size_t j = i;
      while (j < puzzles.size() && puzzles[j] == puzzles[i] && (j == i || j % static_cast<size_t>(gbs) != 0)) ++j;
      const int32_t p = puzzles[i], g = data_->group_of_puzzle[static_cast<size_t>(p)];
      EXPECT_TRUE(puzzle_of_group.emplace(g, p).second) << "group " << g << " drawn twice in one epoch";
      const int32_t size = set.puzzle_indices[static_cast<size_t>(p) + 1] - set.puzzle_indices[static_cast<size_t>(p)];
      if (j % static_cast<size_t>(gbs) != 0) {
        EXPECT_EQ(static_cast<int32_t>(j - i), size) << "puzzle " << p;
      } else {
        EXPECT_LE(static_cast<int32_t>(j - i), size);
      }
      i = j;
    }
    if (gbs == 1) {
      EXPECT_EQ(puzzle_of_group.size(), 9u);
    }
  }
}

TEST_F(Sampler, SameSeedSameBatchesOtherSeedOtherOrderAndNextPassDiffers) {
  const Dataset d = open();
  PuzzleSampler a(d, config(5, 4, false, 2));
  PuzzleSampler b(d, config(5, 4, false, 2));
  PuzzleSampler c(d, config(6, 4, false, 2));
  const auto x = drain(a), y = drain(b), z = drain(c);
  ASSERT_EQ(x.size(), y.size());
  bool differs = false;
  for (size_t i = 0; i < x.size(); ++i) {
    EXPECT_EQ(x[i].inputs, y[i].inputs);
    EXPECT_EQ(x[i].labels, y[i].labels);
    EXPECT_EQ(x[i].puzzle_identifiers, y[i].puzzle_identifiers);
    differs |= i >= z.size() || x[i].inputs != z[i].inputs;
  }
  EXPECT_TRUE(differs);
  const auto second_pass = drain(a);  // the call after the end of a pass starts the next one
  ASSERT_FALSE(second_pass.empty());
  EXPECT_NE(second_pass[0].inputs, x[0].inputs);
  EXPECT_EQ(a.state().iters, 2);
}

TEST_F(Sampler, RankSlicesPartitionTheGlobalBatch) {
  const Dataset d = open();
  for (bool test_mode : {false, true}) {
    PuzzleSampler whole(d, config(9, 6, test_mode));
    const auto global = drain(whole);
    std::vector<std::vector<Batch>> ranks;
    for (int64_t r = 0; r < 3; ++r) {
      PuzzleSampler s(d, config(9, 6, test_mode, 1, r, 3));
      ranks.push_back(drain(s));
      ASSERT_EQ(ranks.back().size(), global.size());
    }
    for (size_t i = 0; i < global.size(); ++i) {
      std::vector<int32_t> joined, ids;
      for (const auto& rb : ranks) {
        EXPECT_EQ(rb[i].rows, 2);
        EXPECT_EQ(rb[i].effective_rows, global[i].effective_rows);
        joined.insert(joined.end(), rb[i].inputs.begin(), rb[i].inputs.end());
        ids.insert(ids.end(), rb[i].puzzle_identifiers.begin(), rb[i].puzzle_identifiers.end());
      }
      EXPECT_EQ(joined, global[i].inputs) << (test_mode ? "test" : "train") << " batch " << i;
      EXPECT_EQ(ids, global[i].puzzle_identifiers);
    }
  }
}

TEST_F(Sampler, TestModeReturnsStoredExamplesInOrderAndPadsTheLastBatch) {
  const Dataset d = open();
  const DatasetSet& set = d.sets()[0];
  const int64_t n = set.examples(), B = 6;
  ASSERT_NE(n % B, 0) << "the synthetic set (44 examples) must end with a padded batch";
  PuzzleSampler s(d, config(0, B, true));
  const auto batches = drain(s);
  ASSERT_EQ(static_cast<int64_t>(batches.size()), (n + B - 1) / B);
  for (size_t i = 0; i < batches.size(); ++i) {
    const Batch& b = batches[i];
    const int64_t real = std::min<int64_t>(B, n - static_cast<int64_t>(i) * B);
    EXPECT_EQ(b.rows, B);
    EXPECT_EQ(b.effective_rows, real);
    EXPECT_EQ(b.local_real_rows, real);
    for (int64_t r = 0; r < B; ++r) {
      const size_t row = static_cast<size_t>(r);
      if (r < real) {
        EXPECT_EQ(at(b, r, 0), static_cast<int32_t>(static_cast<int64_t>(i) * B + r));
        EXPECT_EQ(b.puzzle_identifiers[row], at(b, r, 1) + 1);
      } else {  // padding: pad_id inputs, ignored labels, the blank identifier
        for (int c = 0; c < 3; ++c) {
          EXPECT_EQ(at(b, r, c), 7);
          EXPECT_EQ(b.labels[row * 3 + static_cast<size_t>(c)], kIgnoreLabelId);
        }
        EXPECT_EQ(b.puzzle_identifiers[row], 0);
      }
    }
  }
  EXPECT_EQ(batches.back().local_real_rows, n % B);
  EXPECT_EQ(s.test_batches_per_pass(), static_cast<int64_t>(batches.size()));
}

TEST_F(Sampler, ResumingFromASavedStateContinuesIdentically) {
  const Dataset d = open();
  const SamplerConfig cfg = config(21, 3, false, 2);
  PuzzleSampler ref(d, cfg);
  std::vector<Batch> all = drain(ref);
  const size_t first_pass = all.size();
  for (const Batch& b : drain(ref)) all.push_back(b);
  for (size_t cut : {size_t{0}, size_t{1}, first_pass / 2, first_pass, first_pass + 1}) {
    PuzzleSampler a(d, cfg);
    Batch b;
    for (size_t i = 0; i < cut; ++i)
      if (!a.next(b)) {
        ASSERT_TRUE(a.next(b));  // step over the end-of-pass marker
      }
    const SamplerState saved = a.state();
    PuzzleSampler resumed(d, cfg);
    resumed.restore(saved);
    // Saved again at once (a resumed run stopped before its next batch): the same state.
    const SamplerState again = resumed.state();
    EXPECT_EQ(again.iters, saved.iters) << "cut " << cut;
    EXPECT_EQ(again.set_index, saved.set_index) << "cut " << cut;
    EXPECT_EQ(again.position, saved.position) << "cut " << cut;
    EXPECT_EQ(again.in_pass, saved.in_pass) << "cut " << cut;
    EXPECT_EQ(again.rng_state, saved.rng_state) << "cut " << cut;
    for (size_t i = cut; i < all.size(); ++i) {
      if (!resumed.next(b)) {
        ASSERT_TRUE(resumed.next(b));
      }
      EXPECT_EQ(b.inputs, all[i].inputs) << "cut " << cut << " batch " << i;
    }
  }
  // Between passes (the end reported) too, though the next pass derives its generator anew: a run
  // resumed with only its last evaluation left saves the uninterrupted run's state, bit for bit.
  PuzzleSampler ended(d, cfg);
  drain(ended);
  PuzzleSampler restored(d, cfg);
  restored.restore(ended.state());
  EXPECT_EQ(restored.state().rng_state, ended.state().rng_state);
}

// A run stopped between its last training batch and its evaluation: restored from the state before
// the end of the pass, the sampler reports that end once, then gives the next pass's batches.
TEST_F(Sampler, StateBeforeThePassEndReportsTheEndOnceThenContinuesWithTheNextPass) {
  const Dataset d = open();
  const SamplerConfig cfg = config(21, 3, false, 2);
  PuzzleSampler ref(d, cfg);
  drain(ref);  // ends with next() reporting the end of the pass
  const std::vector<Batch> second_pass = drain(ref);
  ASSERT_FALSE(second_pass.empty());

  PuzzleSampler a(d, cfg);
  drain(a);
  EXPECT_FALSE(a.pass_end_pending());
  const SamplerState saved = a.state_before_pass_end();
  PuzzleSampler resumed(d, cfg);
  resumed.restore(saved);
  EXPECT_TRUE(resumed.pass_end_pending());
  Batch b;
  EXPECT_FALSE(resumed.next(b));
  EXPECT_FALSE(resumed.pass_end_pending());
  const std::vector<Batch> after = drain(resumed);
  ASSERT_EQ(after.size(), second_pass.size());
  for (size_t i = 0; i < after.size(); ++i) EXPECT_EQ(after[i].inputs, second_pass[i].inputs) << "batch " << i;

  PuzzleSampler inside(d, cfg);
  ASSERT_TRUE(inside.next(b));
  EXPECT_THROW(inside.state_before_pass_end(), Error);  // only right after a pass ended
}

TEST_F(Sampler, RejectsBadConfigs) {
  const Dataset d = open();
  EXPECT_THROW(PuzzleSampler(d, config(0, 5, false, 1, 0, 2)), ConfigError);
  EXPECT_THROW(PuzzleSampler(d, config(0, 4, false, 1, 2, 2)), ConfigError);
  EXPECT_THROW(PuzzleSampler(d, config(0, 4, false, 0)), ConfigError);
}

TEST(SamplerTokens, TokenOutsideTheVocabularyNamesTheArrayExampleAndPosition) {
  Synthetic s;  // inputs {example, puzzle, group} with vocab_size 1000; then dataset.json claims 8 (pad_id is 7)
  const fs::path json = s.root / "train" / "dataset.json";
  std::string text;
  {
    std::ifstream in(json);
    text.assign(std::istreambuf_iterator<char>(in), {});
  }
  const size_t at_vocab = text.find("\"vocab_size\": 1000");
  ASSERT_NE(at_vocab, std::string::npos) << text;
  text.replace(at_vocab, 18, "\"vocab_size\": 8");
  std::ofstream(json) << text;
  const Dataset d = Dataset::open(s.root, "train");
  PuzzleSampler sampler(d, config(0, 9, true));
  Batch b;
  try {
    sampler.next(b);
    ADD_FAILURE() << "a token beyond vocab_size was accepted";
  } catch (const FormatError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("all__inputs.npy: example 8, position 0: token 8 outside the vocabulary 0..7"), std::string::npos)
        << msg;
  }
}

TEST(SamplerFixtures, TestModeReturnsEveryFixtureArrayInOrder) {
  for (const char* name : {"sudoku-small", "maze-small", "arc-small"})
    for (const char* split : {"train", "test"}) {
      SCOPED_TRACE(std::string(name) + "/" + split);
      const Dataset d = Dataset::open(kDatasetFixtures / name, split);
      const DatasetSet& set = d.sets()[0];
      const int64_t L = d.metadata().seq_len;
      PuzzleSampler s(d, config(0, 3, true));
      std::vector<int32_t> in(static_cast<size_t>(L)), lab(in.size());
      int64_t example = 0;
      for (const Batch& b : drain(s))
        for (int64_t r = 0; r < b.local_real_rows; ++r, ++example) {
          set.input_row(example, in.data());
          set.label_row(example, lab.data());
          for (auto& t : lab)
            if (t == *d.metadata().ignore_label_id) t = kIgnoreLabelId;
          ASSERT_TRUE(std::equal(in.begin(), in.end(), b.inputs.begin() + r * L));
          ASSERT_TRUE(std::equal(lab.begin(), lab.end(), b.labels.begin() + r * L));
          const auto it = std::upper_bound(set.puzzle_indices.begin(), set.puzzle_indices.end(), static_cast<int32_t>(example));
          EXPECT_EQ(b.puzzle_identifiers[static_cast<size_t>(r)], set.puzzle_identifiers[static_cast<size_t>(it - set.puzzle_indices.begin() - 1)]);
        }
      EXPECT_EQ(example, set.examples());
    }
}

}  // namespace
}  // namespace hrm::data
