// fuzz_dataset_json.cpp: libFuzzer target for dataset.json and identifiers.json parsing
// (src/data/dataset.cpp). Parsed metadata must re-serialise and parse back to the same values.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "core/check.h"
#include "data/dataset.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  try {
    const hrm::data::DatasetMetadata m = hrm::data::metadata_from_json(text, "fuzz/dataset.json");
    const std::string again = hrm::data::metadata_to_json(m);
    const hrm::data::DatasetMetadata back = hrm::data::metadata_from_json(again, "re-serialised");
    if (hrm::data::metadata_to_json(back) != again) std::abort();  // round trip must be stable
  } catch (const hrm::Error&) {
  }
  try {
    const auto ids = hrm::data::identifiers_from_json(text, "fuzz/identifiers.json");
    if (hrm::data::identifiers_from_json(hrm::data::identifiers_to_json(ids), "re-serialised") != ids) std::abort();
  } catch (const hrm::Error&) {
  }
  return 0;
}
