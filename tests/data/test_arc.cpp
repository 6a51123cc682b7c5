// test_arc.cpp: tests of src/data/arc.cpp: strict task parsing, dihedral transforms against
// numpy's, augmentation names and inverses, duplicate-free augmentation, encoding and crop.
#include <gtest/gtest.h>

#include <set>

#include "core/check.h"
#include "data/arc.h"
#include "data/arc_grids.h"

namespace hrm::arc {
namespace {

using test_grids::make;

// The FormatError message of parsing `json`, or "" when it parses.
std::string parse_error(const std::string& json) {
  try {
    parse_task(json, "t", "dir/t.json");
  } catch (const FormatError& e) {
    return e.what();
  }
  return "";
}

TEST(ArcParse, ReadsPairsKeyOrderAndIgnoresUnknownKeys) {
  const Task t = parse_task(
      R"({"test": [{"input": [[1]], "output": [[2, 3]]}], "name": "x",
          "train": [{"input": [[0, 1], [2, 3]], "output": [[9]], "extra": 1}]})",
      "abc", "abc.json");
  EXPECT_EQ(t.id, "abc");
  EXPECT_TRUE(t.test_first);
  ASSERT_EQ(t.train.size(), 1u);
  ASSERT_EQ(t.test.size(), 1u);
  EXPECT_EQ(t.train[0].input, make({{0, 1}, {2, 3}}));
  EXPECT_EQ(t.train[0].output, make({{9}}));
  EXPECT_EQ(t.test[0].output, make({{2, 3}}));
  EXPECT_FALSE(parse_task(R"({"train": [{"input": [[1]], "output": [[1]]}], "test": [{"input": [[1]], "output": [[1]]}]})",
                          "x", "x")
                   .test_first);
}

TEST(ArcParse, BadInputNamesFileAndJsonPath) {
  const std::string ok_pair = R"({"input": [[1]], "output": [[1]]})";
  auto task = [&](const std::string& train) { return R"({"test": [)" + ok_pair + R"(], "train": )" + train + "}"; };
  struct Case {
    std::string json, expect;
  };
  const std::vector<Case> cases = {
      {task(R"([)" + ok_pair + "," + ok_pair + R"(, {"input": [[1]], "output": [[1, 2], [3]]}])"),
       "dir/t.json: train[2].output[1]: ragged grid"},
      {task(R"([{"input": [[1]], "output": [[1, 2], [3, 10]]}])"), "train[0].output[1][1]: expected a colour 0..9, got 10"},
      {task(R"([{"input": [[-1]], "output": [[1]]}])"), "train[0].input[0][0]: expected a colour 0..9, got -1"},
      {task(R"([{"input": [[1.5]], "output": [[1]]}])"), "train[0].input[0][0]: expected a colour 0..9, got 1.5"},
      {task(R"([{"input": [[12.0]], "output": [[1]]}])"), "train[0].input[0][0]: expected a colour 0..9, got 12"},
      {task(R"([{"input": [[true]], "output": [[1]]}])"), "train[0].input[0][0]: expected a colour 0..9, got boolean"},
      {task(R"([{"input": [["1"]], "output": [[1]]}])"), "train[0].input[0][0]: expected a colour 0..9, got string"},
      {task(R"([{"input": [[1]]}])"), "train[0]: missing key \"output\""},
      {task(R"([{"input": [1], "output": [[1]]}])"), "train[0].input[0]: expected a list of colours"},
      {task(R"([{"input": [], "output": [[1]]}])"), "train[0].input: expected 1 to 30 rows, got 0"},
      {task(R"([{"input": [[]], "output": [[1]]}])"), "train[0].input[0]: expected 1 to 30 columns, got 0"},
      {task("[]"), "dir/t.json: train: expected at least one pair"},
      {task("{}"), "train: expected a list of pairs, got object"},
      {task("[3]"), "train[0]: expected an object with input and output, got number"},
      {R"({"train": [)" + ok_pair + "]}", "dir/t.json: $: missing key \"test\""},
      {"[1, 2]", "$: expected an object"},
      {R"({"train": [)", "dir/t.json: invalid JSON"},
      {R"({"train": [{"input": [[1e999]]}]})", "dir/t.json: invalid JSON"},  // out_of_range, not parse_error
  };
  for (const auto& c : cases) {
    const std::string msg = parse_error(c.json);
    EXPECT_NE(msg.find(c.expect), std::string::npos) << "json: " << c.json << "\nmessage: " << msg;
  }
}

TEST(ArcParse, WholeFloatColoursAreTheirIntegers) {  // as the reference's np.array(grid).astype(np.uint8)
  const auto t = parse_task(R"({"train": [{"input": [[1.0, 2]], "output": [[9.0]]}], "test": [{"input": [[0.0]], "output": [[3]]}]})",
                            "x", "x");
  EXPECT_EQ(t.train[0].input, make({{1, 2}}));
  EXPECT_EQ(t.train[0].output, make({{9}}));
  EXPECT_EQ(t.test[0].input, make({{0}}));
}

TEST(ArcParse, TestOutputsAreOptionalOnlyWhenAsked) {
  const std::string json = R"({"train": [{"input": [[1]], "output": [[2]]}], "test": [{"input": [[3, 4]]}]})";
  try {
    parse_task(json, "t", "dir/t.json");
    ADD_FAILURE() << "a test pair without output parsed by default";
  } catch (const FormatError& e) {
    EXPECT_NE(std::string(e.what()).find("test[0]: missing key \"output\""), std::string::npos) << e.what();
  }
  const Task t = parse_task(json, "t", "dir/t.json", TestOutputs::kOptional);
  ASSERT_EQ(t.test.size(), 1u);
  EXPECT_EQ(t.test[0].input.cols, 2);
  EXPECT_EQ(t.test[0].output.rows * t.test[0].output.cols, 0);
  // Training pairs still need their outputs.
  EXPECT_THROW(parse_task(R"({"train": [{"input": [[1]]}], "test": [{"input": [[3]]}]})", "t", "dir/t.json",
                          TestOutputs::kOptional),
               FormatError);
}

TEST(ArcParse, RejectsOversizedGrids) {
  std::string row31 = "[0";
  for (int i = 1; i < 31; ++i) row31 += ",0";
  row31 += "]";
  std::string rows31 = "[[0]";
  for (int i = 1; i < 31; ++i) rows31 += ",[0]";
  rows31 += "]";
  const std::string head = R"({"train": [{"input": [[1]], "output": [[1]]}], "test": [{"input": )";
  EXPECT_NE(parse_error(head + "[" + row31 + R"(], "output": [[1]]}]})").find("test[0].input[0]: expected 1 to 30 columns, got 31"),
            std::string::npos);
  EXPECT_NE(parse_error(head + "[[1]], \"output\": " + rows31 + "}]}").find("test[0].output: expected 1 to 30 rows, got 31"),
            std::string::npos);
}

TEST(ArcAugment, DihedralMatchesNumpyOnRectangularGrid) {
  // numpy's outputs for [[1,2,3],[4,5,6]] through dataset/common.py dihedral_transform.
  const Grid a = make({{1, 2, 3}, {4, 5, 6}});
  const std::vector<Grid> expected = {
      make({{1, 2, 3}, {4, 5, 6}}),    make({{3, 6}, {2, 5}, {1, 4}}), make({{6, 5, 4}, {3, 2, 1}}),
      make({{4, 1}, {5, 2}, {6, 3}}),  make({{3, 2, 1}, {6, 5, 4}}),   make({{4, 5, 6}, {1, 2, 3}}),
      make({{1, 4}, {2, 5}, {3, 6}}),  make({{6, 3}, {5, 2}, {4, 1}}),
  };
  for (int k = 0; k < 8; ++k) {
    EXPECT_EQ(dihedral(a, k), expected[k]) << "transform " << k;
    EXPECT_EQ(dihedral(dihedral(a, k), inverse_dihedral_id(k)), a) << "inverse of " << k;
  }
}

TEST(ArcAugment, InvertUndoesApplyForEveryTransform) {
  const Grid g = make({{0, 1, 2, 3}, {4, 5, 6, 7}, {8, 9, 0, 1}});
  Rng rng(7);
  for (int k = 0; k < 8; ++k) {
    Augmentation aug = draw_augmentation(rng);
    aug.trans_id = k;
    EXPECT_EQ(aug.colour_map[0], 0);
    const Grid t = apply(g, aug);
    EXPECT_EQ(invert(t, aug), g) << aug.suffix();
  }
}

TEST(ArcAugment, ColourMapIsAppliedBeforeTheTransform) {
  Augmentation aug;
  aug.trans_id = 4;  // fliplr
  aug.colour_map = {0, 2, 1, 3, 4, 5, 6, 7, 8, 9};
  EXPECT_EQ(apply(make({{1, 0, 3}}), aug), make({{3, 0, 2}}));
  EXPECT_EQ(aug.suffix(), "t4_0213456789");
}

TEST(ArcAugment, NamesRoundTripAndOriginalsParseAsIdentity) {
  const PuzzleName p = parse_puzzle_name("007bbfb7_t6_0356281749");
  EXPECT_TRUE(p.augmented);
  EXPECT_EQ(p.task_id, "007bbfb7");
  EXPECT_EQ(p.aug.trans_id, 6);
  EXPECT_EQ(augmented_name(p.task_id, p.aug), "007bbfb7_t6_0356281749");

  const PuzzleName q = parse_puzzle_name("my_task_t3_0123456789");
  EXPECT_TRUE(q.augmented);
  EXPECT_EQ(q.task_id, "my_task");

  for (const char* original : {"Copy1", "my_task", "a_t3_0123456788", "a_t8_0123456789", "a_t3_1023456789", "_t3_0123456789"}) {
    const PuzzleName o = parse_puzzle_name(original);
    EXPECT_FALSE(o.augmented) << original;
    EXPECT_EQ(o.task_id, original);
    EXPECT_TRUE(o.aug.is_identity());
  }
}

TEST(ArcAugment, DistinctAugmentationsStopAtTheNumberOfDistinctContents) {
  // A 1x1 grid of colour 1: transforms do nothing and colour 1 can become 1..9, so exactly 8
  // contents differ from the original.
  Task t;
  t.id = "one";
  t.train = {{make({{1}}), make({{1}})}};
  t.test = {{make({{1}}), make({{1}})}};
  Rng rng(3);
  const auto augs = draw_distinct_augmentations(t, 20, rng);
  ASSERT_EQ(augs.size(), 8u);
  std::set<int> colours;
  for (const auto& a : augs) colours.insert(a.colour_map[1]);
  EXPECT_EQ(colours.size(), 8u);
  EXPECT_EQ(colours.count(1), 0u);

  // Only colour 0 (fixed by every map) and a symmetric grid: nothing new at all.
  t.train = {{make({{0}}), make({{0}})}};
  t.test = t.train;
  Rng rng2(3);
  EXPECT_TRUE(draw_distinct_augmentations(t, 5, rng2).empty());
}

TEST(ArcAugment, DuplicatesAreFoundAcrossPairOrder) {
  // Swapping two pairs gives the same multiset: an augmentation that maps pair A onto pair B and
  // B onto A is a duplicate of the original (puzzle_hash sorts the pair hashes).
  Task t;
  t.id = "swap";
  t.train = {{make({{1}}), make({{1}})}, {make({{2}}), make({{2}})}};
  t.test = {{make({{0}}), make({{0}})}};
  Rng rng(11);
  const auto augs = draw_distinct_augmentations(t, 200, rng);
  // Distinct contents: unordered pairs {a, b} of distinct colours 1..9 = 36, minus the original.
  EXPECT_EQ(augs.size(), 35u);
}

TEST(ArcAugment, DrawsAreDeterministicForASeed) {
  Task t;
  t.id = "t";
  t.train = {{make({{1, 2}, {3, 4}}), make({{5, 6, 7}})}};
  t.test = {{make({{8}}), make({{9}})}};
  Rng a(42), b(42);
  const auto x = draw_distinct_augmentations(t, 50, a);
  const auto y = draw_distinct_augmentations(t, 50, b);
  ASSERT_EQ(x.size(), 50u);
  EXPECT_EQ(x, y);
}

TEST(ArcEncode, TokensPadAndEosBorders) {
  std::vector<uint8_t> tok(kSeqLen, 99);
  encode_grid(make({{0, 1, 2}, {3, 4, 9}}), 1, 2, tok.data());
  auto at = [&](int r, int c) { return int(tok[r * 30 + c]); };
  EXPECT_EQ(at(1, 2), 2);
  EXPECT_EQ(at(1, 4), 4);
  EXPECT_EQ(at(2, 4), 11);
  EXPECT_EQ(at(3, 2), kEos);  // row below, over the grid's columns
  EXPECT_EQ(at(3, 4), kEos);
  EXPECT_EQ(at(1, 5), kEos);  // column right, over the grid's rows
  EXPECT_EQ(at(2, 5), kEos);
  EXPECT_EQ(at(3, 5), kPad);  // the diagonal corner stays PAD
  EXPECT_EQ(at(0, 2), kPad);
  EXPECT_EQ(at(1, 1), kPad);
  int colour = 0, eos = 0;
  for (uint8_t v : tok) colour += v >= 2, eos += v == kEos;
  EXPECT_EQ(colour, 6);
  EXPECT_EQ(eos, 5);
  int r = -1, c = -1;
  EXPECT_EQ(locate(tok.data(), &r, &c), make({{0, 1, 2}, {3, 4, 9}}));
  EXPECT_EQ(r, 1);
  EXPECT_EQ(c, 2);
}

TEST(ArcEncode, FullCanvasAndBottomRightGridsHaveNoEosOutside) {
  Grid full(30, 30);
  for (size_t i = 0; i < full.cells.size(); ++i) full.cells[i] = static_cast<uint8_t>(i % 10);
  std::vector<uint8_t> tok(kSeqLen);
  encode_grid(full, 0, 0, tok.data());
  for (size_t i = 0; i < tok.size(); ++i) ASSERT_EQ(tok[i], full.cells[i] + 2);
  EXPECT_EQ(crop(tok.data()), full);

  encode_grid(make({{5, 5}}), 29, 28, tok.data());
  int eos = 0;
  for (uint8_t v : tok) eos += v == kEos;
  EXPECT_EQ(eos, 0);
  EXPECT_THROW(encode_grid(make({{5, 5}}), 29, 29, tok.data()), Error);
}

TEST(ArcEncode, CropTakesLargestTopLeftRectangleOfColours) {
  std::vector<int32_t> tok(kSeqLen, kPad);
  for (int c = 0; c < 3; ++c) tok[c] = 5;       // row 0: 3 colours
  for (int c = 0; c < 2; ++c) tok[30 + c] = 6;  // row 1: 2 colours (area 2x2=4 > 3)
  tok[60] = kEos;                               // row 2 ends it
  EXPECT_EQ(crop(tok.data()), make({{3, 3}, {4, 4}}));
  tok[0] = 12;  // out of the colour range: nothing to crop
  const Grid empty = crop(tok.data());
  EXPECT_EQ(empty.rows * empty.cols, 0);
}

}  // namespace
}  // namespace hrm::arc
