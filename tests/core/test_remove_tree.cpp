// test_remove_tree.cpp: tests of src/core/remove_tree.cpp: a nested tree goes, a symlink is removed
// without touching its target, a missing path is fine.
#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "core/remove_tree.h"

namespace hrm {
namespace {

namespace fs = std::filesystem;

TEST(RemoveTree, RemovesNestedFilesAndDirectoriesButNotWhatSymlinksPointTo) {
  const fs::path root = fs::temp_directory_path() / ("hrm_remove_tree_" + std::to_string(::getpid()));
  const fs::path outside = root.string() + "-outside";
  fs::create_directories(root / "a" / "b");
  fs::create_directories(outside);
  std::ofstream(root / "a" / "b" / "f.bin") << "data";
  std::ofstream(root / "top.txt") << "x";
  std::ofstream(outside / "keep.txt") << "keep";
  fs::create_directory_symlink(outside, root / "a" / "link");

  EXPECT_TRUE(remove_tree(root.string()));
  EXPECT_FALSE(fs::exists(root));
  EXPECT_TRUE(fs::exists(outside / "keep.txt"));  // the link went, not its target
  EXPECT_TRUE(remove_tree(outside.string()));
  EXPECT_TRUE(remove_tree(root.string()));  // already gone: nothing to do
}

}  // namespace
}  // namespace hrm
