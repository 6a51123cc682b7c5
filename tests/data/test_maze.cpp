// test_maze.cpp: tests src/data/maze.cpp and src/data/build_maze.cpp: the reference's maze-small
// fixture rebuilt byte for byte from its CSVs, answers checked with errors naming the CSV line,
// CSV quoting rules, and the generator's guarantees (long shortest paths, no duplicates, no wall
// layout in both splits, the same output for any thread count). Also runs `hrm data maze/info`.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <set>

#include "core/atomic_file.h"
#include "core/check.h"
#include "data/build_maze.h"
#include "data/dihedral.h"
#include "test_paths.h"
#include "test_support.h"

namespace hrm::data {
namespace {

const fs::path kMazeSmall = fs::path(HRM_SHARED_DIR) / "fixtures" / "datasets" / "maze-small";

using hrm::testing::temp_dir;

using hrm::testing::error_of;

// The first record of the fixture's train.csv, for mutations.
maze::MazeRecord fixture_record() { return maze::read_maze_csv((kMazeSmall / "input" / "train.csv").string()).at(0); }

TEST(MazeBuild, RebuildsTheReferenceFixtureByteForByte) {
  const fs::path out = temp_dir("fixture") / "maze";
  MazeBuildConfig cfg;
  cfg.output_dir = out.string();
  cfg.input_dir = (kMazeSmall / "input").string();
  cfg.aug = true;  // the options the fixture was built with
  build_maze_dataset(cfg);
  for (const char* f : {"identifiers.json", "train/dataset.json", "test/dataset.json"})
    EXPECT_EQ(read_file((out / f).string()), read_file((kMazeSmall / f).string())) << f;
  for (const char* split : {"train", "test"})
    for (const char* k : {"inputs", "labels", "puzzle_identifiers", "puzzle_indices", "group_indices"}) {
      const std::string f = std::string(split) + "/all__" + k + ".npy";
      EXPECT_EQ(read_file((out / f).string()), read_file((kMazeSmall / f).string())) << f;
    }
  fs::remove_all(out.parent_path());
}

TEST(MazeBuild, AugmentedGroupHoldsTheEightDihedralTransformsInOrder) {
  const Dataset d = Dataset::open(kMazeSmall, "train");
  const DatasetSet& s = d.sets()[0];
  std::vector<int32_t> base(900), row(900);
  s.input_row(8, base.data());  // group 1, transform 0
  for (int t = 0; t < 8; ++t) {
    s.input_row(8 + t, row.data());
    EXPECT_EQ(row, dihedral::transform(base, 30, 30, t)) << "tid " << t;
  }
}

TEST(MazeCheck, FixtureAnswersAreShortestPaths) {
  for (const char* f : {"train.csv", "test.csv"})
    for (const auto& r : maze::read_maze_csv((kMazeSmall / "input" / f).string()))
      EXPECT_EQ(maze::check_maze(r, 30, f), std::stoll(r.rating)) << f << ":" << r.line;
}

TEST(MazeCheck, BadAnswersNameTheCsvLine) {
  maze::MazeRecord r = fixture_record();
  r.line = 17;
  const size_t o = r.answer.find('o');
  auto check = [](const maze::MazeRecord& x) { return error_of<FormatError>([&] { maze::check_maze(x, 30, "m.csv"); }); };
  maze::MazeRecord missing = r;
  missing.answer[o] = ' ';
  EXPECT_NE(check(missing).find("m.csv:17: the answer's"), std::string::npos) << check(missing);
  maze::MazeRecord extra = r;
  extra.answer[extra.answer.find(' ')] = 'o';
  EXPECT_NE(check(extra).find("not a shortest path"), std::string::npos);
  maze::MazeRecord short_row = r;
  short_row.question.pop_back();
  EXPECT_NE(check(short_row).find("m.csv:17: question has 899 characters; expected 900 (a 30x30 grid, as the split's "
                                   "first row); a maze is square"),
            std::string::npos)
      << check(short_row);
  maze::MazeRecord bad_char = r;
  bad_char.question[5] = 'x';
  EXPECT_NE(check(bad_char).find("question character 'x' at position 5"), std::string::npos);
  maze::MazeRecord two_starts = r;
  const size_t open_cell = two_starts.question.find(' ');
  two_starts.question[open_cell] = two_starts.answer[open_cell] = 'S';
  EXPECT_NE(check(two_starts).find("more than one start"), std::string::npos);
  two_starts.answer[open_cell] = ' ';  // named as the question's fault, not as an answer disagreeing with it
  EXPECT_NE(check(two_starts).find("more than one start"), std::string::npos) << check(two_starts);
  maze::MazeRecord moved = r;  // an answer that contradicts its question
  moved.answer[moved.answer.find('#')] = ' ';
  EXPECT_NE(check(moved).find("where the question has '#'"), std::string::npos);
  maze::MazeRecord walled = r;  // wall in the goal: unreachable
  const size_t g = walled.question.find('G');
  for (int64_t nb : {-30, 30, -1, 1}) {
    const int64_t k = static_cast<int64_t>(g) + nb;
    if (k >= 0 && k < 900 && !(nb == -1 && g % 30 == 0) && !(nb == 1 && g % 30 == 29)) {
      walled.question[static_cast<size_t>(k)] = '#';
      walled.answer[static_cast<size_t>(k)] = '#';
    }
  }
  EXPECT_NE(check(walled).find("cannot be reached"), std::string::npos);
}

TEST(MazeCsv, ParsesQuotesCrlfAndBlankLinesAndNamesBadLines) {
  const auto recs = maze::parse_maze_csv("source,question,answer,rating\r\n\"a,b\",\"x\"\"y\",z,1\r\n\r\nc,\"multi\nline\",w,2\n", "t.csv");
  ASSERT_EQ(recs.size(), 2u);
  EXPECT_EQ(recs[0].source, "a,b");
  EXPECT_EQ(recs[0].question, "x\"y");
  EXPECT_EQ(recs[0].line, 2);
  EXPECT_EQ(recs[1].question, "multi\nline");
  EXPECT_EQ(recs[1].line, 4);
  EXPECT_NE(error_of<FormatError>([] { maze::parse_maze_csv("h\na,b,c\n", "t.csv"); }).find("t.csv:2: expected 4 fields"), std::string::npos);
  EXPECT_NE(error_of<FormatError>([] { maze::parse_maze_csv("h\na,\"b,c,d\n", "t.csv"); }).find("t.csv:2: quoted field not closed"), std::string::npos);
  EXPECT_NE(error_of<FormatError>([] { maze::parse_maze_csv("h\na,b\"c,d,e\n", "t.csv"); }).find("t.csv:2: unexpected '\"'"), std::string::npos);
  EXPECT_NE(error_of<FormatError>([] { maze::parse_maze_csv("", "t.csv"); }).find("empty file"), std::string::npos);
  // A file without its header row: refused, rather than its first puzzle silently dropped.
  const std::string row = "s," + std::string(16, '#') + "," + std::string(16, '#') + ",0\n";
  EXPECT_NE(error_of<FormatError>([&] { maze::parse_maze_csv(row + row, "t.csv"); }).find("t.csv:1: expected the header row"),
            std::string::npos);
  const std::string text = read_file((kMazeSmall / "input" / "test.csv").string());
  EXPECT_EQ(maze::format_maze_csv(maze::parse_maze_csv(text, "test.csv")), text);
}

TEST(MazeBuild, ImportRejectsABadRowWithItsLine) {
  const fs::path dir = temp_dir("badrow");
  fs::create_directories(dir / "in");
  auto recs = maze::read_maze_csv((kMazeSmall / "input" / "train.csv").string());
  recs[2].answer[recs[2].answer.find('o')] = ' ';
  write_file_atomic((dir / "in" / "train.csv").string(), maze::format_maze_csv(recs));
  fs::copy_file(kMazeSmall / "input" / "test.csv", dir / "in" / "test.csv");
  MazeBuildConfig cfg;
  cfg.output_dir = (dir / "out").string();
  cfg.input_dir = (dir / "in").string();
  EXPECT_NE(error_of<FormatError>([&] { build_maze_dataset(cfg); }).find("train.csv:4:"), std::string::npos);
  EXPECT_FALSE(fs::exists(dir / "out"));
  cfg.check = false;  // --no-check imports it as the reference would
  EXPECT_NO_THROW(build_maze_dataset(cfg));
  fs::remove_all(dir);
}

TEST(MazeGenerator, MazesAreValidLongDistinctAndSplitsShareNoLayout) {
  maze::GeneratorConfig g;
  g.min_path_length = 60;  // lower than Maze-Hard's 110 to keep the test fast
  g.seed = 4;
  const maze::GeneratedSplits s = maze::generate(g, 12, 8, 2);
  ASSERT_EQ(s.train.size(), 12u);
  ASSERT_EQ(s.test.size(), 8u);
  std::set<std::string> questions, train_layouts;
  for (const auto* split : {&s.train, &s.test})
    for (const auto& m : *split) {
      const maze::MazeRecord r{"gen", m.question, m.answer, "", 1};
      EXPECT_EQ(maze::check_maze(r, 30, "generated"), m.path_length);
      EXPECT_GT(m.path_length, 60);
      EXPECT_TRUE(questions.insert(m.question).second) << "duplicate maze";
      if (split == &s.train) train_layouts.insert(maze::wall_layout(m.question));
      else EXPECT_FALSE(train_layouts.count(maze::wall_layout(m.question))) << "wall layout in both splits";
    }
}

TEST(MazeGenerator, DefaultThresholdGivesPathsLongerThan110) {
  maze::GeneratorConfig g;  // Maze-Hard: > 110 moves
  const maze::GeneratedSplits s = maze::generate(g, 2, 0, 2);
  ASSERT_EQ(s.train.size(), 2u);
  for (const auto& m : s.train) EXPECT_GT(m.path_length, 110);
}

// More mazes than a 2x2 grid has (each of its layouts once) once ran forever: now an error after a
// stretch of attempts with no new maze, naming what was found and what to change.
// A path longer than the open cells allow is refused at once, naming the bound.
TEST(MazeGenerator, APathLongerThanTheOpenCellsAllowIsRefusedAtOnce) {
  maze::GeneratorConfig g;
  g.side = 30;
  g.min_path_length = 800;  // 30x30 with >= 270 walls: at most 630 open cells
  try {
    maze::generate(g, 1, 1, 2);
    FAIL() << "expected an error";
  } catch (const ConfigError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("--min-path-length 800 cannot be met: a 30x30 maze with at least 270 walls (--wall-min 0.3) has "
                        "at most 630 open cells, so no path is longer than 629 moves"),
              std::string::npos)
        << what;
  }
}

TEST(MazeGenerator, ARequestThatCannotBeMetIsAnErrorNotAHang) {
  maze::GeneratorConfig g;
  g.side = 2;
  g.min_path_length = 0;
  try {
    maze::generate(g, 100, 100, 2);
    FAIL() << "expected an error";
  } catch (const ConfigError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("no new maze in"), std::string::npos) << what;
    EXPECT_NE(what.find("of 100 train"), std::string::npos) << what;
    EXPECT_NE(what.find("--min-path-length"), std::string::npos) << what;
  }
}

TEST(MazeGenerator, OutputDependsOnTheSeedNotOnThreads) {
  maze::GeneratorConfig g;
  g.min_path_length = 50;
  g.seed = 7;
  const auto one = maze::generate(g, 5, 3, 1), two = maze::generate(g, 5, 3, 2), three = maze::generate(g, 5, 3, 3);
  for (size_t i = 0; i < 5; ++i) {
    EXPECT_EQ(one.train[i].question, two.train[i].question);
    EXPECT_EQ(one.train[i].answer, three.train[i].answer);
  }
  EXPECT_EQ(one.attempts, three.attempts);
  g.seed = 8;
  EXPECT_NE(maze::generate(g, 1, 0, 2).train[0].question, one.train[0].question);
}

TEST(MazeBuild, GeneratedDatasetIsByteIdenticalForASeedAndSavesItsCsv) {
  const fs::path dir = temp_dir("gen");
  MazeBuildConfig cfg;
  cfg.generator.min_path_length = 50;
  cfg.train_size = 4;
  cfg.test_size = 2;
  cfg.seed = 3;
  cfg.aug = true;
  for (int threads : {1, 2}) {
    cfg.threads = threads;
    cfg.output_dir = (dir / ("t" + std::to_string(threads))).string();
    const MazeBuildSummary sum = build_maze_dataset(cfg);
    EXPECT_EQ(sum.train_examples, 32);
    EXPECT_EQ(sum.test_examples, 2);
  }
  for (const char* f : {"train/all__inputs.npy", "train/all__labels.npy", "test/all__inputs.npy", "input/train.csv", "input/test.csv"})
    EXPECT_EQ(read_file((dir / "t1" / f).string()), read_file((dir / "t2" / f).string())) << f;
  // The saved CSVs rebuild the same dataset through the import path.
  MazeBuildConfig again;
  again.input_dir = (dir / "t1" / "input").string();
  again.output_dir = (dir / "again").string();
  again.aug = true;
  build_maze_dataset(again);
  EXPECT_EQ(read_file((dir / "again/train/all__inputs.npy").string()), read_file((dir / "t1/train/all__inputs.npy").string()));
  fs::remove_all(dir);
}

TEST(MazeBuild, SubsampleIsSeededAndDistinct) {
  const fs::path dir = temp_dir("subsample");
  MazeBuildConfig cfg;
  cfg.input_dir = (kMazeSmall / "input").string();
  cfg.subsample_size = 4;
  cfg.seed = 1;
  cfg.output_dir = (dir / "a").string();
  build_maze_dataset(cfg);
  cfg.output_dir = (dir / "b").string();
  build_maze_dataset(cfg);
  EXPECT_EQ(read_file((dir / "a/train/all__inputs.npy").string()), read_file((dir / "b/train/all__inputs.npy").string()));
  const Dataset d = Dataset::open(dir / "a", "train");
  EXPECT_EQ(d.sets()[0].examples(), 4);
  std::set<std::vector<int32_t>> rows;
  std::vector<int32_t> row(900);
  for (int64_t e = 0; e < 4; ++e) {
    d.sets()[0].input_row(e, row.data());
    rows.insert(row);
  }
  EXPECT_EQ(rows.size(), 4u);
  fs::remove_all(dir);
}

TEST(MazeCli, DataMazeAndDataInfoRunFromTheBinary) {
  const fs::path dir = temp_dir("cli");
  const std::string build = std::string(HRM_BINARY) + " data maze " + (dir / "m").string() + " --input " +
                            (kMazeSmall / "input").string() + " --aug > " + (dir / "build.txt").string() + " 2>&1";
  ASSERT_EQ(std::system(build.c_str()), 0) << read_file((dir / "build.txt").string());
  EXPECT_EQ(read_file((dir / "m/train/all__inputs.npy").string()), read_file((kMazeSmall / "train/all__inputs.npy").string()));
  const std::string info = std::string(HRM_BINARY) + " data info " + (dir / "m").string() + " --example 3 > " + (dir / "info.txt").string() + " 2>&1";
  ASSERT_EQ(std::system(info.c_str()), 0) << read_file((dir / "info.txt").string());
  const std::string text = read_file((dir / "info.txt").string());
  EXPECT_NE(text.find("set 'all': 48 examples, 48 puzzles, 6 groups"), std::string::npos) << text;
  EXPECT_NE(text.find("set 'all': 4 examples, 4 puzzles, 4 groups"), std::string::npos) << text;
  EXPECT_NE(text.find("|u1  uint8    (48, 900) 43328 bytes"), std::string::npos) << text;
  EXPECT_NE(text.find("example 3 of set 'all'"), std::string::npos);
  EXPECT_NE(text.find('S'), std::string::npos);
  const std::string bad = std::string(HRM_BINARY) + " data info " + dir.string() + " > /dev/null 2>&1";
  EXPECT_NE(std::system(bad.c_str()), 0) << "a directory without a dataset must fail";
  // A generator option beside --input was silently ignored (all the CSVs' mazes were written).
  const std::string ignored = std::string(HRM_BINARY) + " --threads 1 data maze " + (dir / "m2").string() + " --input " +
                              (kMazeSmall / "input").string() + " --train-size 3 > " + (dir / "ignored.txt").string() + " 2>&1";
  EXPECT_EQ(WEXITSTATUS(std::system(ignored.c_str())), 2);
  EXPECT_NE(read_file((dir / "ignored.txt").string()).find("--train-size applies to generated mazes"), std::string::npos)
      << read_file((dir / "ignored.txt").string());
  EXPECT_FALSE(fs::exists(dir / "m2"));
  fs::remove_all(dir);
}

}  // namespace
}  // namespace hrm::data
