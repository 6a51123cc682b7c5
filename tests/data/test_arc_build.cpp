// test_arc_build.cpp: tests of src/data/build_arc.cpp against the reference's own build of the
// same 7 tasks (shared/fixtures/datasets/arc-small): same files, dtypes, metadata and group/puzzle
// structure, every example decodes to its task's pair, and the fixture's examples decode with our
// inverse augmentations; byte-identical builds for 1 and 2 threads; bad input.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "cli/cli_run.h"
#include "core/atomic_file.h"
#include "core/check.h"
#include "data/arc_scoring.h"
#include "data/build_arc.h"
#include "data/dataset.h"
#include "test_paths.h"

namespace hrm::arc {
namespace {

namespace fs = std::filesystem;

const fs::path kFixture = fs::path(HRM_SHARED_DIR) / "fixtures/datasets/arc-small";
const fs::path kRaw = fs::path(HRM_SHARED_DIR) / "data/arc";

// The fixture README's layout: an ARC-AGI-1 `data` dir and a ConceptARC `corpus` dir cut down.
const std::vector<std::pair<std::string, std::string>> kFixtureTasks = {
    {"ARC-AGI-1/training/007bbfb7.json", "ARC-AGI/data/training"},
    {"ARC-AGI-1/training/25ff71a9.json", "ARC-AGI/data/training"},
    {"ARC-AGI-1/training/3631a71a.json", "ARC-AGI/data/training"},
    {"ARC-AGI-1/evaluation/20818e16.json", "ARC-AGI/data/evaluation"},
    {"ARC-AGI-1/evaluation/31d5ba1a.json", "ARC-AGI/data/evaluation"},
    {"ConceptARC/Copy/Copy1.json", "ConceptARC/corpus/Copy"},
    {"ConceptARC/Count/Count1.json", "ConceptARC/corpus/Count"},
};

class TempDir {
 public:
  TempDir() {
    path_ = fs::temp_directory_path() / ("hrm_test_arc_" + std::to_string(::getpid()) + "_" + std::to_string(counter_++));
    fs::remove_all(path_);
    fs::create_directories(path_);
  }
  ~TempDir() { fs::remove_all(path_); }
  const fs::path& path() const { return path_; }

 private:
  static inline int counter_ = 0;
  fs::path path_;
};

// Copies the fixture's 7 task files into root in the reference's layout; returns the dataset dirs.
std::vector<std::string> stage_fixture_tasks(const fs::path& root) {
  for (const auto& [src, dst] : kFixtureTasks) {
    fs::create_directories(root / dst);
    fs::copy_file(kRaw / src, root / dst / fs::path(src).filename());
  }
  return {(root / "ARC-AGI/data").string(), (root / "ConceptARC/corpus").string()};
}

std::map<std::string, SourceTask> tasks_by_id(const std::vector<std::string>& dirs) {
  std::map<std::string, SourceTask> out;
  for (auto& st : load_task_dirs(dirs, 0)) out[st.task.id] = st;
  return out;
}

// The task pairs a puzzle of `split` holds, in the reference's order (file key order).
std::vector<Pair> expected_pairs(const SourceTask& st, const std::string& split) {
  if (split == "test") return st.task.test;
  if (st.evaluation) return st.task.train;
  std::vector<Pair> out = st.task.test_first ? st.task.test : st.task.train;
  const auto& rest = st.task.test_first ? st.task.train : st.task.test;
  out.insert(out.end(), rest.begin(), rest.end());
  return out;
}

// The README's "Verified" check: every stored example, decoded through its identifier's transform
// and colour map, is its task's pair, stored exactly as encode_grid writes it at its offset; test
// examples sit at (0,0); every train puzzle has an example at (0,0). Returns the group structure:
// task id -> puzzle sizes.
std::map<std::string, std::vector<int64_t>> check_decodes(const fs::path& dir, const std::string& split,
                                                          const std::map<std::string, SourceTask>& tasks) {
  const auto ids = data::read_identifiers(dir);
  const data::Dataset ds = data::Dataset::open(dir, split);
  const data::DatasetSet& set = ds.set("all");
  std::map<std::string, std::vector<int64_t>> groups;
  std::vector<int32_t> in(kSeqLen), lab(kSeqLen);
  std::vector<uint8_t> in8(kSeqLen), lab8(kSeqLen), want(kSeqLen);
  for (int64_t g = 0; g < set.groups(); ++g) {
    std::string group_task;
    for (int32_t p = set.group_indices[g]; p < set.group_indices[g + 1]; ++p) {
      const std::string& name = ids.at(static_cast<size_t>(set.puzzle_identifiers[p]));
      const PuzzleName pn = parse_puzzle_name(name);
      SCOPED_TRACE(split + " puzzle " + name);
      EXPECT_EQ(pn.augmented, p != set.group_indices[g]) << "the original comes first in its group";
      if (group_task.empty()) group_task = pn.task_id;
      EXPECT_EQ(pn.task_id, group_task);
      const auto pairs = expected_pairs(tasks.at(pn.task_id), split);
      const int64_t first = set.puzzle_indices[p], count = set.puzzle_indices[p + 1] - first;
      groups[group_task].push_back(count);
      EXPECT_EQ(count, static_cast<int64_t>(pairs.size()));
      bool has_origin = false;
      for (int64_t k = 0; k < count && k < static_cast<int64_t>(pairs.size()); ++k) {
        set.input_row(first + k, in.data());
        set.label_row(first + k, lab.data());
        std::copy(in.begin(), in.end(), in8.begin());
        std::copy(lab.begin(), lab.end(), lab8.begin());
        int r = 0, c = 0, lr = 0, lc = 0;
        const Grid gi = locate(in8.data(), &r, &c), go = locate(lab8.data(), &lr, &lc);
        EXPECT_EQ(r, lr);
        EXPECT_EQ(c, lc);
        EXPECT_EQ(invert(gi, pn.aug), pairs[k].input) << "example " << k;
        EXPECT_EQ(invert(go, pn.aug), pairs[k].output) << "example " << k;
        encode_grid(apply(pairs[k].input, pn.aug), r, c, want.data());
        EXPECT_EQ(in8, want) << "example " << k << " input bytes";
        encode_grid(apply(pairs[k].output, pn.aug), r, c, want.data());
        EXPECT_EQ(lab8, want) << "example " << k << " label bytes";
        if (split == "test") EXPECT_TRUE(r == 0 && c == 0);
        has_origin = has_origin || (r == 0 && c == 0);
      }
      EXPECT_TRUE(has_origin) << "no untranslated example";
    }
  }
  return groups;
}

std::vector<std::string> relative_files(const fs::path& dir) {
  std::vector<std::string> out;
  for (const auto& e : fs::recursive_directory_iterator(dir))
    if (e.is_regular_file() && e.path().filename() != "README.md") out.push_back(fs::relative(e.path(), dir).string());
  std::sort(out.begin(), out.end());
  return out;
}

TEST(ArcBuild, FixtureExamplesDecodeThroughOurInverseAugmentations) {
  TempDir tmp;
  const auto tasks = tasks_by_id(stage_fixture_tasks(tmp.path()));
  const auto train = check_decodes(kFixture, "train", tasks);
  const auto test = check_decodes(kFixture, "test", tasks);
  EXPECT_EQ(train.size(), 7u);
  EXPECT_EQ(test.size(), 2u);
}

TEST(ArcBuild, SameFilesMetadataAndStructureAsTheReferenceBuild) {
  TempDir tmp;
  const auto dirs = stage_fixture_tasks(tmp.path());
  BuildConfig cfg;
  cfg.dataset_dirs = dirs;
  cfg.output_dir = (tmp.path() / "out").string();
  cfg.num_aug = 4;
  cfg.threads = 2;
  const BuildSummary s = build_dataset(cfg);
  EXPECT_EQ(s.num_identifiers, 36);
  EXPECT_EQ(s.tasks_per_dir, (std::vector<std::pair<std::string, int64_t>>{{dirs[0], 5}, {dirs[1], 2}}));
  EXPECT_TRUE(s.short_groups.empty());

  const fs::path out = cfg.output_dir;
  ASSERT_EQ(relative_files(out), relative_files(kFixture));
  for (const auto& f : relative_files(out)) {
    if (fs::path(f).extension() == ".npy") {
      const auto ours = npy::Array::load((out / f).string()), ref = npy::Array::load((kFixture / f).string());
      EXPECT_EQ(ours.dtype(), ref.dtype()) << f;
      EXPECT_EQ(ours.shape(), ref.shape()) << f;
      EXPECT_EQ(ours.header().data_offset, ref.header().data_offset) << f;
    } else if (fs::path(f).filename() == "dataset.json") {
      EXPECT_EQ(read_file((out / f).string()), read_file((kFixture / f).string())) << f;  // byte-identical
    }
  }
  const auto ours_ids = data::read_identifiers(out), ref_ids = data::read_identifiers(kFixture);
  ASSERT_EQ(ours_ids.size(), ref_ids.size());
  std::set<std::string> ours_tasks, ref_tasks;
  for (size_t i = 1; i < ours_ids.size(); ++i) {
    ours_tasks.insert(parse_puzzle_name(ours_ids[i]).task_id);
    ref_tasks.insert(parse_puzzle_name(ref_ids[i]).task_id);
  }
  EXPECT_EQ(ours_tasks, ref_tasks);

  const auto tasks = tasks_by_id(dirs);
  for (const std::string split : {"train", "test"})
    EXPECT_EQ(check_decodes(out, split, tasks), check_decodes(kFixture, split, tasks)) << split;
}

std::map<std::string, std::string> read_all(const fs::path& dir) {
  std::map<std::string, std::string> out;
  for (const auto& f : relative_files(dir)) out[f] = read_file((dir / f).string());
  return out;
}

TEST(ArcBuild, ByteIdenticalForASeedWithOneAndTwoThreads) {
  TempDir tmp;
  BuildConfig cfg;
  cfg.dataset_dirs = stage_fixture_tasks(tmp.path());
  cfg.num_aug = 12;
  std::vector<std::map<std::string, std::string>> builds;
  for (int threads : {1, 2}) {
    cfg.threads = threads;
    cfg.output_dir = (tmp.path() / ("out" + std::to_string(threads))).string();
    build_dataset(cfg);
    builds.push_back(read_all(cfg.output_dir));
  }
  EXPECT_EQ(builds[0], builds[1]);
  cfg.seed = 43;
  cfg.output_dir = (tmp.path() / "other").string();
  build_dataset(cfg);
  EXPECT_NE(read_all(cfg.output_dir).at("train/all__inputs.npy"), builds[0].at("train/all__inputs.npy"));
}

void write(const fs::path& p, const std::string& text) {
  fs::create_directories(p.parent_path());
  std::ofstream(p) << text;
}

TEST(ArcBuild, WithoutEvaluationDirThereIsNoTestSplitAndShortGroupsAreReported) {
  TempDir tmp;
  write(tmp.path() / "in/concept/a.json", R"({"train": [{"input": [[0]], "output": [[0]]}], "test": [{"input": [[0]], "output": [[0]]}]})");
  write(tmp.path() / "in/concept/.hidden.json", "not json");
  write(tmp.path() / "in/top.json", "not json either: files at the top are not read");
  BuildConfig cfg;
  cfg.dataset_dirs = {(tmp.path() / "in").string()};
  cfg.output_dir = (tmp.path() / "out").string();
  cfg.num_aug = 3;
  const BuildSummary s = build_dataset(cfg);
  EXPECT_EQ(s.short_groups, (std::vector<std::pair<std::string, int64_t>>{{"a", 1}}));
  EXPECT_EQ(s.num_identifiers, 2);
  EXPECT_EQ(relative_files(cfg.output_dir),
            (std::vector<std::string>{"identifiers.json", "train/all__group_indices.npy", "train/all__inputs.npy",
                                      "train/all__labels.npy", "train/all__puzzle_identifiers.npy",
                                      "train/all__puzzle_indices.npy", "train/dataset.json"}));
  EXPECT_EQ(s.train_examples, 2);
  // Opening its missing test split (hrm train, hrm eval) says why there is none.
  try {
    data::Dataset::open(cfg.output_dir, "test");
    FAIL() << "expected an error";
  } catch (const FormatError& e) {
    EXPECT_NE(std::string(e.what()).find("has a training split only (hrm data arc writes a test split from the tasks "
                                         "of an evaluation/ folder)"),
              std::string::npos)
        << e.what();
  }
}

// --num-aug 100000000 grew memory for minutes: above the distinct augmentations a task has, refused.
// A folder given twice in --dataset-dirs too.
TEST(ArcBuild, MoreAugmentationsThanATaskHasOrAFolderTwiceAreRefused) {
  TempDir tmp;
  write(tmp.path() / "in/training/a.json", R"({"train": [{"input": [[0]], "output": [[0]]}], "test": [{"input": [[0]], "output": [[0]]}]})");
  BuildConfig cfg;
  cfg.dataset_dirs = {(tmp.path() / "in").string()};
  cfg.output_dir = (tmp.path() / "out").string();
  cfg.num_aug = 8 * 362880;
  try {
    build_dataset(cfg);
    FAIL() << "expected an error";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("--num-aug 2903040: expected 0 to 2903039"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(fs::exists(cfg.output_dir));
  cfg.num_aug = 1;  // one folder named twice: each task was reported as a duplicate of itself
  cfg.dataset_dirs.push_back((tmp.path() / "in" / ".").string());
  try {
    build_dataset(cfg);
    FAIL() << "expected an error";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("--dataset-dirs names " + cfg.dataset_dirs[0] + " twice"), std::string::npos)
        << e.what();
  }
}

TEST(ArcBuild, BadTaskFileIsAnErrorNamingItAndLeavesNoOutput) {
  TempDir tmp;
  write(tmp.path() / "in/training/good.json", R"({"train": [{"input": [[1]], "output": [[1]]}], "test": [{"input": [[1]], "output": [[1]]}]})");
  write(tmp.path() / "in/training/bad.json", R"({"train": [{"input": [[1, 2], [3]], "output": [[1]]}], "test": []})");
  BuildConfig cfg;
  cfg.dataset_dirs = {(tmp.path() / "in").string()};
  cfg.output_dir = (tmp.path() / "out").string();
  try {
    build_dataset(cfg);
    FAIL() << "no error";
  } catch (const FormatError& e) {
    EXPECT_NE(std::string(e.what()).find("in/training/bad.json: train[0].input[1]: ragged grid"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(fs::exists(cfg.output_dir));
  EXPECT_EQ(std::distance(fs::directory_iterator(tmp.path()), fs::directory_iterator()), 1);  // no temp dir left

  fs::remove(tmp.path() / "in/training/bad.json");
  write(tmp.path() / "in/evaluation/good.json", R"({"train": [{"input": [[1]], "output": [[1]]}], "test": [{"input": [[1]], "output": [[1]]}]})");
  EXPECT_THROW(build_dataset(cfg), FormatError);  // the same task id twice
  cfg.dataset_dirs = {(tmp.path() / "missing").string()};
  EXPECT_THROW(build_dataset(cfg), ConfigError);
}

// Scores a split with its own labels as the predictions: every task must be right, and the
// submission must hold each task's test outputs; with the inputs as predictions, tasks whose
// outputs differ from their inputs are wrong.
void check_scoring_with_labels(const fs::path& dir, const std::map<std::string, SourceTask>& tasks) {
  const TestSplit split = load_test_split(dir.string());
  std::vector<int32_t> labels(static_cast<size_t>(split.num_examples) * kSeqLen), inputs(labels.size());
  std::vector<int32_t> ids(static_cast<size_t>(split.num_examples));
  for (int64_t e = 0; e < split.num_examples; ++e) {
    split.label_row(e, labels.data() + e * kSeqLen);
    split.input_row(e, inputs.data() + e * kSeqLen);
  }
  for (size_t p = 0; p + 1 < split.puzzle_indices.size(); ++p)
    for (int32_t e = split.puzzle_indices[p]; e < split.puzzle_indices[p + 1]; ++e) ids[e] = split.puzzle_identifiers[p];
  const std::vector<float> q(ids.size(), 0.f);
  const Score right = score(split, {split.num_examples, labels.data(), ids.data(), q.data()});
  ASSERT_EQ(right.tasks.size(), 2u);
  EXPECT_EQ(right.tasks_correct, (std::vector<int64_t>{2, 2, 2, 2, 2}));
  const auto sub = nlohmann::json::parse(submission_json(right));
  for (const auto& [id, attempts] : sub.items()) {
    const auto& test = tasks.at(id).task.test;
    ASSERT_EQ(attempts.size(), test.size());
    for (size_t j = 0; j < test.size(); ++j) {
      const Grid& g = test[j].output;
      ASSERT_EQ(attempts[j]["attempt_1"].size(), static_cast<size_t>(g.rows));
      for (int r = 0; r < g.rows; ++r)
        for (int c = 0; c < g.cols; ++c) EXPECT_EQ(attempts[j]["attempt_1"][r][c].get<int>(), g.at(r, c));
    }
  }
  const Score wrong = score(split, {split.num_examples, inputs.data(), ids.data(), q.data()});
  EXPECT_EQ(wrong.tasks_correct[0], 0);
}

TEST(ArcBuild, ScoringTheTestSplitWithItsOwnLabelsGivesFullMarks) {
  TempDir tmp;
  BuildConfig cfg;
  cfg.dataset_dirs = stage_fixture_tasks(tmp.path());
  cfg.output_dir = (tmp.path() / "out").string();
  cfg.num_aug = 4;
  build_dataset(cfg);
  const auto tasks = tasks_by_id(cfg.dataset_dirs);
  check_scoring_with_labels(cfg.output_dir, tasks);
  check_scoring_with_labels(kFixture, tasks);  // the reference's names and augmentations
}

TEST(ArcCli, DataArcBuildsAndReportsBadInputFromTheBinary) {
  TempDir tmp;
  const auto dirs = stage_fixture_tasks(tmp.path());
  const std::string out = (tmp.path() / "out").string();
  const auto r = testing::run_hrm({"data", "arc", out, "--dataset-dirs", dirs[0], dirs[1], "--num-aug", "2", "--threads", "2"});
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("] total puzzles: 5"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("Total puzzle IDs (including <blank>): 22"), std::string::npos) << r.output;
  EXPECT_EQ(data::read_identifiers(out).size(), 22u);

  write(tmp.path() / "bad/training/x.json", R"({"train": [{"input": [[1]], "output": [[12]]}], "test": []})");
  const auto bad = testing::run_hrm({"data", "arc", out, "--dataset-dirs", (tmp.path() / "bad").string()});
  EXPECT_NE(bad.status, 0);
  EXPECT_NE(bad.output.find("error: "), std::string::npos) << bad.output;
  EXPECT_NE(bad.output.find("bad/training/x.json: train[0].output[0][0]: expected a colour 0..9, got 12"), std::string::npos)
      << bad.output;
  EXPECT_EQ(data::read_identifiers(out).size(), 22u) << "a failed build leaves the previous dataset alone";
}

}  // namespace
}  // namespace hrm::arc
