// Tests for src/data/build_sudoku.cpp: a build from the reference's CSVs against the reference's
// own output (fixtures/datasets/sudoku-small), determinism across seeds and thread counts, puzzle
// lists (solved, deduplicated, split), generated puzzles, and errors naming file and line.
#include <gtest/gtest.h>

#include <climits>

#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <set>
#include <string>
#include <vector>

#include "core/atomic_file.h"
#include "core/check.h"
#include "data/build_sudoku.h"
#include "data/npy.h"
#include "test_paths.h"
#include "test_support.h"

namespace fs = std::filesystem;
namespace sd = hrm::sudoku;
using hrm::data::SudokuBuildConfig;

namespace {

const fs::path kFixture = fs::path(HRM_SHARED_DIR) / "fixtures/datasets/sudoku-small";
const std::string kArrays[5] = {"inputs", "labels", "puzzle_identifiers", "puzzle_indices", "group_indices"};

struct TempDir {
  fs::path path;
  TempDir() {
    path = fs::temp_directory_path() / ("hrm-sudoku-test-" + std::to_string(::getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~TempDir() { fs::remove_all(path); }
  std::string file(const std::string& name, const std::string& content) const {
    hrm::write_file_atomic((path / name).string(), content);
    return (path / name).string();
  }
};

SudokuBuildConfig fixture_config(const fs::path& out, int threads) {
  SudokuBuildConfig c;
  c.output_dir = out.string();
  c.train_input = (kFixture / "input/train.csv").string();
  c.test_input = (kFixture / "input/test.csv").string();
  c.num_aug = 3;
  c.threads = threads;
  return c;
}

std::string slurp(const fs::path& p) { return hrm::read_file(p.string()); }

// Every regular file under `dir`, relative, sorted.
std::vector<std::string> files_under(const fs::path& dir) {
  std::vector<std::string> out;
  for (const auto& e : fs::recursive_directory_iterator(dir))
    if (e.is_regular_file()) out.push_back(fs::relative(e.path(), dir).string());
  std::sort(out.begin(), out.end());
  return out;
}

sd::Grid row_grid(const hrm::npy::Array& a, int64_t row) {  // tokens - 1
  sd::Grid g{};
  for (int i = 0; i < sd::kCells; ++i) g[i] = static_cast<uint8_t>(a.at(row * sd::kCells + i) - 1);
  return g;
}

using hrm::testing::error_of;

const std::string kHeader = "source,question,answer,rating\n";
// The first row of the fixture's train.csv.
const std::string kQ = "9876.....65....8...........4...6..3...57..6.......2..1..98..5......1...4.....3.2.";
const std::string kA = "987631245653429817241578369492165738315784692768392451129846573536217984874953126";

}  // namespace

TEST(SudokuBuild, ReferenceCsvBuildMatchesTheReferencesOutput) {
  TempDir tmp;
  const fs::path out = tmp.path / "ds";
  hrm::data::build_sudoku_dataset(fixture_config(out, 2));

  // Same files (the fixture also keeps its input CSVs; ours are the split's puzzles, here the same rows).
  auto expected_files = files_under(kFixture);
  expected_files.erase(std::remove(expected_files.begin(), expected_files.end(), "README.md"), expected_files.end());
  EXPECT_EQ(files_under(out), expected_files);
  for (const char* f : {"identifiers.json", "train/dataset.json", "test/dataset.json", "input/train.csv", "input/test.csv"})
    EXPECT_EQ(slurp(out / f), slurp(kFixture / f)) << f;
  // Test split: nothing random, byte-identical.
  for (const auto& a : kArrays) EXPECT_EQ(slurp(out / "test" / ("all__" + a + ".npy")), slurp(kFixture / "test" / ("all__" + a + ".npy"))) << a;
  // Train split: identical structure; tokens uint8 where the reference wrote int64.
  for (const auto& a : {"puzzle_identifiers", "puzzle_indices", "group_indices"})
    EXPECT_EQ(slurp(out / "train" / (std::string("all__") + a + ".npy")), slurp(kFixture / "train" / (std::string("all__") + a + ".npy"))) << a;
  const auto in = hrm::npy::Array::load((out / "train/all__inputs.npy").string());
  const auto lab = hrm::npy::Array::load((out / "train/all__labels.npy").string());
  const auto ref_in = hrm::npy::Array::load((kFixture / "train/all__inputs.npy").string());
  const auto ref_lab = hrm::npy::Array::load((kFixture / "train/all__labels.npy").string());
  EXPECT_EQ(in.dtype(), hrm::npy::DType::u1);
  EXPECT_EQ(lab.dtype(), hrm::npy::DType::u1);
  ASSERT_EQ(in.shape(), ref_in.shape());
  ASSERT_EQ(lab.shape(), ref_lab.shape());
  for (int64_t g = 0; g < 10; ++g) {
    const sd::Grid q0 = row_grid(in, 4 * g), s0 = row_grid(lab, 4 * g);
    EXPECT_EQ(q0, row_grid(ref_in, 4 * g)) << "group " << g << " starts with the CSV puzzle";
    EXPECT_EQ(s0, row_grid(ref_lab, 4 * g));
    for (int64_t k = 1; k <= 3; ++k) {
      const sd::Grid q = row_grid(in, 4 * g + k), s = row_grid(lab, 4 * g + k);
      EXPECT_TRUE(sd::is_solution(s)) << "example " << 4 * g + k;
      EXPECT_TRUE(sd::agrees(q, s));
      EXPECT_EQ(sd::clue_count(q), sd::clue_count(q0));
      EXPECT_NE(q, q0) << "a shuffled copy";
    }
  }
}

TEST(SudokuBuild, ByteIdenticalForASeedWhateverTheThreads) {
  TempDir tmp;
  hrm::data::build_sudoku_dataset(fixture_config(tmp.path / "a", 1));
  hrm::data::build_sudoku_dataset(fixture_config(tmp.path / "b", 2));
  SudokuBuildConfig c = fixture_config(tmp.path / "c", 2);
  c.seed = 1;
  hrm::data::build_sudoku_dataset(c);
  ASSERT_EQ(files_under(tmp.path / "a"), files_under(tmp.path / "b"));
  for (const auto& f : files_under(tmp.path / "a")) EXPECT_EQ(slurp(tmp.path / "a" / f), slurp(tmp.path / "b" / f)) << f;
  EXPECT_NE(slurp(tmp.path / "a/train/all__inputs.npy"), slurp(tmp.path / "c/train/all__inputs.npy")) << "the seed matters";
}

TEST(SudokuBuild, PuzzleListsAreSolvedCleanedOfShuffledRepeatsAndSplitWithoutOverlap) {
  TempDir tmp;
  // Comments, CRLF, '0' blanks, a repeat, a shuffled copy; the solver supplies answers and ratings.
  const std::vector<std::string> puzzles = {
      kQ,
      "98.7.....76..5......4..87..6....59....93...5.....2...1.4...76.....5....3....1..2.",
      "........1..2..3.4..5..6.7.......1..8..4....235..3..9....1..8....7.6..3..6..9.....",
      "98.7..6..75..6..8...6......4..3....2.2.....1...8.5.9....7.9.5.....5.4......1....3",
      "98.7..6..7.5.4..9..3..9...762.8....9..3...86.....6..2.25.9...7.....5.........1...",
      "9..8..7...8..7..6...7.....54..3......2...1..4..9.8.6..1.........9.2...3...6.5.9.."};
  std::string list = "# a comment, with a comma\r\n\r\n";
  for (const auto& p : puzzles) list += p + "\r\n";
  std::string zeros = puzzles[1];
  std::replace(zeros.begin(), zeros.end(), '.', '0');
  list += zeros + "\n";  // the same puzzle written with '0' blanks
  hrm::Rng rng(4);
  list += sd::to_string(sd::apply_shuffle(sd::draw_shuffle(rng), sd::parse_grid(puzzles[2], "p"))) + "\n";  // a shuffled copy
  SudokuBuildConfig c;
  c.output_dir = (tmp.path / "ds").string();
  c.inputs = {tmp.file("list.txt", list)};
  c.train_size = 4;
  c.num_aug = 2;
  c.threads = 2;
  const auto s = hrm::data::build_sudoku_dataset(c);
  EXPECT_EQ(s.read, 8);
  EXPECT_EQ(s.duplicates, 2);
  EXPECT_EQ(s.train_puzzles, 4);
  EXPECT_EQ(s.test_puzzles, 2);
  EXPECT_EQ(s.train_examples, 12);
  EXPECT_EQ(s.test_examples, 2);
  const auto train = hrm::data::read_sudoku_file((tmp.path / "ds/input/train.csv").string());
  const auto test = hrm::data::read_sudoku_file((tmp.path / "ds/input/test.csv").string());
  std::set<sd::Grid> seen;
  for (const auto* split : {&train, &test})
    for (const auto& p : *split) {
      EXPECT_TRUE(seen.insert(p.puzzle).second) << "in both splits: " << sd::to_string(p.puzzle);
      EXPECT_EQ(p.rating, sd::rating(p.puzzle));
      EXPECT_EQ(p.source, "list.txt");
    }
  EXPECT_EQ(seen.size(), 6u);
}

TEST(SudokuBuild, InvalidListedPuzzlesAreSkippedAndCountedOrAnError) {
  TempDir tmp;
  std::string two = kA;  // a solved grid with a swappable "a b / b a" rectangle blanked: 2 solutions
  bool found = false;
  for (int r1 = 0; r1 < 9 && !found; ++r1)
    for (int r2 = r1 + 1; r2 < r1 / 3 * 3 + 3 && !found; ++r2)
      for (int c1 = 0; c1 < 9 && !found; ++c1)
        for (int c2 = c1 / 3 * 3 + 3; c2 < 9 && !found; ++c2) {
          const int a = r1 * 9 + c1, b = r1 * 9 + c2, c = r2 * 9 + c1, d = r2 * 9 + c2;
          if (kA[a] == kA[d] && kA[b] == kA[c]) {
            two[a] = two[b] = two[c] = two[d] = '.';
            found = true;
          }
        }
  ASSERT_TRUE(found);
  std::string none = kQ;
  none[4] = '9';  // a second 9 in row 1
  const std::string list = kQ + "\n" + two + "\n" + none + "\n";
  SudokuBuildConfig c;
  c.output_dir = (tmp.path / "ds").string();
  c.inputs = {tmp.file("bad.txt", list)};
  c.train_size = 1;
  c.num_aug = 0;
  const std::string e = error_of([&] { hrm::data::build_sudoku_dataset(c); });
  EXPECT_NE(e.find("bad.txt:2: the puzzle has more than one solution"), std::string::npos) << e;
  EXPECT_FALSE(fs::exists(tmp.path / "ds")) << "no half dataset";
  c.on_invalid = hrm::data::OnInvalid::kSkip;
  const auto s = hrm::data::build_sudoku_dataset(c);
  EXPECT_EQ(s.multiple, 1);
  EXPECT_EQ(s.unsolvable, 1);
  EXPECT_EQ(s.train_puzzles + s.test_puzzles, 1);
}

// An empty --train file (or a filter that keeps nothing) wrote a dataset nothing can train on, exit 0.
TEST(SudokuBuild, NoTrainingPuzzlesIsAnErrorAndWritesNothing) {
  TempDir tmp;
  SudokuBuildConfig c;
  c.output_dir = (tmp.path / "ds").string();
  c.train_input = tmp.file("train.csv", kHeader);
  c.test_input = tmp.file("test.csv", kHeader + "x," + kQ + "," + kA + ",3\n");
  EXPECT_NE(error_of([&] { hrm::data::build_sudoku_dataset(c); }).find("no training puzzles in " + c.train_input),
            std::string::npos);
  c.train_input = c.test_input;
  c.min_difficulty = 1000;
  const std::string e = error_of([&] { hrm::data::build_sudoku_dataset(c); });
  EXPECT_NE(e.find("2 read in all; 2 below --min-difficulty"), std::string::npos) << e;
  EXPECT_FALSE(fs::exists(tmp.path / "ds")) << "no empty dataset";
}

// --num-aug 2147483647 ended in std::bad_alloc: more rows than the format addresses is refused first.
TEST(SudokuBuild, MoreExamplesThanTheFormatAddressesAreRefusedBeforeWriting) {
  TempDir tmp;
  SudokuBuildConfig c;
  c.output_dir = (tmp.path / "ds").string();
  c.train_input = c.test_input = tmp.file("one.csv", kHeader + "x," + kQ + "," + kA + ",3\n");
  c.num_aug = INT32_MAX;
  const std::string e = error_of([&] { hrm::data::build_sudoku_dataset(c); });
  EXPECT_NE(e.find("--num-aug 2147483647: 1 training puzzles x (1 + 2147483647) make 2147483648 examples"),
            std::string::npos)
      << e;
  EXPECT_FALSE(fs::exists(tmp.path / "ds"));
}

TEST(SudokuBuild, ParserErrorsNameFileLineAndWhatWasExpected) {
  TempDir tmp;
  auto err = [&](const std::string& text) {
    return error_of([&] { hrm::data::parse_sudoku_text(text, "in.csv"); });
  };
  std::string contradicting = kA;  // digits 1 and 2 swapped: still a valid grid, but not the question's
  for (char& ch : contradicting) ch = ch == '1' ? '2' : ch == '2' ? '1' : ch;
  std::string invalid = kA;
  std::swap(invalid[0], invalid[9]);  // 9 and 6 swapped across rows 1 and 2: row 1 holds 6 twice
  EXPECT_NE(err(kHeader + "s," + kQ + "," + kA + ",7\ns," + kQ.substr(1) + "," + kA + ",7\n").find("in.csv:3: question: expected 81 cells, got 80"),
            std::string::npos);
  EXPECT_NE(err(kHeader + "s," + kQ + "," + contradicting + ",7\n").find("in.csv:2: the answer contradicts the question at row 6, column 6 (question 2, answer 1)"),
            std::string::npos)
      << err(kHeader + "s," + kQ + "," + contradicting + ",7\n");
  EXPECT_NE(err(kHeader + "s," + kQ + "," + invalid + ",7\n").find("in.csv:2: the answer is not a valid solution"), std::string::npos)
      << err(kHeader + "s," + kQ + "," + invalid + ",7\n");
  EXPECT_NE(err(kHeader + "s," + kQ + "," + kA + ",seven\n").find("in.csv:2: rating 'seven'"), std::string::npos);
  EXPECT_NE(err(kHeader + "s," + kQ + "," + kA + "\n").find("in.csv:2: expected 4 fields"), std::string::npos);
  std::string letter = kQ;
  letter[10] = 'x';
  EXPECT_NE(err("# list\n" + kQ + "\n" + letter + "\n").find("in.csv:3: column 11: unexpected 'x'"), std::string::npos);
  EXPECT_NE(err(kQ + "\n" + kQ + ".\n").find("in.csv:2: expected 81 cells, got 82"), std::string::npos);
  // A blank inside the cells ends the puzzle early: the error says where it stopped and why.
  EXPECT_NE(err(kQ.substr(0, 9) + " " + kQ.substr(9) + "\n").find("in.csv:1: expected 81 cells, got 9 before a space"),
            std::string::npos)
      << err(kQ.substr(0, 9) + " " + kQ.substr(9) + "\n");
  EXPECT_NE(err(":1:" + kQ + "\n").find("in.csv:1: expected 81 cells, got 0 before ':'"), std::string::npos);
  SudokuBuildConfig c;
  c.output_dir = (tmp.path / "ds").string();
  c.inputs = {tmp.file("l.txt", kQ + "\n")};
  EXPECT_NE(error_of([&] { hrm::data::build_sudoku_dataset(c); }).find("--train-size is required"), std::string::npos);
  c.train_size = 2;
  EXPECT_NE(error_of([&] { hrm::data::build_sudoku_dataset(c); }).find("only 1 puzzles left"), std::string::npos);
}

TEST(SudokuBuild, ListLinesMayCarryACommentAfterTheCells) {
  // What collections write after a puzzle: tdoku's count and solution, a rating, an inline note.
  const auto puzzles = hrm::data::parse_sudoku_text(
      "# header\n  " + kQ + "  \n" + kQ + ":1:" + kA + "\n" + kQ + "\t11.7/1.2/1.2\n" + kQ + "# note, with a comma\n" + kQ +
          ";x\r\n" + kQ + "|y\n",
      "l.txt");
  ASSERT_EQ(puzzles.size(), 6u);
  for (const auto& p : puzzles) EXPECT_EQ(sd::to_string(p.puzzle), kQ) << p.where;
  EXPECT_EQ(puzzles[1].where, "l.txt:3");
  // tdoku's own solver tests, `puzzle:count[:solution]`, some with 0 or many solutions: those are skipped.
  TempDir tmp;
  SudokuBuildConfig c;
  c.output_dir = (tmp.path / "ds").string();
  c.inputs = {(fs::path(HRM_SHARED_DIR) / "data/sudoku/tdoku/test_puzzles").string()};
  c.on_invalid = hrm::data::OnInvalid::kSkip;
  c.train_size = 5;
  c.num_aug = 0;
  const auto s = hrm::data::build_sudoku_dataset(c);
  EXPECT_EQ(s.read, 43);
  EXPECT_GT(s.unsolvable + s.multiple, 0);
  EXPECT_EQ(s.train_puzzles, 5);
  EXPECT_GT(s.test_puzzles, 0);
}

TEST(SudokuBuild, TestPuzzlesAmongTheTrainingOnesAreCounted) {
  TempDir tmp;
  SudokuBuildConfig c = fixture_config(tmp.path / "ds", 1);
  c.test_input = c.train_input;  // the same file twice: every test puzzle is a training puzzle
  const auto same = hrm::data::build_sudoku_dataset(c);
  EXPECT_GT(same.test_puzzles, 0);
  EXPECT_EQ(same.test_in_train, same.test_puzzles);
  const auto apart = hrm::data::build_sudoku_dataset(fixture_config(tmp.path / "ds2", 1));
  EXPECT_EQ(apart.test_in_train, 0);
  // The command warns, and still writes the dataset.
  const std::string log = (tmp.path / "log.txt").string();
  const std::string cmd = std::string(HRM_BINARY) + " data sudoku " + (tmp.path / "ds3").string() + " --train " +
                          c.train_input + " --test " + c.train_input + " --num-aug 0 > " + log + " 2>&1";
  EXPECT_EQ(std::system(cmd.c_str()), 0) << slurp(log);
  EXPECT_NE(slurp(log).find("warning: " + std::to_string(same.test_puzzles) + " of the " + std::to_string(same.test_puzzles) +
                            " test puzzles are also training puzzles"),
            std::string::npos)
      << slurp(log);
  EXPECT_TRUE(fs::exists(tmp.path / "ds3/train/dataset.json"));
}

TEST(SudokuBuild, ShuffledCopiesOfTrainingPuzzlesInTheTestFileAreCounted) {
  TempDir tmp;
  SudokuBuildConfig c = fixture_config(tmp.path / "ds", 2);
  const auto train = hrm::data::read_sudoku_file(c.train_input);
  ASSERT_GE(train.size(), 3u);
  // Test file: two training puzzles shuffled (one of them twice) and the fixture's own test puzzles.
  hrm::Rng rng(7);
  std::string text;
  for (size_t i : {0, 1, 1}) text += sd::to_string(sd::apply_shuffle(sd::draw_shuffle(rng), train[i].puzzle)) + "\n";
  for (const auto& p : hrm::data::read_sudoku_file(c.test_input)) text += sd::to_string(p.puzzle) + "\n";
  c.test_input = (tmp.path / "test.txt").string();
  hrm::write_file_atomic(c.test_input, text);
  const auto s = hrm::data::build_sudoku_dataset(c);
  EXPECT_EQ(s.test_in_train, 3);
}

TEST(SudokuBuild, GeneratedPuzzlesAreUniqueAndRatedAboveTheMinimum) {
  TempDir tmp;
  SudokuBuildConfig c;
  c.output_dir = (tmp.path / "ds").string();
  c.generate = 6;
  c.min_rating = 2;
  c.train_size = 4;
  c.num_aug = 1;
  c.threads = 2;
  const auto s = hrm::data::build_sudoku_dataset(c);
  EXPECT_EQ(s.train_examples, 8);
  EXPECT_EQ(s.test_examples, 2);
  std::set<sd::Grid> seen;
  for (const char* split : {"train", "test"})
    for (const auto& p : hrm::data::read_sudoku_file((tmp.path / "ds/input" / (std::string(split) + ".csv")).string())) {
      EXPECT_GE(p.rating, 2);
      EXPECT_EQ(p.rating, sd::rating(p.puzzle));
      EXPECT_EQ(sd::solve(p.puzzle, 2).solutions, 1);
      EXPECT_TRUE(seen.insert(p.puzzle).second);
    }
  EXPECT_EQ(seen.size(), 6u);
}

TEST(SudokuBuild, CommandLineReportsBadInputWithFileAndLine) {
  TempDir tmp;
  const std::string bad = tmp.file("bad.csv", kHeader + "s," + kQ + "," + kQ + ",7\n");
  const std::string log = (tmp.path / "log.txt").string();
  const std::string cmd = std::string(HRM_BINARY) + " data sudoku " + (tmp.path / "ds").string() + " --train " + bad +
                          " --test " + bad + " > " + log + " 2>&1";
  const int rc = std::system(cmd.c_str());
  EXPECT_NE(rc, 0);
  const std::string out = slurp(log);
  EXPECT_NE(out.find("bad.csv:2: answer: column 5: unexpected '.' (expected a digit 1-9)"), std::string::npos) << out;
}
