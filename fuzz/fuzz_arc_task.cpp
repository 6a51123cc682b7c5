// fuzz_arc_task.cpp: libFuzzer target for the ARC task JSON parser (src/data/arc.cpp), followed by
// what the builder does with a task: every augmentation inverts, and each grid encodes into the
// 30x30 token canvas and crops back to itself. Only hrm::Error may escape; broken round trips abort.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "core/check.h"
#include "data/arc.h"

namespace arc = hrm::arc;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    const arc::Task task = arc::parse_task(std::string_view(reinterpret_cast<const char*>(data), size), "fuzz", "fuzz.json");
    for (const auto* pairs : {&task.train, &task.test}) {
      for (const arc::Pair& p : *pairs) {
        for (const arc::Grid* g : {&p.input, &p.output}) {
          for (int trans_id = 0; trans_id < 8; ++trans_id) {
            arc::Augmentation aug;
            aug.trans_id = trans_id;
            for (int c = 1; c < 10; ++c) aug.colour_map[c] = static_cast<uint8_t>(1 + (c - 1 + trans_id) % 9);
            if (arc::invert(arc::apply(*g, aug), aug) != *g) std::abort();
          }
          uint8_t tokens[arc::kSeqLen];
          arc::encode_grid(*g, 0, 0, tokens);
          if (arc::crop(tokens) != *g) std::abort();
        }
      }
    }
  } catch (const hrm::Error&) {
  }
  return 0;
}
