// arc_grids.h: ARC grids written row by row in tests.
#pragma once

#include <vector>

#include "data/arc.h"

namespace hrm::arc::test_grids {

inline Grid make(const std::vector<std::vector<int>>& rows) {
  Grid g(static_cast<int>(rows.size()), static_cast<int>(rows[0].size()));
  for (int r = 0; r < g.rows; ++r)
    for (int c = 0; c < g.cols; ++c) g.at(r, c) = static_cast<uint8_t>(rows[r][c]);
  return g;
}

}  // namespace hrm::arc::test_grids
