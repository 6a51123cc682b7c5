// fuzz_sudoku_text.cpp: libFuzzer target for the Sudoku CSV and puzzle-list parser
// (src/data/build_sudoku.cpp) and the exact solver behind it. Every parsed puzzle is solved with a
// small limit and, when solved, checked to agree with its question; only hrm::Error may escape.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "core/check.h"
#include "data/build_sudoku.h"
#include "data/sudoku.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    const auto puzzles = hrm::data::parse_sudoku_text(std::string(reinterpret_cast<const char*>(data), size), "fuzz.txt");
    for (size_t i = 0; i < puzzles.size() && i < 4; ++i) {  // the solver is exact: bound the work per input
      const auto& p = puzzles[i];
      if (p.solved && !hrm::sudoku::agrees(p.puzzle, p.solution)) std::abort();
      if (!hrm::sudoku::is_consistent(p.puzzle)) continue;
      const auto r = hrm::sudoku::solve(p.puzzle, 2);
      if (r.solutions >= 1 && !(hrm::sudoku::is_solution(r.solution) && hrm::sudoku::agrees(p.puzzle, r.solution)))
        std::abort();  // a solution the solver returns must solve the puzzle
    }
  } catch (const hrm::Error&) {
  }
  return 0;
}
