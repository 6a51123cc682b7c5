// arc.h: ARC tasks: strict JSON parsing, the 30x30 token encoding, and augmentations
// (dihedral transform x colour permutation) with their names and inverses.
// Mirrors dataset/build_arc_dataset.py (arc_grid_to_np, np_grid_to_seq_translational_augment,
// puzzle_hash, the augment loop of convert_single_arc_puzzle) and the inverse_aug/crop helpers
// of arc_eval.ipynb, sapientinc/HRM@42410da.
// Differs: bad task files get a FormatError naming the file and JSON path (the reference asserts);
// unknown keys such as "name" are ignored and the task id is always the file stem (the reference
// takes "name" when present: it equals the stem in every ARC file); duplicates are found by
// exact content, not a sha256 of it; every random draw comes from an explicit hrm::Rng.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/rng.h"

namespace hrm::arc {

inline constexpr int kMaxGridSize = 30;                       // ARCMaxGridSize
inline constexpr int kSeqLen = kMaxGridSize * kMaxGridSize;   // 900 tokens, row-major
inline constexpr int kVocabSize = 12;                         // PAD, EOS, colours 0..9
inline constexpr uint8_t kPad = 0;
inline constexpr uint8_t kEos = 1;
inline constexpr uint8_t kColourOffset = 2;                   // token = colour + 2
inline constexpr int kAugmentRetriesFactor = 5;               // ARCAugmentRetriesFactor
// Distinct augmentations besides the identity: 8 dihedral transforms x 9! permutations of colours 1-9,
// less one. The bound of every --num-aug (kAugmentRetriesFactor times it still fits an int).
inline constexpr int kMaxAugmentations = 8 * 362880 - 1;

// A rows x cols grid of colours 0..9, row-major. 0x0 only as the crop of a prediction that has no
// valid top-left cell.
struct Grid {
  int rows = 0;
  int cols = 0;
  std::vector<uint8_t> cells;

  Grid() = default;
  Grid(int r, int c) : rows(r), cols(c), cells(static_cast<size_t>(r) * static_cast<size_t>(c), 0) {}
  uint8_t& at(int r, int c) { return cells[static_cast<size_t>(r) * cols + c]; }
  uint8_t at(int r, int c) const { return cells[static_cast<size_t>(r) * cols + c]; }
  bool operator==(const Grid& o) const { return rows == o.rows && cols == o.cols && cells == o.cells; }
  bool operator!=(const Grid& o) const { return !(*this == o); }
};

struct Pair {
  Grid input;
  Grid output;
};

// One task file. `test_first` records that "test" came before "train" in the file: the reference
// lists a puzzle's examples in the file's key order, and so do we.
struct Task {
  std::string id;      // file stem
  std::string source;  // path, for messages
  std::vector<Pair> train;
  std::vector<Pair> test;
  bool test_first = false;
};

// Parses a task. Requires an object with non-empty lists "train" and "test" of {"input", "output"}
// grids (1..30 rows of 1..30 integers 0..9, all rows equal length). FormatError names `source`
// and the JSON path, e.g. "f.json: train[2].output[5]: ...".
// kOptional (a user's new task for `hrm solve`): a test pair may lack "output", which is then the
// empty 0x0 grid; training pairs always need theirs.
enum class TestOutputs { kRequired, kOptional };
Task parse_task(std::string_view json_text, const std::string& id, const std::string& source,
                TestOutputs test_outputs = TestOutputs::kRequired);
Task load_task(const std::string& path, TestOutputs test_outputs = TestOutputs::kRequired);  // id = file name without ".json"

// ---- augmentations ----------------------------------------------------------------------------
// data/dihedral.h on a Grid: the 8 transforms of dataset/common.py `dihedral_transform`, in its
// order (0 identity, 1-3 rot90 k=1..3, 4 fliplr, 5 flipud, 6 transpose, 7 anti-transpose).
Grid dihedral(const Grid& g, int trans_id);
int inverse_dihedral_id(int trans_id);  // DIHEDRAL_INVERSE

struct Augmentation {
  int trans_id = 0;
  // colour_map[c] = the new colour of colour c; colour_map[0] == 0 always.
  std::array<uint8_t, 10> colour_map{0, 1, 2, 3, 4, 5, 6, 7, 8, 9};

  bool is_identity() const;
  std::string suffix() const;  // "t<k>_<colour_map as 10 digits>", the reference's aug_repr
  bool operator==(const Augmentation& o) const { return trans_id == o.trans_id && colour_map == o.colour_map; }
};

// The reference's plan: trans_id uniform in [0, 8), then a permutation of colours 1..9.
Augmentation draw_augmentation(Rng& rng);
Grid apply(const Grid& g, const Augmentation& aug);   // dihedral(colour_map[g], trans_id)
Grid invert(const Grid& g, const Augmentation& aug);  // inverse colour map of inverse dihedral
Task apply(const Task& t, const Augmentation& aug);   // every pair; id becomes the augmented name

std::string augmented_name(const std::string& task_id, const Augmentation& aug);  // "<id>_<suffix>"

// A puzzle identifier name split into its task and augmentation. A name without a valid
// "_t<k>_<10 digits>" suffix is an original puzzle (identity augmentation). Parsing from the end
// keeps task ids that contain '_' intact (the notebook's split("_")[0] would cut them).
struct PuzzleName {
  std::string task_id;
  Augmentation aug;
  bool augmented = false;
};
PuzzleName parse_puzzle_name(const std::string& name);

// Up to `num_aug` augmentations of `task` whose content differs from the original's and from each
// other's (every pair compared as an unordered multiset, as puzzle_hash does), from at most
// kAugmentRetriesFactor * num_aug draws of `rng`, in draw order. `augmented` (optional) receives
// the augmented tasks, which the dedup computes anyway.
std::vector<Augmentation> draw_distinct_augmentations(const Task& task, int num_aug, Rng& rng,
                                                      std::vector<Task>* augmented = nullptr);

// ---- encoding ---------------------------------------------------------------------------------
// Writes `g` (colour + 2) at top-left offset (row, col) of a PAD canvas, EOS on the row just below
// the grid (over its columns) and the column just right of it (over its rows) where inside.
void encode_grid(const Grid& g, int row, int col, uint8_t* tokens /* [kSeqLen] */);

// The notebook's crop: the largest top-left rectangle whose cells are all colour tokens (2..11),
// minus 2. Tokens of any integer type (stored uint8 or predicted int32).
Grid crop(const uint8_t* tokens);
Grid crop(const int32_t* tokens);

// Finds the grid in a possibly translated encoding: its top-left is the first colour token in
// row-major order; returns the crop from there and the offset.
Grid locate(const uint8_t* tokens, int* row, int* col);

}  // namespace hrm::arc
