// maze.cpp: see maze.h.
#include "data/maze.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <mutex>
#include <thread>
#include <unordered_set>

#include "core/atomic_file.h"
#include "core/check.h"
#include "core/rng.h"

namespace hrm::data::maze {
namespace {

int char_index(char c) {
  const char* p = std::strchr(kCharset, c);
  return (c != '\0' && p) ? static_cast<int>(p - kCharset) : -1;
}

std::string printable(char c) {
  if (c >= 32 && c < 127) return std::string("'") + c + "'";
  char buf[16];
  std::snprintf(buf, sizeof buf, "byte 0x%02x", static_cast<unsigned char>(c));
  return buf;
}

// Breadth-first search from `from`; neighbours up, down, left, right. parent may be null.
void bfs(const char* grid, int64_t side, int64_t from, std::vector<int32_t>& dist, std::vector<int32_t>* parent,
         std::vector<int32_t>& queue) {
  const int64_t n = side * side;
  dist.assign(static_cast<size_t>(n), -1);
  if (parent) parent->assign(static_cast<size_t>(n), -1);
  queue.clear();
  queue.push_back(static_cast<int32_t>(from));
  dist[static_cast<size_t>(from)] = 0;
  for (size_t h = 0; h < queue.size(); ++h) {
    const int32_t c = queue[h];
    const int64_t y = c / side, x = c % side;
    const int64_t nb[4] = {y > 0 ? c - side : -1, y < side - 1 ? c + side : -1, x > 0 ? c - 1 : -1, x < side - 1 ? c + 1 : -1};
    for (int64_t k : nb) {
      if (k < 0 || grid[k] == '#' || dist[static_cast<size_t>(k)] >= 0) continue;
      dist[static_cast<size_t>(k)] = dist[static_cast<size_t>(c)] + 1;
      if (parent) (*parent)[static_cast<size_t>(k)] = c;
      queue.push_back(static_cast<int32_t>(k));
    }
  }
}

}  // namespace

// ---- CSV ------------------------------------------------------------------------------------

std::vector<MazeRecord> parse_maze_csv(const std::string& text, const std::string& name) {
  std::vector<MazeRecord> out;
  size_t i = 0;
  int64_t line = 1;
  bool header = true;
  while (i < text.size()) {
    const int64_t record_line = line;
    std::vector<std::string> fields;
    std::string field;
    bool in_quotes = false, quoted = false, end = false;
    while (i < text.size() && !end) {
      const char c = text[i];
      if (in_quotes) {
        if (c == '"' && i + 1 < text.size() && text[i + 1] == '"') field += '"', i += 2;
        else if (c == '"') in_quotes = false, ++i;
        else field += c, line += (c == '\n'), ++i;
      } else if (c == ',') {
        fields.push_back(std::move(field));
        field.clear();
        quoted = false;
        ++i;
      } else if (c == '\n' || c == '\r') {
        i += (c == '\r' && i + 1 < text.size() && text[i + 1] == '\n') ? 2 : 1;
        ++line;
        end = true;
      } else if (c == '"') {
        if (!field.empty() || quoted) HRM_THROW(FormatError, name, ":", line, ": unexpected '\"' inside an unquoted field");
        in_quotes = quoted = true;
        ++i;
      } else {
        field += c;
        ++i;
      }
    }
    if (in_quotes) HRM_THROW(FormatError, name, ":", record_line, ": quoted field not closed before the end of the file");
    fields.push_back(std::move(field));
    if (fields.size() == 1 && fields[0].empty() && !quoted) continue;  // blank line
    if (header) {
      header = false;  // the reference skips the first row whatever it holds; we only refuse a puzzle there
      // (a file without its header would silently lose its first puzzle): names are short, grids are not.
      if (fields.size() == 4 && fields[1].size() >= 16 && fields[2].size() == fields[1].size())
        HRM_THROW(FormatError, name, ":", record_line, ": expected the header row source,question,answer,rating, ",
                  "found a puzzle (", fields[1].size(), "-character question and answer); add the header line");
      continue;
    }
    if (fields.size() != 4)
      HRM_THROW(FormatError, name, ":", record_line, ": expected 4 fields (source,question,answer,rating), found ", fields.size());
    out.push_back({fields[0], fields[1], fields[2], fields[3], record_line});
  }
  if (header) HRM_THROW(FormatError, name, ": empty file; expected a header row source,question,answer,rating");
  return out;
}

std::vector<MazeRecord> read_maze_csv(const std::string& path) { return parse_maze_csv(read_text_file(path), path); }

std::string format_maze_csv(const std::vector<MazeRecord>& records) {
  std::string out = "source,question,answer,rating\n";
  for (const auto& r : records) {
    for (const std::string* f : {&r.source, &r.question, &r.answer, &r.rating})
      HRM_CHECK(f->find_first_of(",\"\r\n") == std::string::npos, "maze CSV field needs quoting: ", *f);
    out += r.source + "," + r.question + "," + r.answer + "," + r.rating + "\n";
  }
  return out;
}

// ---- checks ---------------------------------------------------------------------------------

int64_t grid_side(const std::string& question) {
  return static_cast<int64_t>(std::sqrt(static_cast<double>(question.size())));
}

std::vector<int32_t> bfs_distances(const std::string& grid, int64_t side, int64_t from) {
  HRM_CHECK(static_cast<int64_t>(grid.size()) == side * side && from >= 0 && from < side * side, "bfs_distances: bad grid");
  std::vector<int32_t> dist, queue;
  bfs(grid.data(), side, from, dist, nullptr, queue);
  return dist;
}

std::string wall_layout(const std::string& question) {
  std::string w = question;
  for (char& c : w)
    if (c != '#') c = ' ';
  return w;
}

std::vector<uint8_t> encode(const std::string& grid, const std::string& where) {
  std::vector<uint8_t> t(grid.size());
  for (size_t i = 0; i < grid.size(); ++i) {
    const int k = char_index(grid[i]);
    if (k < 0) HRM_THROW(FormatError, where, ": character ", printable(grid[i]), " at position ", i, " is not one of \"# SGo\"");
    t[i] = static_cast<uint8_t>(k + 1);
  }
  return t;
}

int64_t check_maze(const MazeRecord& r, int64_t side, const std::string& name) {
  const std::string where = name + ":" + std::to_string(r.line);
  const size_t n = static_cast<size_t>(side * side);
  if (side <= 0 || r.question.size() != n) {
    const int64_t own = grid_side(r.question);
    HRM_THROW(FormatError, where, ": question has ", r.question.size(), " characters; expected ", n, " (a ", side, "x",
              side, " grid, as the split's first row)",
              static_cast<size_t>(own * own) != r.question.size() ? "; a maze is square: side x side characters" : "");
  }
  if (r.answer.size() != n)
    HRM_THROW(FormatError, where, ": answer has ", r.answer.size(), " characters; expected ", n);
  int64_t start = -1, goal = -1, marks = 0;
  for (size_t i = 0; i < n; ++i) {  // the question first: its own faults are named as such
    const char q = r.question[i];
    if (char_index(q) < 0 || q == 'o')
      HRM_THROW(FormatError, where, ": question character ", printable(q), " at position ", i, " is not one of \"# SG\"");
    if (q == 'S') {
      if (start >= 0) HRM_THROW(FormatError, where, ": question has more than one start 'S' (positions ", start, " and ", i, ")");
      start = static_cast<int64_t>(i);
    }
    if (q == 'G') {
      if (goal >= 0) HRM_THROW(FormatError, where, ": question has more than one goal 'G' (positions ", goal, " and ", i, ")");
      goal = static_cast<int64_t>(i);
    }
  }
  for (size_t i = 0; i < n; ++i) {
    const char q = r.question[i], a = r.answer[i];
    if (char_index(a) < 0) HRM_THROW(FormatError, where, ": answer character ", printable(a), " at position ", i, " is not one of \"# SGo\"");
    if (a != q && !(q == ' ' && a == 'o'))
      HRM_THROW(FormatError, where, ": answer has ", printable(a), " at position ", i, " where the question has ", printable(q),
                "; expected the question with path cells marked 'o'");
    marks += (a == 'o');
  }
  if (start < 0 || goal < 0) HRM_THROW(FormatError, where, ": question needs exactly one 'S' and one 'G'");
  std::vector<int32_t> dist, queue;
  bfs(r.question.data(), side, start, dist, nullptr, queue);
  const int32_t shortest = dist[static_cast<size_t>(goal)];
  if (shortest < 0) HRM_THROW(FormatError, where, ": the goal cannot be reached from the start");
  std::string path_only = r.answer;  // walls everywhere except S, G and the marked cells
  for (char& c : path_only)
    if (c == ' ') c = '#';
  bfs(path_only.data(), side, start, dist, nullptr, queue);
  if (dist[static_cast<size_t>(goal)] != shortest || marks != shortest - 1)
    HRM_THROW(FormatError, where, ": the answer's ", marks, " 'o' cells are not a shortest path from S to G (", shortest - 1,
              " cells between S and G)");
  return shortest;
}

// ---- generator ------------------------------------------------------------------------------

namespace {

// BFS over a grid padded with a border of walls (P = side + 2 columns), so the inner loop has no
// bounds checks: the generator's hot spot. Neighbours in the order up, down, left, right.
void padded_bfs(const std::vector<uint8_t>& wall, int64_t P, int32_t from, std::vector<int32_t>& dist,
                std::vector<int32_t>& queue) {
  dist.assign(wall.size(), -1);
  queue.resize(wall.size());
  const int32_t off[4] = {static_cast<int32_t>(-P), static_cast<int32_t>(P), -1, 1};
  size_t head = 0, tail = 0;
  queue[tail++] = from;
  dist[static_cast<size_t>(from)] = 0;
  while (head < tail) {
    const int32_t c = queue[head++];
    const int32_t d = dist[static_cast<size_t>(c)] + 1;
    for (int32_t k : off) {
      const size_t nb = static_cast<size_t>(c + k);
      if (!wall[nb] && dist[nb] < 0) {
        dist[nb] = d;
        queue[tail++] = static_cast<int32_t>(nb);
      }
    }
  }
  queue.resize(tail);
}

}  // namespace

std::optional<GeneratedMaze> try_generate(const GeneratorConfig& cfg, uint64_t attempt) {
  const int64_t side = cfg.side, n = side * side, P = side + 2;
  thread_local std::vector<int32_t> cells, dist, queue, far;
  thread_local std::vector<uint8_t> wall;
  Rng rng = Rng::derive(cfg.seed, attempt);
  const int64_t lo = std::llround(cfg.wall_min * static_cast<double>(n));
  const int64_t hi = std::llround(cfg.wall_max * static_cast<double>(n));
  const int64_t walls = rng.integers(lo, hi + 1);
  auto padded = [P, side](int64_t cell) { return static_cast<int32_t>((cell / side + 1) * P + cell % side + 1); };
  wall.assign(static_cast<size_t>(P * P), 1);
  for (int64_t r = 0; r < side; ++r) std::fill_n(wall.begin() + (r + 1) * P + 1, side, uint8_t{0});
  cells.resize(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) cells[static_cast<size_t>(i)] = static_cast<int32_t>(i);
  for (int64_t i = 0; i < walls; ++i) {  // partial Fisher-Yates: the first `walls` cells become walls
    std::swap(cells[static_cast<size_t>(i)], cells[static_cast<size_t>(rng.integers(i, n))]);
    wall[static_cast<size_t>(padded(cells[static_cast<size_t>(i)]))] = 1;
  }
  const int64_t open = n - walls;  // cells[walls..n) are the open cells
  if (open < 2) return std::nullopt;
  const int32_t start = padded(cells[static_cast<size_t>(walls + rng.integers(0, open))]);
  padded_bfs(wall, P, start, dist, queue);
  far.clear();
  for (int32_t c : queue)  // BFS order: a deterministic order of the reachable cells
    if (dist[static_cast<size_t>(c)] > cfg.min_path_length) far.push_back(c);
  if (far.empty()) return std::nullopt;
  const int32_t goal = far[static_cast<size_t>(rng.integers(0, static_cast<int64_t>(far.size())))];
  GeneratedMaze m;
  m.path_length = dist[static_cast<size_t>(goal)];
  m.attempt = attempt;
  m.question.assign(static_cast<size_t>(n), ' ');
  for (int64_t i = 0; i < n; ++i)
    if (wall[static_cast<size_t>(padded(i))]) m.question[static_cast<size_t>(i)] = '#';
  auto unpadded = [P, side](int32_t c) { return static_cast<size_t>((c / P - 1) * side + c % P - 1); };
  m.question[unpadded(start)] = 'S';
  m.question[unpadded(goal)] = 'G';
  m.answer = m.question;
  // The path: from G step to the first neighbour (up, down, left, right) one move closer to S.
  const int32_t off[4] = {static_cast<int32_t>(-P), static_cast<int32_t>(P), -1, 1};
  for (int32_t c = goal; dist[static_cast<size_t>(c)] > 1;) {
    for (int32_t k : off)
      if (dist[static_cast<size_t>(c + k)] == dist[static_cast<size_t>(c)] - 1) {
        c += k;
        break;
      }
    m.answer[unpadded(c)] = 'o';
  }
  return m;
}

GeneratedSplits generate(const GeneratorConfig& cfg, int64_t train_size, int64_t test_size, int threads) {
  const int64_t n = cfg.side * cfg.side;
  if (cfg.side < 2 || cfg.side > 1000) HRM_THROW(ConfigError, "maze side must be in [2, 1000], got ", cfg.side);
  if (!(cfg.wall_min >= 0 && cfg.wall_min <= cfg.wall_max && cfg.wall_max < 1))
    HRM_THROW(ConfigError, "wall fractions must satisfy 0 <= wall_min <= wall_max < 1, got ", cfg.wall_min, " and ", cfg.wall_max);
  if (cfg.min_path_length < 0 || cfg.min_path_length >= n - 1)
    HRM_THROW(ConfigError, "min_path_length must be in [0, ", n - 2, "], got ", cfg.min_path_length);
  // A path of more than min_path_length moves needs min_path_length + 2 open cells, and every maze
  // has at least wall_min of its cells walls: beyond that no attempt can succeed (said now, not
  // after the generator's patience runs out).
  const int64_t most_open = n - std::llround(cfg.wall_min * static_cast<double>(n));
  if (cfg.min_path_length + 2 > most_open)
    HRM_THROW(ConfigError, "maze generator: --min-path-length ", cfg.min_path_length, " cannot be met: a ", cfg.side, "x",
              cfg.side, " maze with at least ", n - most_open, " walls (--wall-min ", cfg.wall_min, ") has at most ",
              most_open, " open cells, so no path is longer than ", most_open - 1, " moves; lower --min-path-length or --wall-min");
  if (train_size < 0 || test_size < 0) HRM_THROW(ConfigError, "train and test sizes must be >= 0");
  threads = std::max(1, threads);

  GeneratedSplits out;
  std::unordered_set<std::string> seen, train_layouts;
  // Blocks grow so that small requests stay cheap; the result does not depend on the block size.
  uint64_t block_size = 1024;
  // A request that cannot be met (a path longer than the grid allows, more mazes than a small side has
  // layouts) would otherwise run forever: give up after this many attempts without a new maze. The
  // Maze-Hard settings accept one attempt in ~2,500, so this only stops requests hours long at best.
  constexpr uint64_t kPatience = uint64_t{1} << 22;
  uint64_t last_accepted = 0;  // attempts consumed when the last maze was accepted
  while (static_cast<int64_t>(out.train.size()) < train_size || static_cast<int64_t>(out.test.size()) < test_size) {
    if (out.attempts - last_accepted >= kPatience)
      HRM_THROW(ConfigError, "maze generator: no new maze in ", out.attempts - last_accepted, " attempts (",
                out.train.size(), " of ", train_size, " train and ", out.test.size(), " of ", test_size,
                " test mazes found in ", out.attempts, "): lower --min-path-length (", cfg.min_path_length,
                "), widen the wall fractions or ask for fewer mazes (a ", cfg.side, "x", cfg.side,
                " grid has only so many)");
    // Threads evaluate a block of attempts; acceptance below runs in attempt order.
    std::vector<std::vector<GeneratedMaze>> found(static_cast<size_t>(threads));
    std::vector<std::thread> pool;
    const uint64_t base = out.attempts;
    for (int t = 0; t < threads; ++t)
      pool.emplace_back([&, t] {
        for (uint64_t a = base + static_cast<uint64_t>(t); a < base + block_size; a += static_cast<uint64_t>(threads))
          if (auto m = try_generate(cfg, a)) found[static_cast<size_t>(t)].push_back(std::move(*m));
      });
    for (auto& th : pool) th.join();
    std::vector<GeneratedMaze> block;
    for (auto& f : found) block.insert(block.end(), std::make_move_iterator(f.begin()), std::make_move_iterator(f.end()));
    std::sort(block.begin(), block.end(), [](const auto& a, const auto& b) { return a.attempt < b.attempt; });
    out.attempts = base + block_size;
    block_size = std::min<uint64_t>(block_size * 2, 1 << 16);
    for (auto& m : block) {
      const bool to_train = static_cast<int64_t>(out.train.size()) < train_size;
      if (!seen.insert(m.question).second) continue;  // no duplicates
      const std::string layout = wall_layout(m.question);
      const uint64_t used = m.attempt + 1;
      if (to_train) {
        train_layouts.insert(layout);
        out.train.push_back(std::move(m));
        last_accepted = used;
      } else if (!train_layouts.count(layout)) {
        out.test.push_back(std::move(m));
        last_accepted = used;
      }
      if (static_cast<int64_t>(out.train.size()) >= train_size && static_cast<int64_t>(out.test.size()) >= test_size) {
        out.attempts = used;  // the attempts actually consumed
        break;
      }
    }
  }
  return out;
}

}  // namespace hrm::data::maze
