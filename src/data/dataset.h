// dataset.h: the reference's puzzle-dataset directory, read and written.
// Mirrors dataset/common.py (PuzzleDatasetMetadata) and the save code at the end of the reference's
// build_*_dataset.py: `{split}/dataset.json`, `{split}/{set}__{inputs,labels,puzzle_identifiers,
// puzzle_indices,group_indices}.npy`, `identifiers.json` at the root (SPEC section 3).
// Differs: the writer streams rows to disk (bounded memory), stores tokens in the smallest unsigned
// dtype that holds the vocabulary (the reference keeps whatever numpy produced, int64 for Sudoku),
// and builds the whole dataset in a temporary sibling directory renamed into place at commit().
// The reader memory-maps inputs/labels, loads the index arrays, and validates their structure.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "data/npy.h"

namespace hrm::data {

namespace fs = std::filesystem;

inline constexpr int32_t kIgnoreLabelId = -100;  // models/losses.py IGNORE_LABEL_ID

struct DatasetMetadata {  // dataset/common.py PuzzleDatasetMetadata, same field order
  int64_t pad_id = 0;
  std::optional<int64_t> ignore_label_id = 0;
  int64_t blank_identifier_id = 0;
  int64_t vocab_size = 0;
  int64_t seq_len = 0;
  int64_t num_puzzle_identifiers = 1;
  int64_t total_groups = 0;
  double mean_puzzle_examples = 0;
  std::vector<std::string> sets{"all"};
};

// dataset.json exactly as the reference writes it (json.dump of the pydantic model: one line,
// ", " and ": " separators, keys in field order, the float as Python's repr, no trailing newline).
std::string metadata_to_json(const DatasetMetadata& m);
// Parses dataset.json; FormatError naming `name`, the key and the expected type.
DatasetMetadata metadata_from_json(const std::string& text, const std::string& name);
DatasetMetadata read_metadata(const fs::path& split_dir);  // reads split_dir/dataset.json
std::string python_float_repr(double v);                   // 1.0, 5.285714285714286, 1e+16

std::string identifiers_to_json(const std::vector<std::string>& ids);  // json.dump of a list
std::vector<std::string> read_identifiers(const fs::path& dataset_dir);  // dataset_dir/identifiers.json
std::vector<std::string> identifiers_from_json(const std::string& text, const std::string& name);

// One set of one split, as the reference's PuzzleDataset loads it.
struct DatasetSet {
  std::string name;
  npy::Array inputs, labels;                 // [examples, seq_len], memory-mapped
  std::vector<int32_t> puzzle_identifiers;  // [puzzles]
  std::vector<int32_t> puzzle_indices;      // [puzzles + 1]: example ranges
  std::vector<int32_t> group_indices;       // [groups + 1]: puzzle ranges

  int64_t examples() const { return inputs.shape().empty() ? 0 : inputs.dim(0); }
  int64_t puzzles() const { return static_cast<int64_t>(puzzle_identifiers.size()); }
  int64_t groups() const { return static_cast<int64_t>(group_indices.size()) - 1; }
  // Copies one example's seq_len tokens, converted to int32 (as the reference's astype(np.int32)).
  void input_row(int64_t example, int32_t* out) const;
  void label_row(int64_t example, int32_t* out) const;
  // One example's rows against the vocabulary: the first token outside [0, vocab_size) is a FormatError
  // naming the file, the example, the position and the value. A label may also be `ignored_label`
  // (dataset.json's ignore_label_id) or -100, which the loss ignores too (as the reference's).
  void check_tokens(int64_t example, const int32_t* in, const int32_t* lab, int64_t vocab_size,
                    std::optional<int64_t> ignored_label) const;
};

class Dataset {
 public:
  // Loads dir/split: metadata, every set's arrays, and checks shapes, index monotonicity and ranges
  // (FormatError naming the file and what was expected).
  static Dataset open(const fs::path& dir, const std::string& split);

  const DatasetMetadata& metadata() const { return metadata_; }
  const std::vector<DatasetSet>& sets() const { return sets_; }
  const DatasetSet& set(const std::string& name) const;
  const fs::path& split_dir() const { return split_dir_; }
  // Reads every example of every set and checks its tokens (DatasetSet::check_tokens); returns the
  // examples read. open() checks structure only: the token arrays are memory-mapped, and training
  // checks each batch as it is drawn.
  int64_t check_all_tokens() const;

 private:
  DatasetMetadata metadata_;
  std::vector<DatasetSet> sets_;
  fs::path split_dir_;
};

// The model is built from the training split's metadata and runs on the test split: both must
// describe the same task (pad_id, ignore_label_id, blank_identifier_id, vocab_size, seq_len,
// num_puzzle_identifiers). FormatError naming both dataset.json files and the key otherwise.
void check_splits_agree(const Dataset& train, const Dataset& test);

// A self-contained group (puzzles and their examples), built off-line, e.g. in a worker thread,
// then appended in order with SplitWriter::add_group so output bytes do not depend on threads.
class GroupBuffer {
 public:
  explicit GroupBuffer(int64_t seq_len) : seq_len_(seq_len) {}
  void begin_puzzle(int32_t identifier);
  void add_example(const int32_t* input, const int32_t* label);  // seq_len tokens each
  void add_example(const uint8_t* input, const uint8_t* label);
  int64_t puzzles() const { return static_cast<int64_t>(identifiers_.size()); }
  int64_t examples() const { return static_cast<int64_t>(inputs_.size()) / seq_len_; }

 private:
  friend class SplitWriter;
  int64_t seq_len_;
  std::vector<int32_t> identifiers_;
  std::vector<int64_t> puzzle_sizes_;
  std::vector<int32_t> inputs_, labels_;
};

// Writes one split (one set, "all" by default) of a dataset being built. Rows go to disk as they
// come; only the index arrays are held in memory (4 bytes per puzzle and per group).
class SplitWriter {
 public:
  SplitWriter(fs::path split_dir, int64_t seq_len, int64_t vocab_size, std::string set_name);
  ~SplitWriter();

  void begin_group();
  void begin_puzzle(int32_t identifier);  // within the current group
  void add_example(const int32_t* input, const int32_t* label);  // tokens checked < vocab_size
  void add_example(const uint8_t* input, const uint8_t* label);
  void add_group(const GroupBuffer& group);  // begin_group + its puzzles and examples

  int64_t examples() const { return examples_; }
  int64_t puzzles() const { return static_cast<int64_t>(puzzle_identifiers_.size()); }
  int64_t groups() const { return static_cast<int64_t>(group_indices_.size()) - 1; }

  // Writes the index arrays and dataset.json. From `metadata` it takes pad_id, ignore_label_id,
  // blank_identifier_id and num_puzzle_identifiers; it sets vocab_size, seq_len, total_groups,
  // mean_puzzle_examples (examples / puzzles, as the ARC builder computes it) and sets.
  // Returns the metadata written.
  DatasetMetadata finish(DatasetMetadata metadata);

 private:
  void close_open_group();
  void check_tokens(const int32_t* tokens, const char* what) const;

  fs::path dir_;
  int64_t seq_len_, vocab_size_;
  std::string set_;
  std::unique_ptr<npy::RowWriter> inputs_, labels_;
  std::vector<int32_t> puzzle_identifiers_, puzzle_indices_{0}, group_indices_{0};
  int64_t examples_ = 0;
  bool group_open_ = false, puzzle_open_ = false, finished_ = false;
  std::vector<int32_t> scratch_in_, scratch_lab_;
};

// Checks, before a build does any work, that it may write out_dir: a missing or empty directory, or
// an earlier dataset (identifiers.json or a split's dataset.json) holding nothing but what builds
// write (identifiers.json, train/, test/, input/), and none of `inputs` inside it (the build
// replaces the whole directory). Error naming the path otherwise.
void check_dataset_output(const fs::path& out_dir, const std::vector<std::string>& inputs);

// The file that marks `dir` as a dataset's folder (or one of its splits): "train/dataset.json",
// "test/dataset.json", "identifiers.json" or "dataset.json"; empty when there is none.
std::string dataset_marker(const fs::path& dir);

// The whole dataset under construction: a temporary sibling directory of out_dir, renamed onto
// out_dir by commit(). Destroying an uncommitted writer removes the temporary directory, so an
// interrupted build leaves nothing behind; an existing out_dir is replaced only at commit(), and
// only if check_dataset_output allows it and every entry of it is one the new dataset has too
// (an input/ of the user's is not replaced by a build with --no-csv).
class DatasetWriter {
 public:
  explicit DatasetWriter(fs::path out_dir);
  ~DatasetWriter();
  DatasetWriter(const DatasetWriter&) = delete;
  DatasetWriter& operator=(const DatasetWriter&) = delete;

  SplitWriter& split(const std::string& name, int64_t seq_len, int64_t vocab_size, const std::string& set_name = "all");
  const fs::path& temp_dir() const { return tmp_; }  // extra files (e.g. input/*.csv) may go here
  void commit(const std::vector<std::string>& identifiers);  // writes identifiers.json, renames

 private:
  fs::path out_, tmp_;
  std::vector<std::pair<std::string, std::unique_ptr<SplitWriter>>> splits_;
  bool committed_ = false;
};

}  // namespace hrm::data
