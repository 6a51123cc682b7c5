// test_dir_lock.cpp: tests src/core/dir_lock.h: one holder at a time, named in the refusal, and the
// folder free again once the holder is gone.
#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <memory>
#include <string>

#include "core/check.h"
#include "core/dir_lock.h"
#include "core/remove_tree.h"

namespace hrm {
namespace {

namespace fs = std::filesystem;

TEST(DirLock, OneHolderAtATimeAndTheRefusalNamesIt) {
  const fs::path dir = fs::temp_directory_path() / ("hrm_dir_lock_" + std::to_string(::getpid())) / "run";
  auto first = std::make_unique<DirLock>(dir.string(), "checkpoint_path");  // creates the folder
  EXPECT_TRUE(fs::is_directory(dir));
  try {
    DirLock second(dir.string(), "checkpoint_path");
    ADD_FAILURE() << "a second holder was let in";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("checkpoint_path '" + dir.string() + "' is in use by another process (pid " +
                                         std::to_string(::getpid()) + ", holding"),
              std::string::npos) << e.what();
  }
  first.reset();
  EXPECT_NO_THROW(DirLock again(dir.string(), "checkpoint_path"));
  remove_tree(dir.parent_path().string());
}

}  // namespace
}  // namespace hrm
