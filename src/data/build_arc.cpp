// build_arc.cpp: the ARC dataset builder (see build_arc.h; mirrors dataset/build_arc_dataset.py of
// sapientinc/HRM@42410da).
// Worker threads augment and encode whole tasks (one task = one group) into buffers; the calling
// thread appends them to the dataset in task order, so the bytes do not depend on the thread
// count. A window of a few tasks bounds the memory held in buffers.
#include "data/build_arc.h"

#include <algorithm>
#include <condition_variable>
#include <exception>
#include <filesystem>
#include <map>
#include <mutex>
#include <optional>
#include <thread>

#include "core/check.h"
#include "core/cores.h"
#include "data/dataset.h"

namespace hrm::arc {
namespace {

namespace fs = std::filesystem;

// Independent Rng streams per purpose, task and puzzle (Rng::derive(seed, stream | task, puzzle)).
enum Stream : uint64_t { kShuffle = 1, kAugment = 2, kTranslate = 3 };
uint64_t stream(Stream s, uint64_t index) { return (static_cast<uint64_t>(s) << 56) ^ index; }

std::vector<fs::path> sorted_entries(const fs::path& dir, bool want_dirs) {
  std::vector<fs::path> out;
  for (const auto& e : fs::directory_iterator(dir)) {
    const std::string name = e.path().filename().string();
    if (want_dirs ? e.is_directory() : (e.is_regular_file() && name.size() > 5 && name[0] != '.' &&
                                        name.compare(name.size() - 5, 5, ".json") == 0))
      out.push_back(e.path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

// One split's rows of one task, encoded.
struct Rows {
  std::vector<uint8_t> inputs, labels;  // [examples, kSeqLen]
  std::vector<int64_t> puzzle_sizes;

  void reserve(size_t puzzles, size_t examples_per_puzzle) {
    inputs.reserve(puzzles * examples_per_puzzle * kSeqLen);
    labels.reserve(puzzles * examples_per_puzzle * kSeqLen);
    puzzle_sizes.reserve(puzzles);
  }

  void add(const Pair& p, int row, int col) {
    const size_t off = inputs.size();
    inputs.resize(off + kSeqLen);
    labels.resize(off + kSeqLen);
    encode_grid(p.input, row, col, inputs.data() + off);
    encode_grid(p.output, row, col, labels.data() + off);
    ++puzzle_sizes.back();
  }
};

struct TaskOutput {
  std::vector<Augmentation> augs;
  Rows train, test;
};

// The pairs that go to the train split, in the file's key order (convert_single_arc_puzzle).
std::vector<const Pair*> train_pairs(const Task& t, bool evaluation) {
  std::vector<const Pair*> out;
  auto add = [&](const std::vector<Pair>& ps) {
    for (const Pair& p : ps) out.push_back(&p);
  };
  if (evaluation) {
    add(t.train);
  } else if (t.test_first) {
    add(t.test);
    add(t.train);
  } else {
    add(t.train);
    add(t.test);
  }
  return out;
}

TaskOutput process_task(const SourceTask& st, uint64_t index, const BuildConfig& cfg) {
  TaskOutput out;
  Rng aug_rng = Rng::derive(cfg.seed, stream(kAugment, index));
  std::vector<Task> augmented;
  out.augs = draw_distinct_augmentations(st.task, cfg.num_aug, aug_rng, &augmented);
  const size_t puzzles = out.augs.size() + 1;
  out.train.reserve(puzzles, train_pairs(st.task, st.evaluation).size());
  if (st.evaluation) out.test.reserve(puzzles, st.task.test.size());
  for (size_t j = 0; j <= out.augs.size(); ++j) {
    const Task& t = j == 0 ? st.task : augmented[j - 1];
    // Train: random offsets for all examples but one (no_aug_id), drawn per puzzle.
    Rng rng = Rng::derive(cfg.seed, stream(kTranslate, index), j);
    const std::vector<const Pair*> pairs = train_pairs(t, st.evaluation);
    const uint64_t keep = rng.below(pairs.size());
    out.train.puzzle_sizes.push_back(0);
    for (size_t k = 0; k < pairs.size(); ++k) {
      const Pair& p = *pairs[k];
      int row = 0, col = 0;
      if (k != keep) {
        row = static_cast<int>(rng.integers(0, kMaxGridSize - std::max(p.input.rows, p.output.rows) + 1));
        col = static_cast<int>(rng.integers(0, kMaxGridSize - std::max(p.input.cols, p.output.cols) + 1));
      }
      out.train.add(p, row, col);
    }
    if (st.evaluation) {  // test: the evaluation tasks' test pairs, untranslated
      out.test.puzzle_sizes.push_back(0);
      for (const Pair& p : t.test) out.test.add(p, 0, 0);
    }
  }
  return out;
}

void write_rows(data::SplitWriter& w, const Rows& rows, int32_t first_identifier) {
  w.begin_group();
  size_t ex = 0;
  for (size_t p = 0; p < rows.puzzle_sizes.size(); ++p) {
    w.begin_puzzle(first_identifier + static_cast<int32_t>(p));
    for (int64_t k = 0; k < rows.puzzle_sizes[p]; ++k, ++ex)
      w.add_example(rows.inputs.data() + ex * kSeqLen, rows.labels.data() + ex * kSeqLen);
  }
}

// Runs process_task on worker threads and hands the outputs over in task order.
class OrderedWorkers {
 public:
  OrderedWorkers(const std::vector<SourceTask>& tasks, const BuildConfig& cfg, int threads)
      : tasks_(tasks), cfg_(cfg), slots_(tasks.size()), window_(2 * static_cast<size_t>(threads) + 2) {
    for (int t = 0; t < threads; ++t) pool_.emplace_back([this] { run(); });
  }
  ~OrderedWorkers() {
    {
      std::lock_guard<std::mutex> lock(m_);
      stop_ = true;
    }
    space_.notify_all();
    for (auto& t : pool_) t.join();
  }

  TaskOutput take(size_t i) {
    std::unique_lock<std::mutex> lock(m_);
    ready_.wait(lock, [&] { return slots_[i].has_value() || error_; });
    if (error_) std::rethrow_exception(error_);
    TaskOutput out = std::move(*slots_[i]);
    slots_[i].reset();
    next_take_ = i + 1;
    space_.notify_all();
    return out;
  }

 private:
  void run() {
    for (;;) {
      size_t i;
      {
        std::unique_lock<std::mutex> lock(m_);
        space_.wait(lock, [&] { return stop_ || next_claim_ >= tasks_.size() || next_claim_ < next_take_ + window_; });
        if (stop_ || next_claim_ >= tasks_.size()) return;
        i = next_claim_++;
      }
      try {
        TaskOutput out = process_task(tasks_[i], i, cfg_);
        std::lock_guard<std::mutex> lock(m_);
        slots_[i] = std::move(out);
      } catch (...) {
        std::lock_guard<std::mutex> lock(m_);
        if (!error_) error_ = std::current_exception();
        stop_ = true;
      }
      ready_.notify_all();
    }
  }

  const std::vector<SourceTask>& tasks_;
  const BuildConfig& cfg_;
  std::vector<std::optional<TaskOutput>> slots_;
  size_t window_, next_claim_ = 0, next_take_ = 0;
  bool stop_ = false;
  std::exception_ptr error_;
  std::mutex m_;
  std::condition_variable ready_, space_;
  std::vector<std::thread> pool_;
};

}  // namespace

std::vector<SourceTask> load_task_dirs(const std::vector<std::string>& dirs, uint64_t seed,
                                       std::vector<std::pair<std::string, int64_t>>* counts) {
  std::vector<SourceTask> all;
  std::map<std::string, std::string> seen;  // task id -> file
  uint64_t subdir_ordinal = 0;
  for (const std::string& dir : dirs) {
    if (!fs::is_directory(dir)) HRM_THROW(ConfigError, "ARC dataset directory ", dir, " does not exist or is not a directory");
    const size_t before = all.size();
    for (const fs::path& sub : sorted_entries(dir, true)) {
      std::vector<SourceTask> tasks;
      for (const fs::path& file : sorted_entries(sub, false)) {
        SourceTask st{load_task(file.string()), sub.filename() == "evaluation"};
        const auto [it, fresh] = seen.emplace(st.task.id, file.string());
        if (!fresh) HRM_THROW(FormatError, file.string(), ": task id ", st.task.id, " is also ", it->second,
                              "; task ids name puzzle identifiers and must be unique");
        tasks.push_back(std::move(st));
      }
      Rng rng = Rng::derive(seed, stream(kShuffle, subdir_ordinal++));  // np.random.shuffle(puzzles)
      rng.shuffle(tasks);
      for (auto& t : tasks) all.push_back(std::move(t));
    }
    if (counts) counts->emplace_back(dir, static_cast<int64_t>(all.size() - before));
  }
  return all;
}

BuildSummary build_dataset(const BuildConfig& cfg) {
  // A task has at most 8 dihedral transforms x 9! permutations of colours 1-9 (0 stays) augmentations
  // besides itself; asking for more only grows the draws' memory until they give up.
  constexpr int64_t kMaxAugmentations = 8LL * 362880 - 1;
  if (cfg.num_aug < 0 || cfg.num_aug > kMaxAugmentations)
    HRM_THROW(ConfigError, "--num-aug ", cfg.num_aug, ": expected 0 to ", kMaxAugmentations,
              " (8 dihedral transforms x 9! colour permutations, less the task itself)");
  for (size_t i = 0; i < cfg.dataset_dirs.size(); ++i)
    for (size_t j = 0; j < i; ++j) {
      std::error_code ec;
      if (fs::equivalent(cfg.dataset_dirs[i], cfg.dataset_dirs[j], ec))
        HRM_THROW(ConfigError, "--dataset-dirs names ", cfg.dataset_dirs[j], " twice (also as ", cfg.dataset_dirs[i],
                  "): its tasks would all be duplicates");
    }
  data::check_dataset_output(cfg.output_dir, cfg.dataset_dirs);
  BuildSummary summary;
  const std::vector<SourceTask> tasks = load_task_dirs(cfg.dataset_dirs, cfg.seed, &summary.tasks_per_dir);
  if (tasks.empty()) HRM_THROW(ConfigError, "no ARC task files (*.json in a subdirectory) found in the dataset directories");

  data::DatasetWriter writer(cfg.output_dir);
  data::SplitWriter& train = writer.split("train", kSeqLen, kVocabSize);
  // As in the reference, a test split exists only when some task comes from an `evaluation` dir.
  const bool has_test = std::any_of(tasks.begin(), tasks.end(), [](const SourceTask& t) { return t.evaluation; });
  data::SplitWriter* test = has_test ? &writer.split("test", kSeqLen, kVocabSize) : nullptr;
  std::vector<std::string> identifiers{"<blank>"};
  const int threads = cfg.threads > 0 ? cfg.threads : static_cast<int>(usable_cores());
  {
    OrderedWorkers workers(tasks, cfg, threads);
    for (size_t i = 0; i < tasks.size(); ++i) {
      const TaskOutput out = workers.take(i);
      const int32_t first = static_cast<int32_t>(identifiers.size());  // original, then augmentations
      identifiers.push_back(tasks[i].task.id);
      for (const Augmentation& a : out.augs) identifiers.push_back(augmented_name(tasks[i].task.id, a));
      write_rows(train, out.train, first);
      if (tasks[i].evaluation) write_rows(*test, out.test, first);
      if (static_cast<int>(out.augs.size()) < cfg.num_aug)
        summary.short_groups.emplace_back(tasks[i].task.id, static_cast<int64_t>(out.augs.size()) + 1);
    }
  }

  data::DatasetMetadata meta;  // pad 0, ignore_label_id 0 (PAD labels are ignored), blank 0
  meta.pad_id = 0;
  meta.ignore_label_id = 0;
  meta.blank_identifier_id = 0;
  meta.num_puzzle_identifiers = static_cast<int64_t>(identifiers.size());
  summary.num_identifiers = meta.num_puzzle_identifiers;
  train.finish(meta);  // closes the last group: count after it
  summary.train_examples = train.examples();
  summary.train_puzzles = train.puzzles();
  summary.train_groups = train.groups();
  if (test) {
    test->finish(meta);
    summary.test_examples = test->examples();
    summary.test_puzzles = test->puzzles();
    summary.test_groups = test->groups();
  }
  writer.commit(identifiers);
  return summary;
}

}  // namespace hrm::arc
