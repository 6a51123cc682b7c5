// build_sudoku.cpp: see build_sudoku.h.
// Worker threads solve puzzles and build whole groups (a puzzle and its shuffles); the calling
// thread consumes the results in input order (ordered_parallel), so the bytes and the first error
// reported do not depend on the thread count, and memory stays bounded by a small window of groups.
#include "data/build_sudoku.h"

#include <algorithm>
#include <charconv>
#include <climits>
#include <condition_variable>
#include <exception>
#include <filesystem>
#include <mutex>
#include <set>
#include <thread>

#include <fmt/format.h>

#include "core/atomic_file.h"
#include "core/check.h"
#include "core/rng.h"
#include "data/maze.h"  // maze::parse_maze_csv: the reference's generic source,question,answer,rating CSV
#include "data/sudoku_canonical.h"

namespace hrm::data {
namespace {

namespace sd = sudoku;

// Rng stream tags (Rng::derive's first index): one per purpose, so options do not shift draws.
constexpr uint64_t kAugStream = 0xa0650d0c;
constexpr uint64_t kSplitStream = 0x5b117;
constexpr uint64_t kSubsampleStream = 0x5ab5a3b1e;
constexpr uint64_t kGenerateStream = 0x6e4e7a7e;

// Runs make(i) for i in [0, n) on `threads` workers and hands the results to consume() in index
// order on the calling thread. At most `window` results wait at a time. An exception from make(i)
// is rethrown when consume would have received item i (so the first failing item wins).
template <typename T, typename Make, typename Consume>
void ordered_parallel(int64_t n, int threads, Make make, Consume consume) {
  if (threads <= 1 || n <= 1) {
    for (int64_t i = 0; i < n; ++i) consume(make(i));
    return;
  }
  struct Slot {
    bool ready = false;
    std::optional<T> value;
    std::exception_ptr error;
  };
  const int64_t window = 4 * static_cast<int64_t>(threads);
  std::vector<Slot> slots(static_cast<size_t>(window));
  std::mutex mu;
  std::condition_variable cv;
  int64_t next = 0, consumed = 0;
  bool stop = false;
  auto worker = [&] {
    for (;;) {
      int64_t i;
      {
        std::unique_lock<std::mutex> lock(mu);
        cv.wait(lock, [&] { return stop || next >= n || next < consumed + window; });
        if (stop || next >= n) return;
        i = next++;
      }
      Slot s;
      try {
        s.value.emplace(make(i));
      } catch (...) {
        s.error = std::current_exception();
      }
      s.ready = true;
      {
        std::lock_guard<std::mutex> lock(mu);
        slots[static_cast<size_t>(i % window)] = std::move(s);
      }
      cv.notify_all();
    }
  };
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) pool.emplace_back(worker);
  auto finish = [&] {
    {
      std::lock_guard<std::mutex> lock(mu);
      stop = true;
    }
    cv.notify_all();
    for (auto& th : pool) th.join();
  };
  try {
    for (int64_t i = 0; i < n; ++i) {
      Slot s;
      {
        std::unique_lock<std::mutex> lock(mu);
        Slot& at = slots[static_cast<size_t>(i % window)];
        cv.wait(lock, [&] { return at.ready; });
        s = std::move(at);
        at = Slot{};
        ++consumed;
      }
      cv.notify_all();
      if (s.error) std::rethrow_exception(s.error);
      consume(std::move(*s.value));
    }
  } catch (...) {
    finish();
    throw;
  }
  finish();
}

std::string strip_cr(std::string_view line) {
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  return std::string(line);
}

// Which unit breaks a grid, for messages: "row 3 holds 5 twice".
std::string conflict_of(const sd::Grid& g) {
  const char* kinds[3] = {"row", "column", "box"};
  for (int k = 0; k < 3; ++k)
    for (int u = 0; u < 9; ++u) {
      int seen[10] = {};
      for (int j = 0; j < 9; ++j) {
        const int cell = k == 0 ? u * 9 + j : k == 1 ? j * 9 + u : (u / 3 * 3 + j / 3) * 9 + u % 3 * 3 + j % 3;
        if (g[cell] != 0 && ++seen[g[cell]] == 2)
          return fmt::format("{} {} holds {} twice", kinds[k], u + 1, g[cell]);
      }
    }
  return "no repeated digit";
}


int64_t parse_rating(const std::string& text, const std::string& where) {
  if (text.empty()) return -1;
  int64_t v = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size() || v < 0)
    HRM_THROW(FormatError, where, ": rating '", text, "' is not a non-negative integer");
  return v;
}

// One CSV row: both grids parsed and the answer checked against the question.
SudokuPuzzle csv_puzzle(const maze::MazeRecord& r, const std::string& name) {
  SudokuPuzzle p;
  p.where = name + ":" + std::to_string(r.line);
  p.source = r.source;
  p.puzzle = sd::parse_grid(r.question, p.where + ": question", true);
  p.solution = sd::parse_grid(r.answer, p.where + ": answer", false);
  if (!sd::is_solution(p.solution))
    HRM_THROW(FormatError, p.where, ": the answer is not a valid solution (", conflict_of(p.solution), ")");
  for (int i = 0; i < sd::kCells; ++i)
    if (p.puzzle[i] != 0 && p.puzzle[i] != p.solution[i])
      HRM_THROW(FormatError, p.where, ": the answer contradicts the question at row ", i / 9 + 1, ", column ", i % 9 + 1,
                " (question ", int(p.puzzle[i]), ", answer ", int(p.solution[i]), ")");
  p.solved = true;
  p.rating = parse_rating(r.rating, p.where);
  return p;
}

std::vector<SudokuPuzzle> parse_list(const std::string& text, const std::string& name) {
  std::vector<SudokuPuzzle> out;
  const std::string source = std::filesystem::path(name).filename().string();
  size_t pos = 0;
  for (int64_t line = 1; pos < text.size(); ++line) {
    size_t end = text.find('\n', pos);
    if (end == std::string::npos) end = text.size();
    const std::string row = strip_cr(std::string_view(text).substr(pos, end - pos));
    pos = end + 1;
    const sd::ListLine l = sd::split_list_line(row);
    if (l.cells.empty() && (l.rest.empty() || l.rest[0] == '#')) continue;  // a blank or '#' comment line
    SudokuPuzzle p;
    p.where = name + ":" + std::to_string(line);
    p.source = source;
    if (l.cells.size() != sd::kCells && !l.rest.empty())  // a blank inside the puzzle ends it early
      HRM_THROW(FormatError, p.where, ": expected 81 cells, got ", l.cells.size(), " before ",
                l.rest[0] == ' ' ? "a space" : l.rest[0] == '\t' ? "a tab" : "'" + std::string(1, l.rest[0]) + "'",
                " (a line is 81 characters of 1-9, '.' or '0', then optionally a blank, ':', ';', '|' or '#' and anything)");
    p.puzzle = sd::parse_grid(l.cells, p.where);
    out.push_back(std::move(p));
  }
  return out;
}

// A CSV starts with its header row; a puzzle list's first puzzle has no comma (its comment may).
bool looks_like_csv(const std::string& text) {
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string::npos) end = text.size();
    const std::string row = strip_cr(std::string_view(text).substr(pos, end - pos));
    pos = end + 1;
    const sd::ListLine l = sd::split_list_line(row);
    if (!l.cells.empty() || (!l.rest.empty() && l.rest[0] != '#')) return l.cells.find(',') != std::string::npos;
  }
  return false;
}

std::string csv_field(const std::string& f) {
  if (f.find_first_of(",\"\r\n") == std::string::npos) return f;
  std::string q = "\"";
  for (char c : f) q += c == '"' ? std::string("\"\"") : std::string(1, c);
  return q + "\"";
}

// Repeats dropped, first occurrence kept: a puzzle whose canonical form (sudoku_canonical.h)
// equals an earlier one's is the same puzzle or one of its shuffles.
std::vector<SudokuPuzzle> drop_equivalent(std::vector<SudokuPuzzle> puzzles, int threads, int64_t& dropped) {
  std::set<sd::Grid> seen;
  std::vector<SudokuPuzzle> out;
  size_t k = 0;
  ordered_parallel<sd::Grid>(
      static_cast<int64_t>(puzzles.size()), threads, [&](int64_t i) { return sd::canonical_form(puzzles[i].puzzle); },
      [&](sd::Grid&& canonical) {
        if (seen.insert(canonical).second) out.push_back(std::move(puzzles[k]));
        ++k;
      });
  dropped += static_cast<int64_t>(puzzles.size() - out.size());
  return out;
}

// How many of `test` are a training puzzle or a shuffle of one (a test score over them measures
// memory, not reasoning). Only puzzles whose shuffle signature occurs on both sides are canonicalised:
// a few, where canonicalising 423k test puzzles would take minutes.
int64_t count_shuffles_of(const std::vector<SudokuPuzzle>& train, const std::vector<SudokuPuzzle>& test, int threads) {
  std::vector<uint64_t> train_signature(train.size());
  for (size_t i = 0; i < train.size(); ++i) train_signature[i] = sd::shuffle_signature(train[i].puzzle);
  const std::set<uint64_t> train_signatures(train_signature.begin(), train_signature.end());
  std::set<uint64_t> shared;
  std::vector<const sd::Grid*> candidates[2];  // training, test
  for (const auto& p : test) {
    const uint64_t s = sd::shuffle_signature(p.puzzle);
    if (train_signatures.count(s)) shared.insert(s), candidates[1].push_back(&p.puzzle);
  }
  if (candidates[1].empty()) return 0;
  for (size_t i = 0; i < train.size(); ++i)
    if (shared.count(train_signature[i])) candidates[0].push_back(&train[i].puzzle);
  std::set<sd::Grid> train_forms;
  int64_t count = 0;
  for (int side = 0; side < 2; ++side)
    ordered_parallel<sd::Grid>(
        static_cast<int64_t>(candidates[side].size()), threads,
        [&](int64_t i) { return sd::canonical_form(*candidates[side][static_cast<size_t>(i)]); },
        [&](sd::Grid&& form) {
          if (side == 0) train_forms.insert(std::move(form));
          else count += static_cast<int64_t>(train_forms.count(form));
        });
  return count;
}

std::vector<SudokuPuzzle> keep_min_difficulty(std::vector<SudokuPuzzle> puzzles, std::optional<int64_t> min, int64_t& dropped) {
  if (!min) return puzzles;
  std::vector<SudokuPuzzle> out;
  for (auto& p : puzzles) {
    if (p.rating < 0) HRM_THROW(FormatError, p.where, ": no rating to compare with --min-difficulty");
    if (p.rating >= *min) out.push_back(std::move(p));
  }
  dropped += static_cast<int64_t>(puzzles.size() - out.size());
  return out;
}

// np.random.choice(total, size, replace=False): distinct puzzles in draw order, from a seeded Rng.
std::vector<SudokuPuzzle> subsample(std::vector<SudokuPuzzle> puzzles, int64_t size, uint64_t seed) {
  const int64_t total = static_cast<int64_t>(puzzles.size());
  if (size >= total) return puzzles;
  Rng rng = Rng::derive(seed, kSubsampleStream);
  std::vector<int64_t> idx(static_cast<size_t>(total));
  for (int64_t i = 0; i < total; ++i) idx[i] = i;
  std::vector<SudokuPuzzle> out;
  for (int64_t i = 0; i < size; ++i) {
    std::swap(idx[i], idx[rng.integers(i, total)]);
    out.push_back(std::move(puzzles[idx[i]]));
  }
  return out;
}

// New unique puzzles: puzzle i from its own stream, so the set does not depend on threads. A
// repeat of an earlier puzzle (astronomically rare) is redrawn from the next stream.
std::vector<SudokuPuzzle> generate_puzzles(int64_t n, int64_t min_rating, uint64_t seed, int threads) {
  auto make = [&](int64_t i, uint64_t attempt) {
    Rng rng = Rng::derive(seed, kGenerateStream + attempt, static_cast<uint64_t>(i));
    const sd::Generated g = sd::generate(rng, min_rating);
    SudokuPuzzle p;
    p.puzzle = g.puzzle;
    p.solution = g.solution;
    p.solved = true;
    p.rating = g.rating;
    p.source = fmt::format("hrm-sudoku-generator seed={} index={}", seed, i);
    p.where = fmt::format("generated puzzle {}", i);
    if (attempt > 0) p.source += fmt::format(" retry={}", attempt);
    return p;
  };
  std::vector<SudokuPuzzle> out;
  std::set<sd::Grid> seen;
  ordered_parallel<SudokuPuzzle>(n, threads, [&](int64_t i) { return make(i, 0); }, [&](SudokuPuzzle&& p) {
    for (uint64_t attempt = 1; !seen.insert(p.puzzle).second; ++attempt) p = make(static_cast<int64_t>(out.size()), attempt);
    out.push_back(std::move(p));
  });
  return out;
}

// Pooled or generated puzzles: a seeded draw of train_size puzzles for training (in draw order,
// like a subsample) and test_size of the rest (default: all of them) for test, in input order.
void split_pool(std::vector<SudokuPuzzle> pool, const SudokuBuildConfig& cfg, std::vector<SudokuPuzzle> splits[2]) {
  const int64_t n = static_cast<int64_t>(pool.size());
  if (!cfg.train_size) HRM_THROW(ConfigError, "--train-size is required with --input or --generate");
  const int64_t train = *cfg.train_size, test = cfg.test_size.value_or(n - std::min(train, n));
  if (train < 0 || test < 0) HRM_THROW(ConfigError, "--train-size and --test-size must be >= 0");
  if (train + test > n)
    HRM_THROW(ConfigError, "only ", n, " puzzles left after filtering, fewer than --train-size ", train,
              " + --test-size ", test);
  const std::vector<int64_t> perm = Rng::derive(cfg.seed, kSplitStream).permutation(n);
  std::vector<int64_t> test_idx(perm.begin() + train, perm.begin() + train + test);
  std::sort(test_idx.begin(), test_idx.end());
  for (int64_t i = 0; i < train; ++i) splits[0].push_back(std::move(pool[perm[i]]));
  for (int64_t i : test_idx) splits[1].push_back(std::move(pool[i]));
}

double mean_rating(const std::vector<SudokuPuzzle>& puzzles) {
  double sum = 0;
  int64_t n = 0;
  for (const auto& p : puzzles)
    if (p.rating >= 0) sum += static_cast<double>(p.rating), ++n;
  return n > 0 ? sum / static_cast<double>(n) : 0.0;
}

DatasetMetadata sudoku_metadata() {
  DatasetMetadata m;  // build_sudoku_dataset.py: pad 0, ignore 0, blank 0, one identifier
  m.pad_id = 0;
  m.ignore_label_id = 0;
  m.blank_identifier_id = 0;
  m.num_puzzle_identifiers = 1;
  return m;
}

void check_config(const SudokuBuildConfig& c) {
  const int modes = (!c.train_input.empty() || !c.test_input.empty()) + !c.inputs.empty() + (c.generate > 0);
  if (modes != 1)
    HRM_THROW(ConfigError, "give exactly one source: --train FILE with --test FILE, --input FILE..., or --generate N");
  if (modes == 1 && (!c.train_input.empty() || !c.test_input.empty()) && (c.train_input.empty() || c.test_input.empty()))
    HRM_THROW(ConfigError, "--train and --test go together");
  if ((c.train_size || c.test_size) && c.inputs.empty() && c.generate <= 0)
    HRM_THROW(ConfigError, "--train-size and --test-size split --input or --generate puzzles; with --train/--test use --subsample-size");
  if (c.num_aug < 0) HRM_THROW(ConfigError, "--num-aug must be >= 0, got ", c.num_aug);
  if (c.subsample_size && *c.subsample_size < 0) HRM_THROW(ConfigError, "--subsample-size must be >= 0, got ", *c.subsample_size);
  if (c.generate < 0) HRM_THROW(ConfigError, "--generate must be >= 0, got ", c.generate);
}

}  // namespace

std::vector<SudokuPuzzle> parse_sudoku_text(const std::string& text, const std::string& name) {
  if (!looks_like_csv(text)) return parse_list(text, name);
  std::vector<SudokuPuzzle> out;
  for (const auto& r : maze::parse_maze_csv(text, name)) out.push_back(csv_puzzle(r, name));
  return out;
}

std::vector<SudokuPuzzle> read_sudoku_file(const std::string& path) { return parse_sudoku_text(read_text_file(path), path); }

void solve_puzzles(std::vector<SudokuPuzzle>& puzzles, OnInvalid on_invalid, int threads, SudokuBuildSummary& summary) {
  std::vector<size_t> todo;
  for (size_t i = 0; i < puzzles.size(); ++i)
    if (!puzzles[i].solved) todo.push_back(i);
  std::vector<bool> drop(puzzles.size(), false);
  size_t k = 0;
  ordered_parallel<sd::SolveResult>(
      static_cast<int64_t>(todo.size()), threads, [&](int64_t j) { return sd::solve(puzzles[todo[j]].puzzle, 2); },
      [&](sd::SolveResult&& r) {
        SudokuPuzzle& p = puzzles[todo[k]];
        if (r.solutions == 1) {
          p.solution = r.solution;
          p.rating = r.guesses;
          p.solved = true;
        } else {
          if (on_invalid == OnInvalid::kError)
            HRM_THROW(FormatError, p.where, ": ", r.solutions == 0 ? "the puzzle has no solution" : "the puzzle has more than one solution",
                      " (expected exactly one; --on-invalid skip drops such puzzles)");
          ++(r.solutions == 0 ? summary.unsolvable : summary.multiple);
          drop[todo[k]] = true;
        }
        ++k;
      });
  size_t w = 0;
  for (size_t i = 0; i < puzzles.size(); ++i)
    if (!drop[i]) {
      if (w != i) puzzles[w] = std::move(puzzles[i]);  // never self-move: it empties strings
      ++w;
    }
  puzzles.resize(w);
}

void write_sudoku_split(SplitWriter& split, const std::vector<SudokuPuzzle>& puzzles, int64_t num_aug, uint64_t seed,
                        int threads) {
  struct Group {  // (1 + num_aug) examples of 81 uint8 tokens, inputs then labels
    std::vector<uint8_t> inputs, labels;
  };
  auto make_group = [&](int64_t g) {
    const SudokuPuzzle& p = puzzles[static_cast<size_t>(g)];
    HRM_CHECK(p.solved, p.where, ": puzzle written before it was solved");
    Group group;
    group.inputs.resize(static_cast<size_t>((num_aug + 1) * sd::kCells));
    group.labels.resize(group.inputs.size());
    Rng rng = Rng::derive(seed, kAugStream, static_cast<uint64_t>(g));
    for (int64_t a = 0; a <= num_aug; ++a) {
      sd::Grid q = p.puzzle, s = p.solution;
      if (a > 0) {  // the reference: index 0 is the puzzle unchanged, then shuffled copies
        const sd::Shuffle sh = sd::draw_shuffle(rng);
        q = sd::apply_shuffle(sh, q);
        s = sd::apply_shuffle(sh, s);
      }
      uint8_t* in = &group.inputs[static_cast<size_t>(a * sd::kCells)];
      uint8_t* out = &group.labels[static_cast<size_t>(a * sd::kCells)];
      for (int i = 0; i < sd::kCells; ++i) in[i] = static_cast<uint8_t>(q[i] + 1), out[i] = static_cast<uint8_t>(s[i] + 1);
    }
    return group;
  };
  ordered_parallel<Group>(static_cast<int64_t>(puzzles.size()), threads, make_group, [&](Group&& g) {
    split.begin_group();
    for (size_t off = 0; off < g.inputs.size(); off += sd::kCells) {
      split.begin_puzzle(0);  // one example per puzzle, identifier 0 (<blank>)
      split.add_example(&g.inputs[off], &g.labels[off]);
    }
  });
}

std::string format_sudoku_csv(const std::vector<SudokuPuzzle>& puzzles) {
  std::string out = "source,question,answer,rating\n";
  for (const auto& p : puzzles)
    out += csv_field(p.source) + "," + sd::to_string(p.puzzle) + "," + sd::to_string(p.solution) + "," +
           (p.rating >= 0 ? std::to_string(p.rating) : std::string()) + "\n";
  return out;
}

SudokuBuildSummary build_sudoku_dataset(const SudokuBuildConfig& cfg) {
  check_config(cfg);
  std::vector<std::string> inputs = cfg.inputs;
  for (const auto& f : {cfg.train_input, cfg.test_input})
    if (!f.empty()) inputs.push_back(f);
  check_dataset_output(cfg.output_dir, inputs);
  SudokuBuildSummary summary;
  std::vector<SudokuPuzzle> splits[2];
  if (!cfg.train_input.empty()) {  // the reference's layout: a file per split
    const std::string files[2] = {cfg.train_input, cfg.test_input};
    for (int s = 0; s < 2; ++s) {
      splits[s] = read_sudoku_file(files[s]);
      summary.read += static_cast<int64_t>(splits[s].size());
      solve_puzzles(splits[s], cfg.on_invalid, cfg.threads, summary);
      splits[s] = keep_min_difficulty(std::move(splits[s]), cfg.min_difficulty, summary.below_min_difficulty);
    }
  } else {
    std::vector<SudokuPuzzle> pool;
    if (cfg.generate > 0) {
      pool = generate_puzzles(cfg.generate, cfg.min_rating, cfg.seed, cfg.threads);
      summary.read = cfg.generate;
    } else {
      for (const auto& f : cfg.inputs) {
        auto more = read_sudoku_file(f);
        summary.read += static_cast<int64_t>(more.size());
        for (auto& p : more) pool.push_back(std::move(p));
      }
      // Repeats and shuffled copies go first: otherwise one puzzle could land in both splits (or
      // a test puzzle among the training shuffles).
      pool = drop_equivalent(std::move(pool), cfg.threads, summary.duplicates);
      solve_puzzles(pool, cfg.on_invalid, cfg.threads, summary);
    }
    pool = keep_min_difficulty(std::move(pool), cfg.min_difficulty, summary.below_min_difficulty);
    split_pool(std::move(pool), cfg, splits);
  }
  if (cfg.subsample_size) splits[0] = subsample(std::move(splits[0]), *cfg.subsample_size, cfg.seed);
  if (!cfg.train_input.empty())  // pooled and generated splits are disjoint by construction
    summary.test_in_train = count_shuffles_of(splits[0], splits[1], cfg.threads);
  if (splits[0].empty())  // a dataset nothing can train on (an empty --train file, a filter that kept nothing)
    HRM_THROW(ConfigError, "no training puzzles", cfg.train_input.empty() ? "" : " in " + cfg.train_input, " (",
              summary.read, " read in all; ", summary.below_min_difficulty, " below --min-difficulty, ",
              summary.unsolvable + summary.multiple, " invalid skipped", cfg.subsample_size ? "; --subsample-size " + std::to_string(*cfg.subsample_size) : "",
              "): nothing to write");
  // Refused before writing anything: more rows than the format's int32 puzzle_indices address, or more
  // bytes (81 input + 81 label tokens a row) than the output's file system has free.
  const double train_rows = static_cast<double>(splits[0].size()) * (1.0 + static_cast<double>(cfg.num_aug));
  if (train_rows + static_cast<double>(splits[1].size()) > static_cast<double>(INT32_MAX))
    HRM_THROW(ConfigError, "--num-aug ", cfg.num_aug, ": ", splits[0].size(), " training puzzles x (1 + ", cfg.num_aug,
              ") make ", fmt::format("{:.0f}", train_rows), " examples; the dataset format addresses at most 2^31 - 1");
  const double bytes = (train_rows + static_cast<double>(splits[1].size())) * 2 * sd::kCells;
  namespace fs = std::filesystem;
  std::error_code ec;
  const fs::path parent = fs::absolute(cfg.output_dir).parent_path();
  const auto space = fs::space(fs::exists(parent) ? parent : fs::current_path(), ec);
  if (!ec && bytes > static_cast<double>(space.available))
    HRM_THROW(ConfigError, "--num-aug ", cfg.num_aug, ": the dataset needs ", fmt::format("{:.1f}", bytes / 1e9), " GB (",
              fmt::format("{:.0f}", train_rows), " training examples), but ", parent.string(), " has ",
              fmt::format("{:.1f}", static_cast<double>(space.available) / 1e9), " GB free");

  DatasetWriter writer(cfg.output_dir);
  const char* names[2] = {"train", "test"};
  for (int s = 0; s < 2; ++s) {
    SplitWriter& w = writer.split(names[s], sd::kCells, 11);  // vocab: PAD + "0".."9"
    write_sudoku_split(w, splits[s], s == 0 ? cfg.num_aug : 0, cfg.seed, cfg.threads);
    w.finish(sudoku_metadata());
    (s == 0 ? summary.train_examples : summary.test_examples) = w.examples();
    (s == 0 ? summary.train_puzzles : summary.test_puzzles) = static_cast<int64_t>(splits[s].size());
    (s == 0 ? summary.mean_train_rating : summary.mean_test_rating) = mean_rating(splits[s]);
  }
  if (cfg.save_csv) {
    std::filesystem::create_directories(writer.temp_dir() / "input");
    for (int s = 0; s < 2; ++s)
      write_file_atomic((writer.temp_dir() / "input" / (std::string(names[s]) + ".csv")).string(), format_sudoku_csv(splits[s]));
  }
  writer.commit({"<blank>"});
  return summary;
}

}  // namespace hrm::data
