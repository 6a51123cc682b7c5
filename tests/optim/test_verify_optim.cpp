// test_verify_optim.cpp: golden test of the optimizers (src/optim/verify_optim.cpp replays
// AdamATan2 + sparse sign-SGD from weights.pt with train_step.pt's gradients and compares with the
// reference's optim_step.pt). One test per fixture directory that has an optim_step.pt, so a new
// fixture is checked without code changes. Tolerances: kOptimAtol / kOptimRtol (verify_optim.h says why).
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <filesystem>
#include <algorithm>
#include <cctype>
#include <cstdio>
#include <unistd.h>

#include "core/check.h"
#include "io/torch_file.h"
#include "optim/verify_optim.h"
#include "test_paths.h"

namespace fs = std::filesystem;

namespace hrm::optim {
namespace {

std::vector<std::string> fixture_dirs() {
  std::vector<std::string> dirs;
  const fs::path root = fs::path(HRM_SHARED_DIR) / "fixtures";
  if (!fs::is_directory(root)) return dirs;
  for (const auto& e : fs::recursive_directory_iterator(root))
    if (e.is_regular_file() && e.path().filename() == "optim_step.pt") dirs.push_back(e.path().parent_path().string());
  std::sort(dirs.begin(), dirs.end());
  return dirs;
}

std::string joined(const std::vector<std::string>& lines) {
  std::string s;
  for (const auto& l : lines) s += l + "\n";
  return s;
}

TEST(OptimFixtures, SharedFixturesHaveAtLeastOneOptimStep) {
  EXPECT_FALSE(fixture_dirs().empty()) << "no optim_step.pt under " << HRM_SHARED_DIR << "/fixtures";
}

class OptimStepFixture : public ::testing::TestWithParam<std::string> {};

TEST_P(OptimStepFixture, AdamATan2AndSignSGDMatchReference) {
  std::vector<std::string> report;
  const bool ok = verify_optim_step(GetParam(), report);
  EXPECT_TRUE(ok) << joined(report);
  // Two steps x (param, exp_avg, exp_avg_sq, puzzle_emb_weights) for hrm-tiny; at least 3 lines per step.
  EXPECT_GE(report.size(), 3u);
  for (const auto& line : report) EXPECT_NE(line.find("PASS"), std::string::npos) << line;
}

INSTANTIATE_TEST_SUITE_P(Shared, OptimStepFixture, ::testing::ValuesIn(fixture_dirs()),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                           std::string name = fs::path(info.param).filename().string();
                           for (char& c : name)
                             if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
                           return name + "_" + std::to_string(info.index);
                         });

// The check must be able to fail: nudge one parameter of step 2 by 1e-5 (above the tolerance, below
// anything visible in a loss curve) in a copy of the fixture, and expect FAIL naming that group.
TEST(VerifyOptimStep, FailsWhenOneExpectedValueIsOffByMoreThanTheTolerance) {
  const auto dirs = fixture_dirs();
  ASSERT_FALSE(dirs.empty());
  const fs::path src = dirs.front();
  const fs::path tmp = fs::temp_directory_path() / ("hrm_test_verify_optim_" + std::to_string(::getpid()));
  fs::create_directories(tmp);
  for (const char* f : {"weights.pt", "train_step.pt"}) fs::copy_file(src / f, tmp / f, fs::copy_options::overwrite_existing);

  io::StateDict dict = io::load_torch_file((src / "optim_step.pt").string());
  const std::string key = "param_2.model.inner.lm_head.weight";
  bool nudged = false;
  for (auto& [k, t] : dict)
    if (k == key) {
      t = t.clone();
      t.view(-1)[7] += 1e-5f;
      nudged = true;
    }
  ASSERT_TRUE(nudged) << key;
  io::save_torch_file((tmp / "optim_step.pt").string(), dict);

  std::vector<std::string> report;
  const bool ok = verify_optim_step(tmp.string(), report);
  // Not fs::remove_all: libtorch.so exports its own std::filesystem symbols and its remove_all
  // crashes (null call) when it interposes libstdc++'s.
  for (const char* f : {"weights.pt", "train_step.pt", "optim_step.pt"}) std::remove((tmp / f).c_str());
  ::rmdir(tmp.c_str());
  EXPECT_FALSE(ok);
  bool named = false;
  for (const auto& line : report)
    if (line.find("param_2 ") != std::string::npos && line.find("FAIL") != std::string::npos)
      named = line.find("lm_head.weight[7]") != std::string::npos;
  EXPECT_TRUE(named) << joined(report);
}

TEST(VerifyOptimStep, AMissingFixtureFileIsAnErrorNamingIt) {
  std::vector<std::string> report;
  try {
    verify_optim_step("/nonexistent/fixture", report);
    FAIL() << "expected hrm::Error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/fixture/weights.pt"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace hrm::optim
