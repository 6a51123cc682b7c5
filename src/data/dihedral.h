// dihedral.h: the 8 dihedral transforms of a row-major grid, in the reference's order.
// Mirrors dataset/common.py dihedral_transform / inverse_dihedral_transform / DIHEDRAL_INVERSE:
// 0 identity, 1..3 np.rot90 with k=1..3 (counter-clockwise), 4 np.fliplr, 5 np.flipud,
// 6 transpose, 7 np.fliplr(np.rot90(x)) (anti-diagonal reflection).
// Differs: works on (h, w, pointer) grids and returns the source cell of each output cell instead of
// numpy views; a non-square grid swaps its sides under 1, 3, 6 and 7.
#pragma once

#include <cstdint>
#include <utility>
#include <vector>

#include "core/check.h"

namespace hrm::dihedral {

inline constexpr int kCount = 8;
inline constexpr int kInverse[kCount] = {0, 3, 2, 1, 4, 5, 6, 7};  // DIHEDRAL_INVERSE

inline bool swaps_sides(int tid) { return tid == 1 || tid == 3 || tid == 6 || tid == 7; }

// Shape of transform tid of an h x w grid.
inline std::pair<int64_t, int64_t> output_shape(int tid, int64_t h, int64_t w) {
  return swaps_sides(tid) ? std::pair{w, h} : std::pair{h, w};
}

// The cell (row, col) of the h x w input that lands at output cell (i, j).
inline std::pair<int64_t, int64_t> source_cell(int tid, int64_t h, int64_t w, int64_t i, int64_t j) {
  switch (tid) {
    case 0: return {i, j};
    case 1: return {j, w - 1 - i};          // rot90 k=1: out[i][j] = a[j][w-1-i]
    case 2: return {h - 1 - i, w - 1 - j};  // rot90 k=2
    case 3: return {h - 1 - j, i};          // rot90 k=3
    case 4: return {i, w - 1 - j};          // fliplr
    case 5: return {h - 1 - i, j};          // flipud
    case 6: return {j, i};                  // transpose
    case 7: return {h - 1 - j, w - 1 - i};  // fliplr(rot90(a, 1))
  }
  HRM_CHECK(false, "dihedral transform id ", tid, " outside 0..7");
}

// out (output_shape(tid, h, w), row-major) = transform tid of in (h x w, row-major).
template <typename T>
void transform(const T* in, int64_t h, int64_t w, int tid, T* out) {
  const auto [oh, ow] = output_shape(tid, h, w);
  for (int64_t i = 0; i < oh; ++i)
    for (int64_t j = 0; j < ow; ++j) {
      const auto [r, c] = source_cell(tid, h, w, i, j);
      out[i * ow + j] = in[r * w + c];
    }
}

template <typename T>
std::vector<T> transform(const std::vector<T>& in, int64_t h, int64_t w, int tid) {
  HRM_CHECK(static_cast<int64_t>(in.size()) == h * w, "dihedral::transform: grid of ", in.size(), " cells is not ", h, "x", w);
  std::vector<T> out(in.size());
  transform(in.data(), h, w, tid, out.data());
  return out;
}

// inverse_dihedral_transform: undoes transform tid; (h, w) is the shape of the transformed grid.
template <typename T>
std::vector<T> inverse_transform(const std::vector<T>& in, int64_t h, int64_t w, int tid) {
  HRM_CHECK(tid >= 0 && tid < kCount, "dihedral transform id ", tid, " outside 0..7");
  return transform(in, h, w, kInverse[tid]);
}

}  // namespace hrm::dihedral
