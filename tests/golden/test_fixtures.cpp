// Golden tests: every folder of ../shared/fixtures with a config.json is recomputed by
// verify_fixture() and must match the reference within the tolerances its README states.
// Data-driven: a new fixture folder is checked without code changes.
#include <gtest/gtest.h>

#include <filesystem>

#include "test_paths.h"
#include "train/tiny_task.h"
#include "train/verify_fixture.h"

namespace fs = std::filesystem;

namespace {

std::vector<std::string> fixture_dirs() {
  std::vector<std::string> dirs;
  const fs::path root = fs::path(HRM_SHARED_DIR) / "fixtures";
  if (fs::exists(root))
    for (const auto& e : fs::directory_iterator(root))
      if (e.is_directory() && fs::exists(e.path() / "config.json")) dirs.push_back(e.path().string());
  std::sort(dirs.begin(), dirs.end());
  return dirs;
}

class Fixture : public ::testing::TestWithParam<std::string> {};

}  // namespace

TEST(Fixtures, AtLeastOneFixtureFolderIsPresent) {
  EXPECT_FALSE(fixture_dirs().empty()) << "no fixture folders under " << HRM_SHARED_DIR << "/fixtures";
}

TEST_P(Fixture, MatchesTheReferenceOnCpu) {
  auto report = hrm::verify_fixture(GetParam());
  std::string failures;
  for (const auto& l : report.lines)
    if (l.find("FAIL") != std::string::npos || l.rfind("MISSING", 0) == 0) failures += l + "\n";
  EXPECT_TRUE(report.ok()) << report.checked << " checked, " << report.failed << " failed, " << report.missing
                           << " missing\n" << failures;
  EXPECT_GT(report.checked, 100);
}

TEST(Fixtures, AFixtureWithoutOneOfItsResultFilesIsAMissingPiece) {
  const fs::path src = fs::path(HRM_SHARED_DIR) / "fixtures" / "hrm-tiny";
  ASSERT_TRUE(fs::exists(src / "config.json"));
  hrm::train::testing::TempDir dir("fixture_partial");
  for (const auto& e : fs::directory_iterator(src))
    if (e.path().filename() != "train_loop.pt") fs::copy_file(e.path(), dir.path / e.path().filename());
  const auto report = hrm::verify_fixture(dir.path.string());
  EXPECT_FALSE(report.ok());
  EXPECT_EQ(report.missing, 1);
  EXPECT_EQ(report.failed, 0);
  bool named = false;
  for (const auto& l : report.lines) named = named || l.find("train_loop.pt") != std::string::npos;
  EXPECT_TRUE(named);
}

INSTANTIATE_TEST_SUITE_P(Shared, Fixture, ::testing::ValuesIn(fixture_dirs()),
                         [](const ::testing::TestParamInfo<std::string>& i) {
                           std::string n = fs::path(i.param).filename().string();
                           for (auto& ch : n)
                             if (!isalnum(static_cast<unsigned char>(ch))) ch = '_';
                           return n;
                         });
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(Fixture);
