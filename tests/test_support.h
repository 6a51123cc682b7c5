// test_support.h: helpers that test files of both test binaries share (no libtorch here).
// One definition each: the unity build (HRM_UNITY) compiles several test files as one, where two
// copies of a helper in the same namespace would clash.
#pragma once

#include <unistd.h>

#include <filesystem>
#include <string>

#include "core/check.h"
#include "core/remove_tree.h"
#include "test_paths.h"

namespace hrm::testing {

// hrm-tiny: the reference's golden outputs of the tiny model (fixtures/hrm-tiny/README.md).
inline const std::string kTinyFixture = std::string(HRM_SHARED_DIR) + "/fixtures/hrm-tiny";
// hrm-tiny's weights in the reference's checkpoint files (fixtures/checkpoints/README.md).
inline const std::string kTinyCheckpoints = std::string(HRM_SHARED_DIR) + "/fixtures/checkpoints/hrm-tiny";
// Small datasets written by the reference's builders (fixtures/datasets/README.md).
inline const std::filesystem::path kDatasetFixtures = std::filesystem::path(HRM_SHARED_DIR) / "fixtures" / "datasets";

// An empty folder <tmp>/hrm_test_<tag>_<pid>, emptied first if a crashed run left it.
inline std::filesystem::path temp_dir(const std::string& tag) {
  namespace fs = std::filesystem;
  fs::path p = fs::temp_directory_path() / ("hrm_test_" + tag + "_" + std::to_string(::getpid()));
  remove_tree(p.string());  // not fs::remove_all: see core/remove_tree.h
  fs::create_directories(p);
  return p;
}

// The message of the E that f() throws, or "(no error)" when it returns.
template <typename E = Error, typename F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const E& e) {
    return e.what();
  }
  return "(no error)";
}

}  // namespace hrm::testing
