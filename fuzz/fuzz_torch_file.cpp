// fuzz_torch_file.cpp: libFuzzer target for the checkpoint reader past its zip layer: the input is a
// torch.save file's data.pkl, run through the restricted unpickler (src/io/unpickler.cpp) and the state
// dict decoding of src/io/torch_file.cpp (storages, _rebuild_tensor_v2 views). Every storage record
// the pickle names exists and holds 64 KiB (the largest storage of ../shared/fixtures), except keys
// starting with 'x', which are missing. Any input must decode or raise hrm::Error; a crash, a
// sanitizer report or another exception (a c10::Error from a view the checks let through) is a bug.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "core/check.h"
#include "io/torch_file.h"

namespace {

const std::string& storage_bytes() {
  static const std::string bytes = [] {
    std::string b(64 * 1024, '\0');
    for (size_t i = 0; i < b.size(); ++i) b[i] = static_cast<char>(i * 131 + 7);
    return b;
  }();
  return bytes;
}

std::string read_record(const std::string& name) {
  if (name.rfind("data/x", 0) == 0) HRM_THROW(hrm::FormatError, "record '", name, "' is missing from the archive");
  return storage_bytes();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    const hrm::io::StateDict sd = hrm::io::decode_state_dict(
        std::string_view(reinterpret_cast<const char*>(data), size), "fuzz.pt", read_record);
    for (const auto& [name, t] : sd)
      if (!t.is_contiguous() || (t.numel() > 0 && t.data_ptr() == nullptr)) std::abort();  // owned, contiguous
  } catch (const hrm::Error&) {
  }
  return 0;
}
