// test_dataset.cpp: tests src/data/dataset.cpp: every reference-built fixture dataset loads and its
// dataset.json re-serialises byte for byte; datasets we write have the reference's files, dtypes,
// shapes and metadata (byte-identical for the uint8 fixtures; numpy and a reference-style loader read
// them); structural errors name the file; the writer is atomic.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>

#include "core/atomic_file.h"
#include "core/check.h"
#include "data/dataset.h"
#include "test_paths.h"
#include "test_support.h"

namespace hrm::data {
namespace {

using hrm::testing::kDatasetFixtures;

using hrm::testing::temp_dir;

std::vector<fs::path> fixture_datasets() {
  std::vector<fs::path> out;
  for (const auto& e : fs::directory_iterator(kDatasetFixtures))
    if (fs::exists(e.path() / "identifiers.json")) out.push_back(e.path());
  std::sort(out.begin(), out.end());
  return out;
}

// Rewrites a dataset through DatasetWriter group by group, as a builder would.
void copy_dataset(const fs::path& src, const fs::path& dst) {
  DatasetWriter w(dst);
  for (const char* split : {"train", "test"}) {
    const Dataset d = Dataset::open(src, split);
    const DatasetSet& s = d.sets().at(0);
    SplitWriter& sw = w.split(split, d.metadata().seq_len, d.metadata().vocab_size, s.name);
    std::vector<int32_t> in(static_cast<size_t>(d.metadata().seq_len)), lab(in.size());
    for (int64_t g = 0; g < s.groups(); ++g) {
      sw.begin_group();
      for (int32_t p = s.group_indices[g]; p < s.group_indices[g + 1]; ++p) {
        sw.begin_puzzle(s.puzzle_identifiers[p]);
        for (int32_t e = s.puzzle_indices[p]; e < s.puzzle_indices[p + 1]; ++e) {
          s.input_row(e, in.data());
          s.label_row(e, lab.data());
          sw.add_example(in.data(), lab.data());
        }
      }
    }
    sw.finish(d.metadata());
  }
  w.commit(read_identifiers(src));
}

std::vector<std::string> dataset_files(const fs::path& root) {
  std::vector<std::string> out;
  for (const auto& e : fs::recursive_directory_iterator(root))
    if (e.is_regular_file() && e.path().extension() != ".md" && e.path().parent_path().filename() != "input")
      out.push_back(fs::relative(e.path(), root).string());
  std::sort(out.begin(), out.end());
  return out;
}

TEST(DatasetFixtures, EveryReferenceDatasetLoadsWithConsistentStructure) {
  const auto datasets = fixture_datasets();
  ASSERT_GE(datasets.size(), 3u) << "expected the reference's fixture datasets in " << kDatasetFixtures;
  for (const auto& dir : datasets) {
    const auto ids = read_identifiers(dir);
    ASSERT_FALSE(ids.empty());
    EXPECT_EQ(ids[0], "<blank>");
    for (const char* split : {"train", "test"}) {
      SCOPED_TRACE(dir.string() + "/" + split);
      const Dataset d = Dataset::open(dir, split);
      const auto& m = d.metadata();
      EXPECT_EQ(m.num_puzzle_identifiers, static_cast<int64_t>(ids.size()));
      // dataset.json re-serialises to the reference's exact bytes.
      EXPECT_EQ(metadata_to_json(m), read_file((dir / split / "dataset.json").string()));
      for (const auto& s : d.sets()) {
        EXPECT_EQ(s.inputs.dim(1), m.seq_len);
        std::vector<int32_t> row(static_cast<size_t>(m.seq_len));
        for (int64_t e = 0; e < s.examples(); ++e) {
          s.input_row(e, row.data());
          for (int32_t t : row) ASSERT_TRUE(t >= 0 && t < m.vocab_size);
        }
        EXPECT_DOUBLE_EQ(m.mean_puzzle_examples, static_cast<double>(s.examples()) / static_cast<double>(s.puzzles()));
      }
    }
  }
}

TEST(DatasetFixtures, RewritingAFixtureGivesTheSameFilesShapesAndMetadata) {
  for (const auto& src : fixture_datasets()) {
    SCOPED_TRACE(src.string());
    const fs::path out = temp_dir("copy") / src.filename();
    copy_dataset(src, out);
    EXPECT_EQ(dataset_files(out), dataset_files(src));
    EXPECT_EQ(read_file((out / "identifiers.json").string()), read_file((src / "identifiers.json").string()));
    for (const std::string& f : dataset_files(src)) {
      if (f == "identifiers.json") continue;
      const std::string a = read_file((src / f).string()), b = read_file((out / f).string());
      if (f.find("inputs") != std::string::npos || f.find("labels") != std::string::npos) {
        const npy::Array x = npy::Array::load((src / f).string()), y = npy::Array::load((out / f).string());
        EXPECT_EQ(y.shape(), x.shape()) << f;
        EXPECT_EQ(y.to_int32(), x.to_int32()) << f;
        EXPECT_EQ(y.dtype(), npy::DType::u1) << f << ": tokens of a vocab <= 256 are uint8";
        if (x.dtype() == npy::DType::u1) {
          EXPECT_EQ(a, b) << f;  // the reference's int64 Sudoku quirk aside
        }
      } else {
        EXPECT_EQ(a, b) << f;  // index arrays and dataset.json: byte-identical
      }
    }
    fs::remove_all(out.parent_path());
  }
}

TEST(DatasetMetadata, PythonFloatReprAndNullIgnoreLabel) {
  EXPECT_EQ(python_float_repr(1.0), "1.0");
  EXPECT_EQ(python_float_repr(1.5), "1.5");
  EXPECT_EQ(python_float_repr(185.0 / 35.0), "5.285714285714286");
  EXPECT_EQ(python_float_repr(1e16), "1e+16");
  EXPECT_EQ(python_float_repr(1e15), "1000000000000000.0");
  EXPECT_EQ(python_float_repr(1e-5), "1e-05");
  DatasetMetadata m;
  m.ignore_label_id.reset();
  m.vocab_size = 12;
  m.seq_len = 900;
  m.sets = {"all", "b"};
  const std::string j = metadata_to_json(m);
  EXPECT_EQ(j,
            "{\"pad_id\": 0, \"ignore_label_id\": null, \"blank_identifier_id\": 0, \"vocab_size\": 12, \"seq_len\": 900, "
            "\"num_puzzle_identifiers\": 1, \"total_groups\": 0, \"mean_puzzle_examples\": 0.0, \"sets\": [\"all\", \"b\"]}");
  const DatasetMetadata back = metadata_from_json(j, "x.json");
  EXPECT_FALSE(back.ignore_label_id.has_value());
  EXPECT_EQ(back.sets, m.sets);
  EXPECT_EQ(identifiers_to_json({"<blank>", "a\"b", "\xc3\xa9"}), "[\"<blank>\", \"a\\\"b\", \"\\u00e9\"]");
}

TEST(DatasetMetadata, BadDatasetJsonNamesFileAndKey) {
  auto err = [](const std::string& text) {
    try {
      metadata_from_json(text, "d/dataset.json");
    } catch (const FormatError& e) {
      return std::string(e.what());
    }
    return std::string("<no FormatError>");
  };
  const std::string ok = metadata_to_json([] {
    DatasetMetadata m;
    m.vocab_size = 6;
    m.seq_len = 900;
    return m;
  }());
  EXPECT_NO_THROW(metadata_from_json(ok, "d/dataset.json"));
  EXPECT_NE(err("{").find("d/dataset.json: invalid JSON"), std::string::npos);
  // A number beyond double (nlohmann throws out_of_range, not parse_error; found by fuzz_dataset_json).
  EXPECT_NE(err("{\"vocab_size\": 818e0818}").find("d/dataset.json: invalid JSON"), std::string::npos);
  EXPECT_NE(err("[1]").find("expected a JSON object"), std::string::npos);
  std::string no_seq = ok;
  no_seq.replace(no_seq.find("\"seq_len\""), 9, "\"seq_lem\"");
  EXPECT_NE(err(no_seq).find("missing key 'seq_len'"), std::string::npos);
  std::string str_vocab = ok;
  str_vocab.replace(str_vocab.find("6,"), 1, "\"6\"");
  EXPECT_NE(err(str_vocab).find("key 'vocab_size' must be an integer"), std::string::npos);
  std::string bad_set = ok;
  bad_set.replace(bad_set.find("\"all\""), 5, "\"../x\"");
  EXPECT_NE(err(bad_set).find("not a plain file-name prefix"), std::string::npos);
  std::string pad = ok;
  pad.replace(pad.find("\"pad_id\": 0"), 11, "\"pad_id\": 9");
  EXPECT_NE(err(pad).find("pad_id 9 outside"), std::string::npos);
}

// A small dataset written by hand: two groups, puzzles of 1-3 examples, vocab above 256 (uint16).
fs::path write_small(const fs::path& out, int64_t vocab = 300) {
  DatasetWriter w(out);
  SplitWriter& s = w.split("train", 2, vocab);
  int32_t ex = 0;
  for (int g = 0; g < 2; ++g) {
    s.begin_group();
    for (int p = 0; p < 2; ++p) {
      s.begin_puzzle(g * 2 + p + 1);
      for (int k = 0; k <= p + g; ++k, ++ex) {
        const int32_t in[2] = {ex, 299}, lab[2] = {ex + 1, 0};
        s.add_example(in, lab);
      }
    }
  }
  DatasetMetadata m;
  m.num_puzzle_identifiers = 5;
  s.finish(m);
  w.commit({"<blank>", "a", "b", "c", "d"});
  return out;
}

TEST(DatasetWriter, WritesIndexArraysSmallestDtypeAndComputedMetadata) {
  const fs::path root = temp_dir("small");
  write_small(root / "ds");
  const Dataset d = Dataset::open(root / "ds", "train");
  const DatasetSet& s = d.set("all");
  EXPECT_EQ(s.inputs.dtype(), npy::DType::u2);
  EXPECT_EQ(s.group_indices, (std::vector<int32_t>{0, 2, 4}));
  EXPECT_EQ(s.puzzle_indices, (std::vector<int32_t>{0, 1, 3, 5, 8}));
  EXPECT_EQ(s.puzzle_identifiers, (std::vector<int32_t>{1, 2, 3, 4}));
  EXPECT_EQ(d.metadata().total_groups, 2);
  EXPECT_DOUBLE_EQ(d.metadata().mean_puzzle_examples, 2.0);
  std::vector<int32_t> row(2);
  s.input_row(7, row.data());
  EXPECT_EQ(row, (std::vector<int32_t>{7, 299}));
  EXPECT_EQ(read_identifiers(root / "ds"), (std::vector<std::string>{"<blank>", "a", "b", "c", "d"}));
  fs::remove_all(root);
}

TEST(DatasetWriter, GroupBufferAppendsTheSameBytesAsDirectWrites) {
  const fs::path root = temp_dir("buffer");
  write_small(root / "direct");
  {
    DatasetWriter w(root / "buffered");
    SplitWriter& s = w.split("train", 2, 300);
    int32_t ex = 0;
    for (int g = 0; g < 2; ++g) {
      GroupBuffer b(2);
      for (int p = 0; p < 2; ++p) {
        b.begin_puzzle(g * 2 + p + 1);
        for (int k = 0; k <= p + g; ++k, ++ex) {
          const int32_t in[2] = {ex, 299}, lab[2] = {ex + 1, 0};
          b.add_example(in, lab);
        }
      }
      s.add_group(b);
    }
    DatasetMetadata m;
    m.num_puzzle_identifiers = 5;
    s.finish(m);
    w.commit({"<blank>", "a", "b", "c", "d"});
  }
  for (const char* f : {"train/all__inputs.npy", "train/all__labels.npy", "train/all__puzzle_indices.npy",
                        "train/all__group_indices.npy", "train/all__puzzle_identifiers.npy", "train/dataset.json"})
    EXPECT_EQ(read_file((root / "direct" / f).string()), read_file((root / "buffered" / f).string())) << f;
  fs::remove_all(root);
}

TEST(DatasetWriter, RejectsTokensOutsideTheVocabularyAndEmptyGroups) {
  const fs::path root = temp_dir("reject");
  DatasetWriter w(root / "x");
  SplitWriter& s = w.split("train", 2, 6);
  s.begin_group();
  s.begin_puzzle(0);
  const int32_t bad[2] = {1, 6}, ok[2] = {1, 5};
  EXPECT_THROW(s.add_example(bad, ok), Error);
  s.add_example(ok, ok);
  const uint8_t bad8[2] = {1, 6}, ok8[2] = {1, 5};  // the uint8 fast path checks too
  EXPECT_THROW(s.add_example(ok8, bad8), Error);
  s.add_example(ok8, ok8);
  EXPECT_EQ(s.examples(), 2);
  s.begin_group();
  EXPECT_THROW(s.begin_group(), Error);  // the previous group has no puzzles
  fs::remove_all(root);
}

TEST(DatasetWriter, InterruptedBuildLeavesNothingAndOldOutputSurvivesUntilCommit) {
  const fs::path root = temp_dir("atomic");
  write_small(root / "ds", 300);
  const std::string before = read_file((root / "ds/train/all__inputs.npy").string());
  {
    DatasetWriter w(root / "ds");
    SplitWriter& s = w.split("train", 2, 300);
    s.begin_group();
    s.begin_puzzle(0);
    const int32_t t[2] = {1, 1};
    s.add_example(t, t);
    // The old dataset is untouched while the new one is being written.
    EXPECT_EQ(read_file((root / "ds/train/all__inputs.npy").string()), before);
  }  // destroyed without commit: as if the build was interrupted
  EXPECT_EQ(read_file((root / "ds/train/all__inputs.npy").string()), before);
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(root)) names.push_back(e.path().filename().string());
  EXPECT_EQ(names, (std::vector<std::string>{"ds"})) << "no temporary directory may remain";
  fs::create_directories(root / ".ds.tmp-99999999-0" / "train");  // left by a killed build (no such pid)
  write_small(root / "ds", 400);  // a committed rebuild replaces it and removes the stale temporary
  EXPECT_FALSE(fs::exists(root / ".ds.tmp-99999999-0"));
  EXPECT_EQ(Dataset::open(root / "ds", "train").metadata().vocab_size, 400);
  fs::remove_all(root);
}

TEST(DatasetWriter, RefusesToReplaceADirectoryThatIsNotADataset) {
  const fs::path root = temp_dir("refuse");
  fs::create_directories(root / "home");
  write_file_atomic((root / "home" / "precious.txt").string(), "keep me");
  EXPECT_THROW(write_small(root / "home"), Error);
  EXPECT_EQ(read_file((root / "home" / "precious.txt").string()), "keep me");
  fs::remove_all(root);
}

// `hrm data sudoku .` replaced the shell's own folder (left standing in a deleted one); "" was "cannot
// make absolute path".
TEST(DatasetWriter, RefusesTheCurrentFolderAFolderAboveItAndAnEmptyPath) {
  const auto error_of = [](const fs::path& out) -> std::string {
    try {
      check_dataset_output(out, {});
    } catch (const ConfigError& e) {
      return e.what();
    }
    return "no error";
  };
  EXPECT_NE(error_of(".").find(" is the current directory"), std::string::npos);
  EXPECT_NE(error_of(fs::current_path().parent_path()).find(" is above the current directory"), std::string::npos);
  EXPECT_NE(error_of("").find("an empty path"), std::string::npos);
  EXPECT_EQ(error_of(temp_dir("fresh_output") / "ds"), "no error");
}

TEST(DatasetReader, StructuralErrorsNameTheFile) {
  const fs::path root = temp_dir("broken");
  auto expect_error = [&](const std::string& what, const std::string& needle) {
    try {
      Dataset::open(root / "ds", "train");
      ADD_FAILURE() << what << ": no error";
    } catch (const FormatError& e) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << what << ": " << e.what();
    }
  };
  write_small(root / "ds");
  npy::save_int32((root / "ds/train/all__group_indices.npy").string(), {0, 2, 3});
  expect_error("groups not ending at P", "all__group_indices.npy: expected the last entry (group puzzle offsets) to be 4");
  npy::save_int32((root / "ds/train/all__group_indices.npy").string(), {0, 2, 2, 4});
  expect_error("empty group", "strictly increasing");
  npy::save_int32((root / "ds/train/all__group_indices.npy").string(), {0, 2, 4});
  npy::save_int32((root / "ds/train/all__puzzle_indices.npy").string(), {0, 1, 3, 5});
  expect_error("puzzle_indices too short", "all__puzzle_indices.npy: expected 5 entries");
  npy::save_int32((root / "ds/train/all__puzzle_indices.npy").string(), {0, 1, 3, 5, 8});
  npy::save_int32((root / "ds/train/all__puzzle_identifiers.npy").string(), {1, 2, 3, 9});
  expect_error("identifier out of range", "entry 3 = 9 outside [0, num_puzzle_identifiers=5)");
  npy::save_int32((root / "ds/train/all__puzzle_identifiers.npy").string(), {1, 2, 3, 4});
  std::string json = read_file((root / "ds/train/dataset.json").string());
  write_file_atomic((root / "ds/train/dataset.json").string(), json.replace(json.find("\"seq_len\": 2"), 12, "\"seq_len\": 3"));
  expect_error("seq_len mismatch", "all__inputs.npy: expected shape [examples, 3]");
  write_file_atomic((root / "ds/train/dataset.json").string(), json.replace(json.find("\"seq_len\": 3"), 12, "\"seq_len\": 2")
                                                                     .replace(json.find("\"total_groups\": 2"), 17, "\"total_groups\": 3"));
  expect_error("total_groups mismatch", "total_groups is 3 but the group_indices arrays hold 2 groups");
  fs::remove(root / "ds/train/all__labels.npy");
  EXPECT_THROW(Dataset::open(root / "ds", "train"), Error);
  fs::remove_all(root);
}

// The reference's builders write int64 token arrays, read here as int32 (as numpy's astype): a value
// that would wrap into the vocabulary is named by check_all_tokens, not passed.
TEST(DatasetReader, CheckNamesAWideTokenThatWouldWrapIntoTheVocabulary) {
  const fs::path root = temp_dir("wide_tokens");
  write_small(root / "ds");  // 8 examples of 2 tokens, vocabulary 300
  std::vector<int64_t> inputs(16, 1);
  npy::save((root / "ds/train/all__inputs.npy").string(), npy::DType::i8, {8, 2}, inputs.data());
  EXPECT_EQ(Dataset::open(root / "ds", "train").check_all_tokens(), 8);
  inputs[5] = (int64_t{1} << 32) + 3;  // read as 3
  npy::save((root / "ds/train/all__inputs.npy").string(), npy::DType::i8, {8, 2}, inputs.data());
  try {
    Dataset::open(root / "ds", "train").check_all_tokens();
    ADD_FAILURE() << "no error";
  } catch (const FormatError& e) {
    EXPECT_NE(std::string(e.what()).find("all__inputs.npy: example 2, position 1: token 4294967299 does not fit int32"),
              std::string::npos) << e.what();
  }
  fs::remove_all(root);
}

TEST(DatasetInterop, NumpyAndAReferenceStyleLoaderReadWhatWeWrite) {
  const fs::path root = temp_dir("py");
  write_small(root / "ds");
  copy_dataset(kDatasetFixtures / "arc-small", root / "arc");
  const char* venv = std::getenv("HRM_VENV");
  const std::string py = std::string(venv ? venv : std::string(std::getenv("HOME")) + "/.cache/hrm/venv") + "/bin/python";
  ASSERT_TRUE(fs::exists(py)) << "numpy is needed in " << py << " (set HRM_VENV)";
  // What puzzle_dataset.py does: json.load the metadata into its fields, np.load each array
  // (inputs/labels memory-mapped), astype(int32); plus the structure the sampler relies on.
  const std::string script = R"PY(
import json, sys, numpy as np
FIELDS = ["pad_id", "ignore_label_id", "blank_identifier_id", "vocab_size", "seq_len", "num_puzzle_identifiers",
          "total_groups", "mean_puzzle_examples", "sets"]
for root in sys.argv[1:]:
    ids = json.load(open(root + "/identifiers.json"))
    assert isinstance(ids, list) and ids[0] == "<blank>", ids
    for split in ("train",) + (("test",) if root.endswith("arc") else ()):
        meta = json.load(open("%s/%s/dataset.json" % (root, split)))
        assert list(meta) == FIELDS, list(meta)
        assert isinstance(meta["mean_puzzle_examples"], float)
        for s in meta["sets"]:
            a = {k: np.load("%s/%s/%s__%s.npy" % (root, split, s, k), mmap_mode="r" if k in ("inputs", "labels") else None)
                 for k in ("inputs", "labels", "puzzle_identifiers", "puzzle_indices", "group_indices")}
            assert a["inputs"].shape == a["labels"].shape and a["inputs"].shape[1] == meta["seq_len"]
            assert a["inputs"].dtype == (np.uint8 if meta["vocab_size"] <= 256 else np.uint16)
            for k in ("puzzle_identifiers", "puzzle_indices", "group_indices"): assert a[k].dtype == np.int32, k
            assert a["puzzle_indices"][0] == 0 and a["puzzle_indices"][-1] == len(a["inputs"])
            assert a["group_indices"][-1] == len(a["puzzle_identifiers"])
            assert len(a["group_indices"]) - 1 == meta["total_groups"]
            assert int(a["inputs"].astype(np.int32).max()) < meta["vocab_size"]
print("ok")
)PY";
  write_file_atomic((root / "check.py").string(), script);
  const std::string cmd = py + " " + (root / "check.py").string() + " " + (root / "ds").string() + " " + (root / "arc").string();
  EXPECT_EQ(std::system(cmd.c_str()), 0);
  fs::remove_all(root);
}

}  // namespace
}  // namespace hrm::data
