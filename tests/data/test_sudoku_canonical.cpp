// Tests for src/data/sudoku_canonical.cpp: the canonical form is the same for every shuffle of a
// puzzle, is itself a member of the class, and tells different puzzles apart.
#include <gtest/gtest.h>

#include <fstream>
#include <set>
#include <string>
#include <vector>

#include "data/sudoku_canonical.h"
#include "test_paths.h"

namespace sd = hrm::sudoku;

namespace {

std::vector<sd::Grid> magictour(size_t n) {
  std::ifstream in(std::string(HRM_SHARED_DIR) + "/data/sudoku/tdoku/puzzles3_magictour_top1465");
  std::vector<sd::Grid> out;
  for (std::string line; out.size() < n && std::getline(in, line);)
    if (!line.empty() && line[0] != '#') out.push_back(sd::parse_grid(line, "magictour"));
  EXPECT_EQ(out.size(), n);
  return out;
}

}  // namespace

TEST(SudokuCanonical, EveryShuffleOfAPuzzleHasTheSameForm) {
  hrm::Rng rng(2);
  for (const sd::Grid& p : magictour(30)) {
    const sd::Grid c = sd::canonical_form(p);
    for (int k = 0; k < 10; ++k) ASSERT_EQ(sd::canonical_form(sd::apply_shuffle(sd::draw_shuffle(rng), p)), c) << sd::to_string(p);
  }
}

TEST(SudokuCanonical, IsAMemberOfTheClassAndIdempotent) {
  for (const sd::Grid& p : magictour(10)) {
    const sd::Grid c = sd::canonical_form(p);
    EXPECT_EQ(sd::canonical_form(c), c);
    EXPECT_EQ(sd::clue_count(c), sd::clue_count(p));
    EXPECT_EQ(sd::solve(c, 2).solutions, 1);
    EXPECT_LE(sd::to_string(c, '0'), sd::to_string(p, '0')) << "minimal";
  }
  sd::Grid solved = sd::solve(magictour(1)[0], 2).solution;  // a full grid starts 123456789
  EXPECT_EQ(sd::to_string(sd::canonical_form(solved)).substr(0, 9), "123456789");
}

TEST(SudokuCanonical, TellsDifferentPuzzlesApartAndFindsKnownRepeats) {
  const auto all = magictour(307);
  std::set<sd::Grid> forms;
  for (size_t i = 0; i < 100; ++i) forms.insert(sd::canonical_form(all[i]));
  EXPECT_EQ(forms.size(), 100u) << "the first 100 magictour puzzles are different puzzles";
  // Lines 302 and 309 of the file (puzzles 299 and 306) are one puzzle with its bands rotated.
  EXPECT_NE(all[299], all[306]);
  EXPECT_EQ(sd::canonical_form(all[299]), sd::canonical_form(all[306]));
}

TEST(SudokuCanonical, TheShuffleSignatureSurvivesEveryShuffleAndSeparatesMostPuzzles) {
  hrm::Rng rng(3);
  const auto all = magictour(300);
  std::set<uint64_t> signatures;
  for (const sd::Grid& p : all) {
    const auto s = sd::shuffle_signature(p);
    signatures.insert(s);
    for (int k = 0; k < 5; ++k) ASSERT_EQ(sd::shuffle_signature(sd::apply_shuffle(sd::draw_shuffle(rng), p)), s) << sd::to_string(p);
  }
  // A prefilter, not an identity: ties are allowed, but few (245 signatures for these 300 puzzles, many
  // of them near-copies of each other; of the 47,766 forum_hardest puzzles after its first 1000, 160
  // share a signature with one of those 1000).
  EXPECT_GE(signatures.size(), 240u);
}
