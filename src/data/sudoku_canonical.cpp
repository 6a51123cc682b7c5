// sudoku_canonical.cpp: see sudoku_canonical.h.
// For a fixed placement of rows and columns the smallest relabelling numbers the digits in order
// of first appearance, so the canonical form is the minimum over the 2 * 1296 * 1296 placements of
// that relabelled string. Rows are chosen one at a time (a new band every third row); every
// (transpose, column permutation, rows so far, digit map) that ties for the smallest prefix is
// kept. The first row's string depends only on which of its cells are filled, so it is found from
// a table of permuted 9-bit masks instead of relabelling 2 * 9 * 1296 candidate rows.
#include "data/sudoku_canonical.h"

#include <algorithm>
#include <vector>

namespace hrm::sudoku {
namespace {

constexpr int kColPerms = 1296;  // 3! stack orders * (3!)^3 column orders within stacks

struct ColumnTables {
  std::array<std::array<uint8_t, 9>, kColPerms> perm{};  // output column j takes input column perm[p][j]
  // Filled-mask of a row (bit c = input column c) -> its mask after permutation p, output column 0
  // as the most significant of 9 bits, so that numeric order is the order of the first row's string.
  std::vector<uint16_t> permuted_mask;  // [512 * kColPerms]
  std::array<uint16_t, 512> min_mask{};  // the smallest permuted mask of each mask
  ColumnTables() : permuted_mask(512 * kColPerms) {
    static const int orders[6][3] = {{0, 1, 2}, {0, 2, 1}, {1, 0, 2}, {1, 2, 0}, {2, 0, 1}, {2, 1, 0}};
    int p = 0;
    for (const auto& stacks : orders)
      for (const auto& a : orders)
        for (const auto& b : orders)
          for (const auto& c : orders) {
            const int* within[3] = {a, b, c};
            for (int s = 0; s < 3; ++s)
              for (int j = 0; j < 3; ++j) perm[p][s * 3 + j] = static_cast<uint8_t>(stacks[s] * 3 + within[s][j]);
            ++p;
          }
    for (int m = 0; m < 512; ++m)
      for (p = 0; p < kColPerms; ++p) {
        uint16_t out = 0;
        for (int j = 0; j < 9; ++j)
          if (m >> perm[p][j] & 1) out = static_cast<uint16_t>(out | 1u << (8 - j));
        permuted_mask[static_cast<size_t>(m) * kColPerms + p] = out;
        min_mask[m] = p == 0 ? out : std::min(min_mask[m], out);
      }
  }
};

const ColumnTables& column_tables() {
  static const ColumnTables t;
  return t;
}

struct Partial {
  uint8_t t = 0;             // 0: the grid as given, 1: its transpose
  uint16_t p = 0;            // column permutation
  uint16_t rows_used = 0;    // input rows placed so far (bits)
  uint8_t band = 0;          // input band of the output band being filled
  uint8_t next_label = 1;
  std::array<uint8_t, 10> map{};  // input digit -> label (0: not seen yet)
};

// Row r of grid `g` under the partial's columns and labels, packed 4 bits a cell (column 0 most
// significant, so integer order is string order); extends the map with new digits. Gives up
// (returns kWorse) as soon as a prefix exceeds the same prefix of `bound`.
constexpr uint64_t kWorse = ~uint64_t{0};
uint64_t relabelled_row(const uint8_t* row, const uint8_t* perm, Partial& s, uint64_t bound) {
  uint64_t key = 0;
  for (int j = 0; j < 9; ++j) {
    const uint8_t v = row[perm[j]];
    uint64_t label = 0;
    if (v != 0) {
      if (s.map[v] == 0) s.map[v] = s.next_label++;
      label = s.map[v];
    }
    key = key << 4 | label;
    if (key > bound >> (4 * (8 - j))) return kWorse;
  }
  return key;
}

// The sorted per-clue counts of shuffle_signature, for the grid as given or transposed.
std::vector<uint64_t> clue_counts(const Grid& g, bool transpose) {
  std::array<uint8_t, 10> digits{};
  std::array<uint8_t, 9> rows{}, cols{}, boxes{};
  std::array<uint8_t, 3> bands{}, stacks{};
  auto at = [&](int r, int c) { return transpose ? g[c * 9 + r] : g[r * 9 + c]; };
  for (int r = 0; r < 9; ++r)
    for (int c = 0; c < 9; ++c)
      if (const uint8_t v = at(r, c)) ++digits[v], ++rows[r], ++cols[c], ++boxes[r / 3 * 3 + c / 3], ++bands[r / 3], ++stacks[c / 3];
  std::vector<uint64_t> out;
  for (int r = 0; r < 9; ++r)
    for (int c = 0; c < 9; ++c)
      if (const uint8_t v = at(r, c)) {
        const uint64_t parts[6] = {rows[r], cols[c], boxes[r / 3 * 3 + c / 3], bands[r / 3], stacks[c / 3], digits[v]};
        uint64_t key = 0;
        for (uint64_t part : parts) key = key << 8 | part;
        out.push_back(key);
      }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

uint64_t shuffle_signature(const Grid& g) {
  const std::vector<uint64_t> counts = std::min(clue_counts(g, false), clue_counts(g, true));  // a copy: min returns a reference
  uint64_t h = 0x9e3779b97f4a7c15;
  for (const uint64_t part : counts) {  // splitmix64 steps
    h += part + 0x9e3779b97f4a7c15;
    h = (h ^ (h >> 30)) * 0xbf58476d1ce4e5b9;
    h = (h ^ (h >> 27)) * 0x94d049bb133111eb;
    h ^= h >> 31;
  }
  return h;
}

Grid canonical_form(const Grid& g) {
  const ColumnTables& ct = column_tables();
  Grid grids[2] = {g, g};
  for (int r = 0; r < 9; ++r)
    for (int c = 0; c < 9; ++c) grids[1][r * 9 + c] = g[c * 9 + r];

  // Row 0: the smallest filled pattern over transposes, first rows and column permutations.
  int masks[2][9];
  uint16_t best_mask = 0xFFFF;
  for (int t = 0; t < 2; ++t)
    for (int r = 0; r < 9; ++r) {
      masks[t][r] = 0;
      for (int c = 0; c < 9; ++c) masks[t][r] |= (grids[t][r * 9 + c] != 0) << c;
      best_mask = std::min(best_mask, ct.min_mask[masks[t][r]]);
    }
  std::vector<Partial> live;
  for (uint8_t t = 0; t < 2; ++t)
    for (int r = 0; r < 9; ++r) {
      if (ct.min_mask[masks[t][r]] != best_mask) continue;
      const uint16_t* row = &ct.permuted_mask[static_cast<size_t>(masks[t][r]) * kColPerms];
      for (uint16_t p = 0; p < kColPerms; ++p) {
        if (row[p] != best_mask) continue;
        Partial s;
        s.t = t;
        s.p = p;
        s.rows_used = static_cast<uint16_t>(1u << r);
        s.band = static_cast<uint8_t>(r / 3);
        live.push_back(s);
      }
    }
  Grid out{};
  auto unpack = [&out](int i, uint64_t key) {
    for (int j = 8; j >= 0; --j, key >>= 4) out[i * 9 + j] = static_cast<uint8_t>(key & 15);
  };
  uint64_t first = 0;
  for (auto& s : live)  // every survivor gives the same first row; each needs its own labels
    first = relabelled_row(&grids[s.t][__builtin_ctz(s.rows_used) * 9], ct.perm[s.p].data(), s, kWorse);
  unpack(0, first);

  // Rows 1..8: a new input band at rows 3 and 6, else an unused row of the current band.
  std::vector<Partial> next;
  for (int i = 1; i < 9; ++i) {
    next.clear();
    uint64_t best = kWorse;
    for (const Partial& s : live) {
      for (int r = 0; r < 9; ++r) {
        if (s.rows_used >> r & 1) continue;
        if (i % 3 != 0 && r / 3 != s.band) continue;
        if (i % 3 == 0 && (s.rows_used >> (r / 3 * 3) & 7)) continue;  // band already used
        Partial n = s;
        const uint64_t key = relabelled_row(&grids[s.t][r * 9], ct.perm[s.p].data(), n, best);
        if (key > best) continue;
        if (key < best) best = key, next.clear();
        n.rows_used = static_cast<uint16_t>(n.rows_used | 1u << r);
        n.band = static_cast<uint8_t>(r / 3);
        next.push_back(n);
      }
    }
    unpack(i, best);
    live.swap(next);
  }
  return out;
}

}  // namespace hrm::sudoku
