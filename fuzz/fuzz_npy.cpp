// fuzz_npy.cpp: libFuzzer target for the .npy parser (src/data/npy.cpp).
// Any input must either load or raise hrm::Error; anything else (a crash, a sanitizer report,
// another exception type) is a bug.
#include <cstddef>
#include <cstdint>
#include <string>

#include "core/check.h"
#include "data/npy.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    const hrm::npy::Array a = hrm::npy::Array::from_bytes(std::string(reinterpret_cast<const char*>(data), size), "fuzz.npy");
    const auto values = a.to_int32();  // every element must be readable
    if (a.numel() > 0) (void)a.at(a.numel() - 1);
    (void)values;
  } catch (const hrm::Error&) {
  }
  return 0;
}
