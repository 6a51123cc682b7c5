// dataset.cpp: see dataset.h. Metadata and identifier JSON are written by hand (not by a JSON
// library's dump) because the reference's files are Python json.dump output and ours must match
// byte for byte; parsing goes through nlohmann::json.
#include "data/dataset.h"

#include <fmt/format.h>
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <nlohmann/json.hpp>

#include "core/atomic_file.h"
#include "core/check.h"
#include "core/remove_tree.h"

namespace hrm::data {
namespace {

using json = nlohmann::json;

std::string json_string(const std::string& s) {
  try {
    return json(s).dump(-1, ' ', /*ensure_ascii=*/true);  // Python's default ensure_ascii=True
  } catch (const json::exception& e) {
    HRM_THROW(Error, "identifier is not valid UTF-8: ", e.what());
  }
}

int64_t get_int(const json& j, const char* key, const std::string& name) {
  if (!j.contains(key)) HRM_THROW(FormatError, name, ": missing key '", key, "' (expected an integer)");
  const json& v = j.at(key);
  if (!v.is_number_integer()) HRM_THROW(FormatError, name, ": key '", key, "' must be an integer, got ", v.dump());
  return v.get<int64_t>();
}

json parse_json(const std::string& text, const std::string& name) {
  try {
    return json::parse(text);
  } catch (const json::parse_error& e) {
    HRM_THROW(FormatError, name, ": invalid JSON at byte ", e.byte, ": ", e.what());
  } catch (const json::exception& e) {  // e.g. out_of_range 406: a number too large for a double
    HRM_THROW(FormatError, name, ": invalid JSON: ", e.what());
  }
}

// Checks an index array: 1-D, `size` long (when size >= 0), starts at 0, ends at `last`,
// non-decreasing (strictly increasing when `strict`), every value fits int32.
std::vector<int32_t> load_index(const fs::path& file, int64_t size, int64_t last, bool strict, const char* what) {
  const npy::Array a = npy::Array::load(file.string());
  if (a.shape().size() != 1) HRM_THROW(FormatError, file.string(), ": expected a 1-D array of ", what);
  if (size >= 0 && a.dim(0) != size)
    HRM_THROW(FormatError, file.string(), ": expected ", size, " entries (", what, "), found ", a.dim(0));
  std::vector<int32_t> v(static_cast<size_t>(a.numel()));
  for (int64_t i = 0; i < a.numel(); ++i) {
    const int64_t x = a.at(i);
    if (x < INT32_MIN || x > INT32_MAX) HRM_THROW(FormatError, file.string(), ": entry ", i, " = ", x, " does not fit int32");
    v[static_cast<size_t>(i)] = static_cast<int32_t>(x);
  }
  if (last < 0) return v;  // identifiers: no ordering
  if (v.empty() || v.front() != 0) HRM_THROW(FormatError, file.string(), ": expected ", what, " to start at 0");
  for (size_t i = 1; i < v.size(); ++i)
    if (v[i] < v[i - 1] || (strict && v[i] == v[i - 1]))
      HRM_THROW(FormatError, file.string(), ": expected ", strict ? "strictly increasing" : "non-decreasing", " ", what,
                ", entry ", i, " = ", v[i], " after ", v[i - 1]);
  if (v.back() != last) HRM_THROW(FormatError, file.string(), ": expected the last entry (", what, ") to be ", last, ", found ", v.back());
  return v;
}

DatasetSet load_set(const fs::path& split_dir, const std::string& name, const DatasetMetadata& m) {
  DatasetSet s;
  s.name = name;
  auto file = [&](const char* field) { return split_dir / (name + "__" + field + ".npy"); };
  s.inputs = npy::Array::load(file("inputs").string());
  s.labels = npy::Array::load(file("labels").string());
  for (const npy::Array* a : {&s.inputs, &s.labels})
    if (a->shape().size() != 2 || a->dim(1) != m.seq_len)
      HRM_THROW(FormatError, a->name(), ": expected shape [examples, ", m.seq_len, "] (seq_len from dataset.json)");
  if (s.labels.dim(0) != s.inputs.dim(0))
    HRM_THROW(FormatError, s.labels.name(), ": expected ", s.inputs.dim(0), " examples like ", s.inputs.name(), ", found ", s.labels.dim(0));
  s.puzzle_identifiers = load_index(file("puzzle_identifiers"), -1, -1, false, "puzzle identifiers");
  const int64_t puzzles = static_cast<int64_t>(s.puzzle_identifiers.size());
  s.puzzle_indices = load_index(file("puzzle_indices"), puzzles + 1, s.inputs.dim(0), false, "puzzle example offsets");
  s.group_indices = load_index(file("group_indices"), -1, puzzles, true, "group puzzle offsets");
  for (size_t i = 0; i < s.puzzle_identifiers.size(); ++i)
    if (s.puzzle_identifiers[i] < 0 || s.puzzle_identifiers[i] >= m.num_puzzle_identifiers)
      HRM_THROW(FormatError, file("puzzle_identifiers").string(), ": entry ", i, " = ", s.puzzle_identifiers[i],
                " outside [0, num_puzzle_identifiers=", m.num_puzzle_identifiers, ")");
  return s;
}

}  // namespace

// ---- metadata -------------------------------------------------------------------------------

void check_splits_agree(const Dataset& train, const Dataset& test) {
  const DatasetMetadata &a = train.metadata(), &b = test.metadata();
  auto text = [](const std::optional<int64_t>& v) { return v ? std::to_string(*v) : std::string("null"); };
  const std::pair<const char*, std::pair<std::string, std::string>> keys[] = {
      {"pad_id", {std::to_string(a.pad_id), std::to_string(b.pad_id)}},
      {"ignore_label_id", {text(a.ignore_label_id), text(b.ignore_label_id)}},
      {"blank_identifier_id", {std::to_string(a.blank_identifier_id), std::to_string(b.blank_identifier_id)}},
      {"vocab_size", {std::to_string(a.vocab_size), std::to_string(b.vocab_size)}},
      {"seq_len", {std::to_string(a.seq_len), std::to_string(b.seq_len)}},
      {"num_puzzle_identifiers", {std::to_string(a.num_puzzle_identifiers), std::to_string(b.num_puzzle_identifiers)}}};
  for (const auto& [key, values] : keys)
    if (values.first != values.second)
      HRM_THROW(FormatError, (test.split_dir() / "dataset.json").string(), ": ", key, " is ", values.second, " but ",
                (train.split_dir() / "dataset.json").string(), " has ", values.first,
                "; the model is built from the training split, so both splits must describe the same task (rebuild the dataset)");
}

std::string python_float_repr(double v) {
  HRM_CHECK(std::isfinite(v), "non-finite float ", v, " in dataset metadata");
  std::string s = fmt::format("{}", v);  // shortest round-trip, Python's exponent thresholds
  if (s.find_first_of(".e") == std::string::npos) s += ".0";
  return s;
}

std::string metadata_to_json(const DatasetMetadata& m) {
  std::string sets;
  for (size_t i = 0; i < m.sets.size(); ++i) sets += (i ? ", " : "") + json_string(m.sets[i]);
  return fmt::format(
      "{{\"pad_id\": {}, \"ignore_label_id\": {}, \"blank_identifier_id\": {}, \"vocab_size\": {}, \"seq_len\": {}, "
      "\"num_puzzle_identifiers\": {}, \"total_groups\": {}, \"mean_puzzle_examples\": {}, \"sets\": [{}]}}",
      m.pad_id, m.ignore_label_id ? std::to_string(*m.ignore_label_id) : "null", m.blank_identifier_id, m.vocab_size,
      m.seq_len, m.num_puzzle_identifiers, m.total_groups, python_float_repr(m.mean_puzzle_examples), sets);
}

DatasetMetadata metadata_from_json(const std::string& text, const std::string& name) {
  const json j = parse_json(text, name);
  if (!j.is_object()) HRM_THROW(FormatError, name, ": expected a JSON object");
  DatasetMetadata m;
  m.pad_id = get_int(j, "pad_id", name);
  if (!j.contains("ignore_label_id")) HRM_THROW(FormatError, name, ": missing key 'ignore_label_id' (expected an integer or null)");
  if (j["ignore_label_id"].is_null()) m.ignore_label_id.reset();
  else m.ignore_label_id = get_int(j, "ignore_label_id", name);
  m.blank_identifier_id = get_int(j, "blank_identifier_id", name);
  m.vocab_size = get_int(j, "vocab_size", name);
  m.seq_len = get_int(j, "seq_len", name);
  m.num_puzzle_identifiers = get_int(j, "num_puzzle_identifiers", name);
  m.total_groups = get_int(j, "total_groups", name);
  if (!j.contains("mean_puzzle_examples") || !j["mean_puzzle_examples"].is_number())
    HRM_THROW(FormatError, name, ": key 'mean_puzzle_examples' must be a number");
  m.mean_puzzle_examples = j["mean_puzzle_examples"].get<double>();
  if (!std::isfinite(m.mean_puzzle_examples) || m.mean_puzzle_examples < 0)
    HRM_THROW(FormatError, name, ": key 'mean_puzzle_examples' must be a finite number >= 0");
  if (!j.contains("sets") || !j["sets"].is_array() || j["sets"].empty())
    HRM_THROW(FormatError, name, ": key 'sets' must be a non-empty list of set names");
  m.sets.clear();
  for (const json& s : j["sets"]) {
    if (!s.is_string()) HRM_THROW(FormatError, name, ": key 'sets' must list strings, found ", s.dump());
    const std::string n = s.get<std::string>();
    if (n.empty() || n.find('/') != std::string::npos || n == "." || n == "..")
      HRM_THROW(FormatError, name, ": set name '", n, "' is not a plain file-name prefix");
    m.sets.push_back(n);
  }
  if (m.vocab_size <= 0 || m.seq_len <= 0 || m.num_puzzle_identifiers <= 0 || m.total_groups < 0)
    HRM_THROW(FormatError, name, ": expected vocab_size, seq_len, num_puzzle_identifiers > 0 and total_groups >= 0");
  if (m.pad_id < 0 || m.pad_id >= m.vocab_size)
    HRM_THROW(FormatError, name, ": pad_id ", m.pad_id, " outside [0, vocab_size=", m.vocab_size, ")");
  if (m.blank_identifier_id < 0 || m.blank_identifier_id >= m.num_puzzle_identifiers)
    HRM_THROW(FormatError, name, ": blank_identifier_id ", m.blank_identifier_id, " outside [0, num_puzzle_identifiers=",
              m.num_puzzle_identifiers, ")");
  if (m.seq_len > (int64_t{1} << 30) || m.vocab_size > (int64_t{1} << 31))
    HRM_THROW(FormatError, name, ": seq_len or vocab_size implausibly large");
  return m;
}

DatasetMetadata read_metadata(const fs::path& split_dir) {
  const fs::path p = split_dir / "dataset.json";
  return metadata_from_json(read_file(p.string()), p.string());
}

std::string identifiers_to_json(const std::vector<std::string>& ids) {
  std::string out = "[";
  for (size_t i = 0; i < ids.size(); ++i) out += (i ? ", " : "") + json_string(ids[i]);
  return out + "]";
}

std::vector<std::string> read_identifiers(const fs::path& dataset_dir) {
  const std::string name = (dataset_dir / "identifiers.json").string();
  return identifiers_from_json(read_file(name), name);
}

std::vector<std::string> identifiers_from_json(const std::string& text, const std::string& name) {
  const json j = parse_json(text, name);
  if (!j.is_array()) HRM_THROW(FormatError, name, ": expected a JSON list of identifier names");
  std::vector<std::string> ids;
  for (size_t i = 0; i < j.size(); ++i) {
    if (!j[i].is_string()) HRM_THROW(FormatError, name, ": entry ", i, " must be a string, found ", j[i].dump());
    ids.push_back(j[i].get<std::string>());
  }
  return ids;
}

// ---- reader ---------------------------------------------------------------------------------

void DatasetSet::input_row(int64_t example, int32_t* out) const {
  const int64_t L = inputs.dim(1);
  inputs.read_int32(example * L, L, out);
}

void DatasetSet::label_row(int64_t example, int32_t* out) const {
  const int64_t L = labels.dim(1);
  labels.read_int32(example * L, L, out);
}

void DatasetSet::check_tokens(int64_t example, const int32_t* in, const int32_t* lab, int64_t vocab_size,
                              std::optional<int64_t> ignored_label) const {
  const int64_t L = inputs.dim(1);
  for (int64_t k = 0; k < L; ++k) {
    if (in[k] < 0 || in[k] >= vocab_size)
      HRM_THROW(FormatError, inputs.name(), ": example ", example, ", position ", k, ": token ", in[k],
                " outside the vocabulary 0..", vocab_size - 1, " (vocab_size of dataset.json)");
    if ((lab[k] < 0 || lab[k] >= vocab_size) && lab[k] != kIgnoreLabelId && !(ignored_label && lab[k] == *ignored_label))
      HRM_THROW(FormatError, labels.name(), ": example ", example, ", position ", k, ": label ", lab[k],
                " outside the vocabulary 0..", vocab_size - 1, " (vocab_size of dataset.json) and not ",
                ignored_label ? "ignore_label_id " + std::to_string(*ignored_label) + " or " : std::string(), kIgnoreLabelId,
                " (ignored)");
  }
}

int64_t Dataset::check_all_tokens() const {
  std::vector<int32_t> in(static_cast<size_t>(metadata_.seq_len)), lab(in.size());
  int64_t n = 0;
  for (const DatasetSet& s : sets_) {
    // Tokens are read as int32 (numpy's astype wraps them the same way): a 64-bit or uint32 value
    // that wraps into the vocabulary would pass the check below unseen.
    for (const npy::Array* a : {&s.inputs, &s.labels}) {
      const npy::DType t = a->dtype();
      if (t != npy::DType::u4 && t != npy::DType::u8 && t != npy::DType::i8) continue;
      const int64_t L = std::max<int64_t>(1, a->shape().size() > 1 ? a->dim(1) : 1);
      for (int64_t i = 0; i < a->numel(); ++i) {
        const int64_t v = t == npy::DType::u8 && a->at(i) < 0 ? INT64_MAX : a->at(i);  // at(): uint64 above 2^63 wraps
        if (v != static_cast<int32_t>(v))
          HRM_THROW(FormatError, a->name(), ": example ", i / L, ", position ", i % L, ": token ",
                    t == npy::DType::u8 ? std::to_string(static_cast<uint64_t>(a->at(i))) : std::to_string(v),
                    " does not fit int32, as tokens are read (", npy::descr(t), ")");
      }
    }
    for (int64_t e = 0; e < s.examples(); ++e, ++n) {
      s.input_row(e, in.data());
      s.label_row(e, lab.data());
      s.check_tokens(e, in.data(), lab.data(), metadata_.vocab_size, metadata_.ignore_label_id);
    }
  }
  return n;
}

Dataset Dataset::open(const fs::path& dir, const std::string& split) {
  Dataset d;
  d.split_dir_ = dir / split;
  if (!fs::is_directory(d.split_dir_)) {
    // The usual slips: a split's folder, or its dataset.json, given for the dataset's folder.
    const fs::path given(dir);
    const fs::path split_dir = fs::is_regular_file(given) ? given.parent_path() : given;
    const std::string hint =
        fs::is_regular_file(split_dir / "dataset.json")
            ? "; " + given.string() + " is in one split of a dataset: give the dataset's folder, " +
                  (split_dir.has_parent_path() ? split_dir.parent_path().string() : std::string(".."))
        : split == "test" && fs::is_regular_file(given / "train" / "dataset.json")
            ? "; this dataset has a training split only (hrm data arc writes a test split from the tasks of an "
              "evaluation/ folder)"
            : std::string();
    HRM_THROW(FormatError, d.split_dir_.string(), ": no such split directory (expected ", dir.string(), "/", split,
              "/dataset.json)", hint);
  }
  d.metadata_ = read_metadata(d.split_dir_);
  int64_t groups = 0;
  for (const std::string& name : d.metadata_.sets) {
    d.sets_.push_back(load_set(d.split_dir_, name, d.metadata_));
    groups += d.sets_.back().groups();
  }
  if (groups != d.metadata_.total_groups)
    HRM_THROW(FormatError, (d.split_dir_ / "dataset.json").string(), ": total_groups is ", d.metadata_.total_groups,
              " but the group_indices arrays hold ", groups, " groups");
  return d;
}

const DatasetSet& Dataset::set(const std::string& name) const {
  for (const auto& s : sets_)
    if (s.name == name) return s;
  HRM_THROW(Error, split_dir_.string(), ": no set named '", name, "'");
}

// ---- writer ---------------------------------------------------------------------------------

void GroupBuffer::begin_puzzle(int32_t identifier) {
  identifiers_.push_back(identifier);
  puzzle_sizes_.push_back(0);
}

void GroupBuffer::add_example(const int32_t* input, const int32_t* label) {
  HRM_CHECK(!identifiers_.empty(), "GroupBuffer::add_example before begin_puzzle");
  inputs_.insert(inputs_.end(), input, input + seq_len_);
  labels_.insert(labels_.end(), label, label + seq_len_);
  ++puzzle_sizes_.back();
}

void GroupBuffer::add_example(const uint8_t* input, const uint8_t* label) {
  HRM_CHECK(!identifiers_.empty(), "GroupBuffer::add_example before begin_puzzle");
  inputs_.insert(inputs_.end(), input, input + seq_len_);
  labels_.insert(labels_.end(), label, label + seq_len_);
  ++puzzle_sizes_.back();
}

SplitWriter::SplitWriter(fs::path split_dir, int64_t seq_len, int64_t vocab_size, std::string set_name)
    : dir_(std::move(split_dir)), seq_len_(seq_len), vocab_size_(vocab_size), set_(std::move(set_name)) {
  HRM_CHECK(seq_len_ > 0 && vocab_size_ > 0, "seq_len and vocab_size must be positive");
  fs::create_directories(dir_);
  const npy::DType dt = npy::smallest_token_dtype(vocab_size_);
  inputs_ = std::make_unique<npy::RowWriter>((dir_ / (set_ + "__inputs.npy")).string(), dt, std::vector<int64_t>{seq_len_});
  labels_ = std::make_unique<npy::RowWriter>((dir_ / (set_ + "__labels.npy")).string(), dt, std::vector<int64_t>{seq_len_});
}

SplitWriter::~SplitWriter() = default;

void SplitWriter::close_open_group() {
  if (puzzle_open_) {
    HRM_CHECK(puzzle_indices_.back() != examples_, dir_.string(), ": puzzle ", puzzles() - 1, " has no examples");
    puzzle_indices_.push_back(static_cast<int32_t>(examples_));
    puzzle_open_ = false;
  }
  if (group_open_) {
    HRM_CHECK(group_indices_.back() != puzzles(), dir_.string(), ": group ", groups(), " has no puzzles");
    group_indices_.push_back(static_cast<int32_t>(puzzles()));
    group_open_ = false;
  }
}

void SplitWriter::begin_group() {
  HRM_CHECK(!finished_, "SplitWriter used after finish");
  close_open_group();
  group_open_ = true;
}

void SplitWriter::begin_puzzle(int32_t identifier) {
  HRM_CHECK(group_open_, "SplitWriter::begin_puzzle outside a group");
  if (puzzle_open_) {
    HRM_CHECK(puzzle_indices_.back() != examples_, dir_.string(), ": puzzle ", puzzles() - 1, " has no examples");
    puzzle_indices_.push_back(static_cast<int32_t>(examples_));
  }
  HRM_CHECK(identifier >= 0, "negative puzzle identifier ", identifier);
  puzzle_identifiers_.push_back(identifier);
  puzzle_open_ = true;
}

void SplitWriter::check_tokens(const int32_t* t, const char* what) const {
  for (int64_t i = 0; i < seq_len_; ++i)
    if (t[i] < 0 || t[i] >= vocab_size_)
      HRM_THROW(Error, dir_.string(), ": ", what, " token ", t[i], " at position ", i, " of example ", examples_,
                " outside [0, vocab_size=", vocab_size_, ")");
}

void SplitWriter::add_example(const int32_t* input, const int32_t* label) {
  HRM_CHECK(puzzle_open_, "SplitWriter::add_example outside a puzzle");
  HRM_CHECK(examples_ < INT32_MAX, "more than 2^31 examples: int32 puzzle_indices cannot address them");
  check_tokens(input, "input");
  check_tokens(label, "label");
  inputs_->append_int32(input, 1);
  labels_->append_int32(label, 1);
  ++examples_;
}

void SplitWriter::add_example(const uint8_t* input, const uint8_t* label) {
  if (vocab_size_ > 256) {  // wider dtype on disk: widen, then the int32 path narrows
    scratch_in_.assign(input, input + seq_len_);
    scratch_lab_.assign(label, label + seq_len_);
    return add_example(scratch_in_.data(), scratch_lab_.data());
  }
  // uint8 on disk (the builders' hot path): check the range, write the bytes as they are.
  HRM_CHECK(puzzle_open_, "SplitWriter::add_example outside a puzzle");
  HRM_CHECK(examples_ < INT32_MAX, "more than 2^31 examples: int32 puzzle_indices cannot address them");
  const uint8_t max_in = *std::max_element(input, input + seq_len_), max_lab = *std::max_element(label, label + seq_len_);
  if (max_in >= vocab_size_ || max_lab >= vocab_size_) {
    scratch_in_.assign(input, input + seq_len_);
    check_tokens(scratch_in_.data(), "input");
    scratch_lab_.assign(label, label + seq_len_);
    check_tokens(scratch_lab_.data(), "label");
  }
  inputs_->append_raw(input, 1);
  labels_->append_raw(label, 1);
  ++examples_;
}

void SplitWriter::add_group(const GroupBuffer& g) {
  HRM_CHECK(g.seq_len_ == seq_len_, "GroupBuffer seq_len ", g.seq_len_, " != split seq_len ", seq_len_);
  begin_group();
  int64_t ex = 0;
  for (size_t p = 0; p < g.identifiers_.size(); ++p) {
    begin_puzzle(g.identifiers_[p]);
    for (int64_t k = 0; k < g.puzzle_sizes_[p]; ++k, ++ex) {
      const size_t off = static_cast<size_t>(ex * seq_len_);
      add_example(g.inputs_.data() + off, g.labels_.data() + off);
    }
  }
}

DatasetMetadata SplitWriter::finish(DatasetMetadata m) {
  HRM_CHECK(!finished_, "SplitWriter::finish called twice");
  close_open_group();
  inputs_->finish();
  labels_->finish();
  for (size_t i = 0; i < puzzle_identifiers_.size(); ++i)
    HRM_CHECK(puzzle_identifiers_[i] < m.num_puzzle_identifiers, dir_.string(), ": puzzle ", i, " has identifier ",
              puzzle_identifiers_[i], " >= num_puzzle_identifiers ", m.num_puzzle_identifiers);
  npy::save_int32((dir_ / (set_ + "__puzzle_identifiers.npy")).string(), puzzle_identifiers_);
  npy::save_int32((dir_ / (set_ + "__puzzle_indices.npy")).string(), puzzle_indices_);
  npy::save_int32((dir_ / (set_ + "__group_indices.npy")).string(), group_indices_);
  m.vocab_size = vocab_size_;
  m.seq_len = seq_len_;
  m.total_groups = groups();
  m.mean_puzzle_examples = puzzles() > 0 ? static_cast<double>(examples_) / static_cast<double>(puzzles()) : 0.0;
  m.sets = {set_};
  write_file_atomic((dir_ / "dataset.json").string(), metadata_to_json(m));
  finished_ = true;
  return m;
}

namespace {

fs::path normal_absolute(const fs::path& p) {
  fs::path a = fs::weakly_canonical(fs::absolute(p)).lexically_normal();
  if (a.filename().empty()) a = a.parent_path();
  return a;
}

// What a build writes at the top of a dataset directory.
bool written_by_builds(const std::string& name) {
  return name == "identifiers.json" || name == "train" || name == "test" || name == "input";
}

}  // namespace

std::string dataset_marker(const fs::path& dir) {
  for (const char* f : {"train/dataset.json", "test/dataset.json", "identifiers.json", "dataset.json"})
    if (fs::exists(dir / f)) return f;
  return "";
}

void check_dataset_output(const fs::path& out_dir, const std::vector<std::string>& inputs) {
  if (out_dir.empty()) HRM_THROW(ConfigError, "the output directory is an empty path; name the dataset's folder");
  const fs::path out = normal_absolute(out_dir);
  // The build replaces `out` as a whole: nothing it needs may lie inside it.
  const auto inside_out = [&out](const fs::path& p) {
    return std::mismatch(out.begin(), out.end(), p.begin(), p.end()).first == out.end();
  };
  // The folder a shell stands in, or one above it: replacing it would leave that shell in a deleted folder.
  if (const fs::path here = normal_absolute(fs::current_path()); inside_out(here))
    HRM_THROW(ConfigError, "the output directory ", out_dir.string(), " is ", out == here ? "" : "above ",
              "the current directory, which the build would replace as a whole; build into a folder of its own");
  for (const auto& in : inputs)
    if (inside_out(normal_absolute(in)))
      HRM_THROW(ConfigError, "input '", in, "' lies inside the output directory ", out.string(),
                ", which the build replaces as a whole; build into another directory");
  if (!fs::exists(out)) return;
  if (!fs::is_directory(out))
    HRM_THROW(Error, out.string(), ": exists and is not a directory; refusing to replace it with a dataset");
  if (fs::is_empty(out)) return;
  if (const std::string m = dataset_marker(out); m.empty() || m == "dataset.json")
    HRM_THROW(Error, out.string(), ": exists and is not a dataset (no identifiers.json or */dataset.json); refusing to replace it");
  std::vector<std::string> foreign;
  for (const auto& e : fs::directory_iterator(out))
    if (!written_by_builds(e.path().filename().string())) foreign.push_back(e.path().filename().string());
  std::sort(foreign.begin(), foreign.end());
  std::string names;
  for (const auto& f : foreign) names += (names.empty() ? "" : ", ") + f;
  if (!foreign.empty())
    HRM_THROW(Error, out.string(), ": holds ", names,
              ", which a build does not write; refusing to replace the directory (move them out, or build into another directory)");
}

DatasetWriter::DatasetWriter(fs::path out_dir) {
  out_ = fs::absolute(out_dir).lexically_normal();
  if (out_.filename().empty()) out_ = out_.parent_path();
  HRM_CHECK(!out_.filename().empty() && out_ != out_.root_path(), "bad output directory '", out_dir.string(), "'");
  if (fs::exists(out_) && !fs::is_directory(out_))
    HRM_THROW(Error, out_.string(), ": exists and is not a directory; refusing to replace it with a dataset");
  fs::create_directories(out_.parent_path());
  // Temporaries of builds of this output that were killed (their process is gone): an interrupted
  // build leaves neither a half dataset nor, after the next run, its temporary.
  remove_stale_temporaries(out_.parent_path().string(), "." + out_.filename().string() + ".tmp-");
  for (int attempt = 0;; ++attempt) {
    tmp_ = out_.parent_path() / fmt::format(".{}.tmp-{}-{}", out_.filename().string(), ::getpid(), attempt);
    if (fs::create_directory(tmp_)) break;
    HRM_CHECK(attempt < 1000, "cannot create a temporary directory next to ", out_.string());
  }
}

DatasetWriter::~DatasetWriter() {
  splits_.clear();  // close files before removing them
  if (!committed_) {
    remove_tree(tmp_.string());
  }
}

SplitWriter& DatasetWriter::split(const std::string& name, int64_t seq_len, int64_t vocab_size, const std::string& set_name) {
  HRM_CHECK(!committed_, "DatasetWriter::split after commit");
  for (auto& [n, w] : splits_) HRM_CHECK(n != name, "split '", name, "' opened twice");
  splits_.emplace_back(name, std::make_unique<SplitWriter>(tmp_ / name, seq_len, vocab_size, set_name));
  return *splits_.back().second;
}

void DatasetWriter::commit(const std::vector<std::string>& identifiers) {
  HRM_CHECK(!committed_, "DatasetWriter::commit called twice");
  for (auto& [n, w] : splits_)
    HRM_CHECK(fs::exists(tmp_ / n / "dataset.json"), "split '", n, "' was not finished before commit");
  splits_.clear();
  write_file_atomic((tmp_ / "identifiers.json").string(), identifiers_to_json(identifiers));
  if (fs::exists(out_)) {
    check_dataset_output(out_, {});  // again: the directory may have changed during the build
    for (const auto& e : fs::directory_iterator(out_))
      if (!fs::exists(tmp_ / e.path().filename()))
        HRM_THROW(Error, out_.string(), ": holds ", e.path().filename().string(),
                  ", which this build does not write (e.g. input/ with --no-csv); refusing to replace the directory "
                  "(move it out, or build into another directory)");
    // Swap the new directory into place in one step; the old one ends up at tmp_ and is removed.
    if (::renameat2(AT_FDCWD, tmp_.c_str(), AT_FDCWD, out_.c_str(), RENAME_EXCHANGE) != 0) {
      const fs::path old = tmp_.string() + "-old";
      fs::rename(out_, old);  // file systems without RENAME_EXCHANGE: a short window without out_
      fs::rename(tmp_, out_);
      committed_ = true;
      remove_tree(old.string());
      return;
    }
    committed_ = true;
    remove_tree(tmp_.string());
    return;
  }
  if (std::rename(tmp_.c_str(), out_.c_str()) != 0)
    HRM_THROW(Error, "cannot rename ", tmp_.string(), " to ", out_.string(), ": ", std::strerror(errno));
  committed_ = true;
}

}  // namespace hrm::data
