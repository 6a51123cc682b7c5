// fuzz_maze_csv.cpp: libFuzzer target for the maze CSV reader and answer checker
// (src/data/maze.cpp). Every record is checked and encoded; only hrm::Error may escape.
#include <cstddef>
#include <cstdint>
#include <string>

#include "core/check.h"
#include "data/maze.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    const auto records = hrm::data::maze::parse_maze_csv(std::string(reinterpret_cast<const char*>(data), size), "fuzz.csv");
    if (records.empty()) return 0;
    const int64_t side = hrm::data::maze::grid_side(records[0].question);
    for (const auto& r : records) {
      try {
        hrm::data::maze::check_maze(r, side, "fuzz.csv");
        (void)hrm::data::maze::encode(r.question, "fuzz.csv");
        (void)hrm::data::maze::encode(r.answer, "fuzz.csv");
      } catch (const hrm::Error&) {
      }
    }
  } catch (const hrm::Error&) {
  }
  return 0;
}
