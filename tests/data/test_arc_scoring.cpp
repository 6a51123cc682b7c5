// test_arc_scoring.cpp: tests of src/data/arc_scoring.cpp on hand-made predictions whose pass@k
// values are known: majority of un-augmented answers, ties broken by mean sigmoid(q_halt), tasks
// with two test inputs, the submission.json shape, and inputs that do not fit the split.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "core/check.h"
#include "data/arc_scoring.h"
#include "data/arc_grids.h"

namespace hrm::arc {
namespace {

using test_grids::make;

// A test split and aligned predictions, declared row by row in the ORIGINAL (un-augmented) space;
// the builder augments inputs, labels and answers by the puzzle's name, as a model would see them.
struct Fixture {
  TestSplit split;
  std::vector<std::vector<int32_t>> inputs, labels;
  std::vector<int32_t> tokens, ids;
  std::vector<float> q;

  Fixture() { split.identifiers = {"<blank>"}; }

  void row(const std::string& name, const Grid& input, const Grid& label, const Grid& answer, float q_halt) {
    const PuzzleName pn = parse_puzzle_name(name);
    int32_t id = -1;
    for (size_t i = 0; i < split.identifiers.size(); ++i)
      if (split.identifiers[i] == name) id = static_cast<int32_t>(i);
    if (id < 0) {
      id = static_cast<int32_t>(split.identifiers.size());
      split.identifiers.push_back(name);
    }
    if (split.puzzle_identifiers.empty() || split.puzzle_identifiers.back() != id) {
      split.puzzle_identifiers.push_back(id);
      split.puzzle_indices.push_back(split.num_examples);
    }
    auto encoded = [&](const Grid& g) {
      std::vector<uint8_t> t(kSeqLen);
      encode_grid(apply(g, pn.aug), 0, 0, t.data());
      return std::vector<int32_t>(t.begin(), t.end());
    };
    inputs.push_back(encoded(input));
    labels.push_back(encoded(label));
    const auto a = encoded(answer);
    tokens.insert(tokens.end(), a.begin(), a.end());
    ids.push_back(id);
    q.push_back(q_halt);
    split.num_examples += 1;
  }

  void pad_rows(int n) {
    for (int i = 0; i < n; ++i) {
      tokens.insert(tokens.end(), kSeqLen, 0);
      ids.push_back(0);
      q.push_back(0.f);
    }
  }

  Score run(std::vector<int> ks = kPassKs) {
    split.puzzle_indices.push_back(static_cast<int32_t>(split.num_examples));
    split.input_row = [this](int64_t r, int32_t* out) { std::copy(inputs[r].begin(), inputs[r].end(), out); };
    split.label_row = [this](int64_t r, int32_t* out) { std::copy(labels[r].begin(), labels[r].end(), out); };
    Predictions p;
    p.rows = static_cast<int64_t>(ids.size());
    p.tokens = tokens.data();
    p.puzzle_identifiers = ids.data();
    p.q_halt_logits = q.data();
    return score(split, p, ks);
  }
};

const Grid kIn1 = make({{1, 2, 0}, {0, 3, 4}});
const Grid kIn2 = make({{5, 6}, {7, 8}, {9, 1}});
const Grid kLabel1 = make({{4, 3}, {2, 1}});
const Grid kLabel2 = make({{1, 1, 2}});
const Grid kWrong = make({{4, 3}, {2, 2}});
const Grid kWrong2 = make({{7}});

TEST(ArcScoring, PassAtKFromUnaugmentedVotesAndQHaltTies) {
  Fixture f;
  // A: the original says kWrong, two augmentations say the label (in their own colours and
  // orientation): 2 votes to 1 once un-augmented -> right at k=1.
  f.row("A", kIn1, kLabel1, kWrong, 5.f);
  f.row("A_t1_0213456789", kIn1, kLabel1, kLabel1, 0.f);
  f.row("A_t7_0987654321", kIn1, kLabel1, kLabel1, 0.f);
  // B: two test inputs. Input 0 right by majority; input 1 a 1-1 tie where the wrong answer has
  // the higher mean q_halt: B fails pass@1 (all inputs must be right) and passes pass@2.
  f.row("B", kIn1, kLabel1, kLabel1, 0.f);
  f.row("B", kIn2, kLabel2, kWrong2, 3.f);
  f.row("B_t4_0123456789", kIn1, kLabel1, kLabel1, 0.f);
  f.row("B_t4_0123456789", kIn2, kLabel2, kLabel2, -3.f);
  // C: a 2-2 tie won by the label on mean q_halt (one confident and one unsure vote each).
  f.row("C", kIn2, kLabel2, kWrong2, 1.f);
  f.row("C_t2_0123456798", kIn2, kLabel2, kWrong2, -1.f);
  f.row("C_t3_0312456789", kIn2, kLabel2, kLabel2, 2.f);
  f.row("C_t5_0123456789", kIn2, kLabel2, kLabel2, 0.5f);
  // D: never right.
  f.row("D", kIn1, kLabel1, kWrong, 0.f);
  f.row("D_t6_0123456789", kIn1, kLabel1, kWrong2, 0.f);
  f.pad_rows(3);

  const Score s = f.run();
  ASSERT_EQ(s.tasks.size(), 4u);
  EXPECT_EQ(s.tasks[0].task_id, "A");
  EXPECT_EQ(s.tasks_correct, (std::vector<int64_t>{2, 3, 3, 3, 3}));  // pass@1 A,C; pass@2 +B
  EXPECT_DOUBLE_EQ(s.pass_at(0), 0.5);
  EXPECT_DOUBLE_EQ(s.pass_at(1), 0.75);

  const auto& a = s.tasks[0].tests[0];
  ASSERT_EQ(a.ranked.size(), 2u);
  EXPECT_EQ(a.ranked[0].grid, kLabel1);
  EXPECT_EQ(a.ranked[0].votes, 2);
  EXPECT_DOUBLE_EQ(a.ranked[0].mean_q, 0.5);
  EXPECT_EQ(a.input, kIn1);
  EXPECT_EQ(a.label, kLabel1);

  const auto& b1 = s.tasks[1].tests[1];
  EXPECT_EQ(b1.ranked[0].grid, kWrong2);
  EXPECT_EQ(b1.ranked[1].grid, kLabel2);

  const auto& c = s.tasks[2].tests[0];
  EXPECT_EQ(c.ranked[0].grid, kLabel2);
  EXPECT_EQ(c.ranked[0].votes, 2);
  EXPECT_EQ(c.ranked[1].votes, 2);
}

TEST(ArcScoring, EqualVotesAndQKeepFirstAppearance) {
  Fixture f;
  f.row("A", kIn1, kLabel1, kWrong, 0.f);
  f.row("A_t2_0123456789", kIn1, kLabel1, kLabel1, 0.f);
  const Score s = f.run({1, 2});
  EXPECT_EQ(s.tasks[0].tests[0].ranked[0].grid, kWrong);
  EXPECT_EQ(s.tasks_correct, (std::vector<int64_t>{0, 1}));
}

// The notebook's confidence is torch's float32 sigmoid, exactly 1 for both logits here: the tie of
// votes stays a tie and the first answer to appear wins (a double sigmoid ranked kWrong first).
TEST(ArcScoring, ConfidentAnswersTieAtFloat32SigmoidOfOne) {
  EXPECT_EQ(vote_confidence(20.f), 1.f);
  EXPECT_EQ(vote_confidence(30.f), 1.f);
  EXPECT_LT(vote_confidence(5.f), 1.f);
  Fixture f;
  f.row("A", kIn1, kLabel1, kLabel1, 20.f);
  f.row("A_t1_0213456789", kIn1, kLabel1, kWrong, 30.f);
  f.row("A_t2_0123456789", kIn1, kLabel1, kLabel1, 20.f);
  f.row("A_t3_0123456789", kIn1, kLabel1, kWrong, 30.f);
  const Score s = f.run({1, 2});
  EXPECT_EQ(s.tasks[0].tests[0].ranked[0].grid, kLabel1);
  EXPECT_EQ(s.tasks_correct, (std::vector<int64_t>{1, 1}));
}

TEST(ArcScoring, SubmissionHasTwoAttemptsPerTestInput) {
  Fixture f;
  f.row("B", kIn1, kLabel1, kLabel1, 0.f);
  f.row("B", kIn2, kLabel2, kWrong2, 1.f);
  f.row("B_t1_0123456789", kIn1, kLabel1, kLabel1, 0.f);
  f.row("B_t1_0123456789", kIn2, kLabel2, kLabel2, 0.f);
  f.row("Z", kIn2, kLabel2, kLabel2, 0.f);
  const auto j = nlohmann::json::parse(submission_json(f.run()));
  ASSERT_TRUE(j.is_object());
  ASSERT_EQ(j.size(), 2u);
  ASSERT_EQ(j["B"].size(), 2u);
  EXPECT_EQ(j["B"][0]["attempt_1"], nlohmann::json::parse("[[4, 3], [2, 1]]"));
  EXPECT_EQ(j["B"][0]["attempt_2"], j["B"][0]["attempt_1"]);  // one candidate: repeated
  EXPECT_EQ(j["B"][1]["attempt_1"], nlohmann::json::parse("[[7]]"));  // tie on votes, higher q
  EXPECT_EQ(j["B"][1]["attempt_2"], nlohmann::json::parse("[[1, 1, 2]]"));
  ASSERT_EQ(j["Z"].size(), 1u);
  EXPECT_EQ(j["Z"][0].size(), 2u);
}

TEST(ArcScoring, EmptyCropIsWrittenAsOneCell) {
  Fixture f;
  f.row("A", kIn1, kLabel1, kLabel1, 0.f);
  f.run();
  std::fill(f.tokens.begin(), f.tokens.end(), 0);  // the model answered PAD everywhere
  Predictions p{1, f.tokens.data(), f.ids.data(), f.q.data()};
  const Score s = score(f.split, p);
  EXPECT_EQ(s.tasks_correct[0], 0);
  EXPECT_EQ(nlohmann::json::parse(submission_json(s))["A"][0]["attempt_1"], nlohmann::json::parse("[[0]]"));
  EXPECT_EQ(submission_grid(Grid{}), (std::vector<std::vector<int>>{{0}}));  // hrm solve's submission entry too
}

std::string error_of(Fixture& f, const std::function<void(Fixture&)>& spoil) {
  f.run();
  spoil(f);
  Predictions p{static_cast<int64_t>(f.ids.size()), f.tokens.data(), f.ids.data(), f.q.data()};
  try {
    score(f.split, p);
  } catch (const FormatError& e) {
    return e.what();
  }
  return "";
}

// Data-parallel evaluation: each rank saves its slices of every batch, so the concatenated rows are
// in another order; with the inputs saved, every test example finds its row.
TEST(ArcScoring, RowsInAnotherOrderAreMatchedByTheirInputs) {
  Fixture f;
  f.row("A", kIn1, kLabel1, kLabel1, 0.f);
  f.row("A_t1_0123456789", kIn1, kLabel1, make({{7}}), 0.f);
  f.row("A_t2_0123456789", kIn1, kLabel1, make({{7}}), 0.f);
  f.pad_rows(1);
  const Score in_order = f.run({1, 2});
  EXPECT_EQ(in_order.tasks_correct, (std::vector<int64_t>{0, 1}));

  const std::vector<int64_t> order{3, 2, 0, 1};  // padding first, then the examples reversed
  std::vector<int32_t> tokens, ids, inputs;
  std::vector<float> q;
  for (int64_t r : order) {
    tokens.insert(tokens.end(), f.tokens.begin() + r * kSeqLen, f.tokens.begin() + (r + 1) * kSeqLen);
    ids.push_back(f.ids[r]);
    q.push_back(f.q[r]);
    if (r < 3) inputs.insert(inputs.end(), f.inputs[r].begin(), f.inputs[r].end());
    else inputs.insert(inputs.end(), kSeqLen, 0);
  }
  Predictions p{4, tokens.data(), ids.data(), q.data(), inputs.data()};
  const Score shuffled = score(f.split, p, {1, 2});
  EXPECT_EQ(shuffled.tasks_correct, in_order.tasks_correct);
  ASSERT_EQ(shuffled.tasks.size(), 1u);
  EXPECT_EQ(shuffled.tasks[0].tests[0].ranked[0].grid, make({{7}}));
  EXPECT_EQ(shuffled.tasks[0].tests[0].ranked[0].votes, 2);

  auto error = [&](const Predictions& x) {
    try {
      score(f.split, x, {1});
    } catch (const FormatError& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  p.inputs = nullptr;  // no inputs: nothing to match by
  EXPECT_NE(error(p).find("save the inputs too"), std::string::npos) << error(p);
  p.inputs = inputs.data();
  ids[2] = ids[3];  // example 0 lost (its row now claims to be A_t2's too)
  EXPECT_NE(error(p).find("no row answers test example 0 (A)"), std::string::npos) << error(p);
  ids[2] = f.ids[0];
  inputs[1 * kSeqLen + 5] += 1;  // a row whose input is no test example's
  EXPECT_NE(error(p).find("no row answers test example 2"), std::string::npos) << error(p);
  inputs[1 * kSeqLen + 5] -= 1;
  {  // one example answered twice
    tokens.insert(tokens.end(), f.tokens.begin(), f.tokens.begin() + kSeqLen);
    ids.push_back(f.ids[0]);
    q.push_back(0.f);
    inputs.insert(inputs.end(), f.inputs[0].begin(), f.inputs[0].end());
  }
  p = Predictions{5, tokens.data(), ids.data(), q.data(), inputs.data()};
  EXPECT_NE(error(p).find("row 4 (puzzle identifier 1) answers no test example"), std::string::npos) << error(p);
}

TEST(ArcScoring, PredictionsThatDoNotFitTheSplitAreErrors) {
  auto two = [] {
    Fixture f;
    f.row("A", kIn1, kLabel1, kLabel1, 0.f);
    f.row("A_t1_0123456789", kIn1, kLabel1, kLabel1, 0.f);
    return f;
  };
  {
    Fixture f = two();
    EXPECT_NE(error_of(f, [](Fixture& x) { x.ids[1] = 1; }).find("row 1 has puzzle identifier 1"), std::string::npos);
  }
  {
    Fixture f = two();
    EXPECT_NE(error_of(f, [](Fixture& x) { x.ids.pop_back(); }).find("1 rows for 2 test examples"), std::string::npos);
  }
  {
    Fixture f = two();  // the name says t1 but the stored input is not the rotated original
    EXPECT_NE(error_of(f, [](Fixture& x) { x.split.identifiers[2] = "A_t2_0123456789"; }).find("un-augmented input differs"),
              std::string::npos);
  }
  {
    Fixture f = two();
    EXPECT_NE(error_of(f, [](Fixture& x) { x.split.identifiers[1] = "Q"; }).find("has no original puzzle A"), std::string::npos);
  }
  {
    Fixture f = two();
    EXPECT_NE(error_of(f, [](Fixture& x) {
                x.ids.push_back(5);
                x.q.push_back(0);
                x.tokens.insert(x.tokens.end(), kSeqLen, 0);
              }).find("padding row 2"),
              std::string::npos);
  }
}

}  // namespace
}  // namespace hrm::arc
