// arc.cpp: ARC task parsing, encoding and augmentations (see arc.h; mirrors
// dataset/build_arc_dataset.py and arc_eval.ipynb of sapientinc/HRM@42410da).
#include "data/arc.h"

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>
#include <unordered_set>

#include "core/atomic_file.h"
#include "core/check.h"
#include "data/dihedral.h"

namespace hrm::arc {
namespace {

using Json = nlohmann::ordered_json;  // ordered: a puzzle's examples follow the file's key order

[[noreturn]] void bad(const std::string& source, const std::string& path, const std::string& what) {
  HRM_THROW(FormatError, source, ": ", path, ": ", what);
}

const char* type_name(const Json& j) { return j.type_name(); }

Grid parse_grid(const Json& j, const std::string& source, const std::string& path) {
  if (!j.is_array()) bad(source, path, std::string("expected a list of rows, got ") + type_name(j));
  const int rows = static_cast<int>(j.size());
  if (rows < 1 || rows > kMaxGridSize)
    bad(source, path, "expected 1 to 30 rows, got " + std::to_string(rows));
  Grid g;
  g.rows = rows;
  for (int r = 0; r < rows; ++r) {
    const Json& row = j[static_cast<size_t>(r)];
    const std::string rpath = path + "[" + std::to_string(r) + "]";
    if (!row.is_array()) bad(source, rpath, std::string("expected a list of colours, got ") + type_name(row));
    const int cols = static_cast<int>(row.size());
    if (r == 0) {
      if (cols < 1 || cols > kMaxGridSize)
        bad(source, rpath, "expected 1 to 30 columns, got " + std::to_string(cols));
      g.cols = cols;
      g.cells.reserve(static_cast<size_t>(rows) * cols);
    } else if (cols != g.cols) {
      bad(source, rpath, "ragged grid: expected " + std::to_string(g.cols) + " columns like row 0, got " +
                             std::to_string(cols));
    }
    for (int c = 0; c < cols; ++c) {
      const Json& v = row[static_cast<size_t>(c)];
      const std::string cpath = rpath + "[" + std::to_string(c) + "]";
      // A whole float (3.0, as some tools write) is its integer, as the reference's np.array(grid) takes it.
      const bool whole_float = v.is_number_float() && std::trunc(v.get<double>()) == v.get<double>() &&
                               std::fabs(v.get<double>()) < 1e9;
      if (v.is_number_float() && !whole_float) bad(source, cpath, "expected a colour 0..9, got " + v.dump());
      if (!v.is_number()) bad(source, cpath, std::string("expected a colour 0..9, got ") + type_name(v));
      const int64_t colour = whole_float ? static_cast<int64_t>(v.get<double>()) : v.get<int64_t>();
      if (colour < 0 || colour > 9) bad(source, cpath, "expected a colour 0..9, got " + std::to_string(colour));
      g.cells.push_back(static_cast<uint8_t>(colour));
    }
  }
  return g;
}

std::vector<Pair> parse_pairs(const Json& j, const std::string& source, const std::string& key, bool output_optional) {
  if (!j.is_array()) bad(source, key, std::string("expected a list of pairs, got ") + type_name(j));
  if (j.empty()) bad(source, key, "expected at least one pair, got an empty list");
  std::vector<Pair> pairs;
  for (size_t i = 0; i < j.size(); ++i) {
    const std::string path = key + "[" + std::to_string(i) + "]";
    const Json& p = j[i];
    if (!p.is_object()) bad(source, path, std::string("expected an object with input and output, got ") + type_name(p));
    for (const char* k : {"input", "output"})
      if (!p.contains(k) && !(output_optional && std::string(k) == "output"))
        bad(source, path, std::string("missing key \"") + k + "\"");
    pairs.push_back({parse_grid(p["input"], source, path + ".input"),
                     p.contains("output") ? parse_grid(p["output"], source, path + ".output") : Grid()});
  }
  return pairs;
}

// Canonical content of a task for duplicate detection: every pair serialised (shapes and cells),
// sorted, so that two tasks are equal iff their pairs are equal as multisets (puzzle_hash sorts
// the per-pair hashes the same way). Exact, so no hash collision can drop an augmentation.
std::string content_key(const Task& t) {
  std::vector<std::string> parts;
  auto add = [](std::string& s, const Grid& g) {
    s.push_back(static_cast<char>(g.rows));
    s.push_back(static_cast<char>(g.cols));
    s.append(g.cells.begin(), g.cells.end());
  };
  for (const auto* list : {&t.train, &t.test}) {
    for (const Pair& p : *list) {
      std::string s;
      add(s, p.input);
      add(s, p.output);
      parts.push_back(std::move(s));
    }
  }
  std::sort(parts.begin(), parts.end());
  std::string key;
  for (const auto& s : parts) {
    key += s;
    key.push_back('|');
  }
  return key;
}

template <typename T>
Grid crop_from(const T* tokens, int r0, int c0) {
  // arc_eval.ipynb `crop`: grow rows while keeping the widest run of colour tokens seen so far.
  auto is_colour = [](T x) { return x >= 2 && x <= 11; };
  int best_area = 0, best_r = 0, best_c = 0;
  int num_c = kMaxGridSize - c0;
  for (int num_r = 1; num_r <= kMaxGridSize - r0; ++num_r) {
    for (int c = 1; c <= num_c; ++c) {
      if (!is_colour(tokens[(r0 + num_r - 1) * kMaxGridSize + c0 + c - 1])) {
        num_c = c - 1;
        break;
      }
    }
    if (num_r * num_c > best_area) {
      best_area = num_r * num_c;
      best_r = num_r;
      best_c = num_c;
    }
  }
  Grid g(best_r, best_c);
  for (int r = 0; r < best_r; ++r)
    for (int c = 0; c < best_c; ++c)
      g.at(r, c) = static_cast<uint8_t>(tokens[(r0 + r) * kMaxGridSize + c0 + c] - 2);
  return g;
}

}  // namespace

Task parse_task(std::string_view json_text, const std::string& id, const std::string& source, TestOutputs test_outputs) {
  Json j;
  try {
    j = Json::parse(json_text.begin(), json_text.end());
  } catch (const Json::exception& e) {  // parse_error, and out_of_range for a number beyond double
    HRM_THROW(FormatError, source, ": invalid JSON: ", e.what());
  }
  if (!j.is_object()) bad(source, "$", std::string("expected an object with train and test, got ") + type_name(j));
  Task t;
  t.id = id;
  t.source = source;
  for (const char* k : {"train", "test"})
    if (!j.contains(k)) bad(source, "$", std::string("missing key \"") + k + "\"");
  t.train = parse_pairs(j["train"], source, "train", false);
  t.test = parse_pairs(j["test"], source, "test", test_outputs == TestOutputs::kOptional);
  for (const auto& item : j.items()) {  // unknown keys (e.g. "name") are ignored
    if (item.key() == "train") break;
    if (item.key() == "test") {
      t.test_first = true;
      break;
    }
  }
  return t;
}

Task load_task(const std::string& path, TestOutputs test_outputs) {
  std::string stem = path.substr(path.find_last_of('/') + 1);
  if (stem.size() > 5 && stem.compare(stem.size() - 5, 5, ".json") == 0) stem.resize(stem.size() - 5);
  return parse_task(read_file(path), stem, path, test_outputs);
}

// ---- augmentations ----------------------------------------------------------------------------

namespace {

// out[i][j] = colour[a[source of (i, j) under transform trans_id]]. Every dihedral transform is
// affine in (i, j), so the source offsets of (0,0), (1,0) and (0,1) from dihedral::source_cell
// give the whole map: a tight loop instead of a switch per cell (this is the builder's hot loop).
Grid remap(const Grid& a, int trans_id, const std::array<uint8_t, 10>& colour) {
  HRM_CHECK(trans_id >= 0 && trans_id < hrm::dihedral::kCount, "dihedral transform id ", trans_id, " outside 0..7");
  const auto [rows, cols] = hrm::dihedral::output_shape(trans_id, a.rows, a.cols);
  Grid out(static_cast<int>(rows), static_cast<int>(cols));
  auto offset = [&](int64_t i, int64_t j) {
    const auto [r, c] = hrm::dihedral::source_cell(trans_id, a.rows, a.cols, i, j);
    return r * a.cols + c;
  };
  const int64_t base = offset(0, 0), di = offset(1, 0) - base, dj = offset(0, 1) - base;
  uint8_t* o = out.cells.data();
  for (int64_t i = 0; i < rows; ++i)
    for (int64_t j = 0, src = base + i * di; j < cols; ++j, src += dj) {
      const uint8_t v = a.cells[static_cast<size_t>(src)];
      HRM_CHECK(v < 10, "colour ", int(v), " outside 0..9");
      *o++ = colour[v];
    }
  return out;
}

constexpr std::array<uint8_t, 10> kIdentityColours{0, 1, 2, 3, 4, 5, 6, 7, 8, 9};

}  // namespace

Grid dihedral(const Grid& a, int trans_id) { return remap(a, trans_id, kIdentityColours); }

int inverse_dihedral_id(int trans_id) {
  HRM_CHECK(trans_id >= 0 && trans_id < hrm::dihedral::kCount, "dihedral transform id ", trans_id, " outside 0..7");
  return hrm::dihedral::kInverse[trans_id];
}

bool Augmentation::is_identity() const { return *this == Augmentation{}; }

std::string Augmentation::suffix() const {
  std::string s = "t" + std::to_string(trans_id) + "_";
  for (uint8_t c : colour_map) s.push_back(static_cast<char>('0' + c));
  return s;
}

Augmentation draw_augmentation(Rng& rng) {
  Augmentation aug;
  aug.trans_id = static_cast<int>(rng.below(8));
  const std::vector<int64_t> perm = rng.permutation(9);
  for (int c = 1; c <= 9; ++c) aug.colour_map[static_cast<size_t>(c)] = static_cast<uint8_t>(1 + perm[static_cast<size_t>(c - 1)]);
  return aug;
}

// A colour map acts per cell, so it commutes with moving cells: one remap does both.
Grid apply(const Grid& g, const Augmentation& aug) { return remap(g, aug.trans_id, aug.colour_map); }

Grid invert(const Grid& g, const Augmentation& aug) {
  std::array<uint8_t, 10> inverse{};
  for (int c = 0; c < 10; ++c) inverse[aug.colour_map[static_cast<size_t>(c)]] = static_cast<uint8_t>(c);
  return remap(g, inverse_dihedral_id(aug.trans_id), inverse);
}

Task apply(const Task& t, const Augmentation& aug) {
  Task out;
  out.id = augmented_name(t.id, aug);
  out.source = t.source;
  out.test_first = t.test_first;
  for (const Pair& p : t.train) out.train.push_back({apply(p.input, aug), apply(p.output, aug)});
  for (const Pair& p : t.test) out.test.push_back({apply(p.input, aug), apply(p.output, aug)});
  return out;
}

std::string augmented_name(const std::string& task_id, const Augmentation& aug) { return task_id + "_" + aug.suffix(); }

PuzzleName parse_puzzle_name(const std::string& name) {
  PuzzleName out;
  out.task_id = name;
  // "<id>_t<k>_<10 digits>": a non-empty id, '_', then the 13-character suffix.
  constexpr size_t kSuffix = 13;
  if (name.size() < kSuffix + 2) return out;
  const size_t s = name.size() - kSuffix;
  if (name[s - 1] != '_' || name[s] != 't' || name[s + 1] < '0' || name[s + 1] > '7' || name[s + 2] != '_') return out;
  Augmentation aug;
  aug.trans_id = name[s + 1] - '0';
  bool seen[10] = {};
  for (size_t i = 0; i < 10; ++i) {
    const char ch = name[s + 3 + i];
    if (ch < '0' || ch > '9' || seen[ch - '0']) return out;  // not a permutation: not our suffix
    seen[ch - '0'] = true;
    aug.colour_map[i] = static_cast<uint8_t>(ch - '0');
  }
  if (aug.colour_map[0] != 0) return out;
  out.task_id = name.substr(0, s - 1);
  out.aug = aug;
  out.augmented = true;
  return out;
}

std::vector<Augmentation> draw_distinct_augmentations(const Task& task, int num_aug, Rng& rng,
                                                      std::vector<Task>* augmented) {
  std::vector<Augmentation> kept;
  if (num_aug <= 0) return kept;
  std::unordered_set<std::string> seen{content_key(task)};
  for (int trial = 0; trial < kAugmentRetriesFactor * num_aug; ++trial) {
    const Augmentation aug = draw_augmentation(rng);
    Task t = apply(task, aug);
    if (seen.insert(content_key(t)).second) {
      kept.push_back(aug);
      if (augmented) augmented->push_back(std::move(t));
    }
    if (static_cast<int>(kept.size()) >= num_aug) break;
  }
  return kept;
}

// ---- encoding ---------------------------------------------------------------------------------

void encode_grid(const Grid& g, int row, int col, uint8_t* tokens) {
  HRM_CHECK(row >= 0 && col >= 0 && row + g.rows <= kMaxGridSize && col + g.cols <= kMaxGridSize,
            "grid ", g.rows, "x", g.cols, " at (", row, ",", col, ") does not fit the 30x30 canvas");
  std::fill(tokens, tokens + kSeqLen, kPad);
  for (int r = 0; r < g.rows; ++r)
    for (int c = 0; c < g.cols; ++c) tokens[(row + r) * kMaxGridSize + col + c] = static_cast<uint8_t>(g.at(r, c) + kColourOffset);
  const int eos_row = row + g.rows, eos_col = col + g.cols;
  if (eos_row < kMaxGridSize)
    for (int c = col; c < eos_col; ++c) tokens[eos_row * kMaxGridSize + c] = kEos;
  if (eos_col < kMaxGridSize)
    for (int r = row; r < eos_row; ++r) tokens[r * kMaxGridSize + eos_col] = kEos;
}

Grid crop(const uint8_t* tokens) { return crop_from(tokens, 0, 0); }
Grid crop(const int32_t* tokens) { return crop_from(tokens, 0, 0); }

Grid locate(const uint8_t* tokens, int* row, int* col) {
  for (int i = 0; i < kSeqLen; ++i) {
    if (tokens[i] >= 2 && tokens[i] <= 11) {
      *row = i / kMaxGridSize;
      *col = i % kMaxGridSize;
      return crop_from(tokens, *row, *col);
    }
  }
  *row = *col = 0;
  return Grid();
}

}  // namespace hrm::arc
