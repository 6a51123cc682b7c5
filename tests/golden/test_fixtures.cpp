// Golden tests: every folder of ../shared/fixtures with a config.json is recomputed by
// verify_fixture() and must match the reference within the tolerances its README states.
// Data-driven: a new fixture folder is checked without code changes.
#include <gtest/gtest.h>

#include <torch/cuda.h>

#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "cli/cli_run.h"
#include "core/check.h"
#include "io/torch_file.h"
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

// hrm-tiny's files but `left_out` copied into `dir`: the damaged or edited fixtures of the tests below.
void copy_tiny_fixture_without(const fs::path& dir, const std::string& left_out) {
  const fs::path src = fs::path(HRM_SHARED_DIR) / "fixtures" / "hrm-tiny";
  for (const auto& e : fs::directory_iterator(src))
    if (e.path().filename() != left_out) fs::copy_file(e.path(), dir / e.path().filename());
}

std::string fixture_forward_dtype(const std::string& dir) {
  std::ifstream f(dir + "/config.json");
  return nlohmann::json::parse(f).at("model").value("forward_dtype", "bfloat16");
}

// Every FAIL or MISSING line of a report, for the failure message.
std::string failures(const hrm::VerifyReport& report) {
  std::string out;
  for (const auto& l : report.lines)
    if (l.find("FAIL") != std::string::npos || l.rfind("MISSING", 0) == 0) out += l + "\n";
  return out;
}

TEST(Fixtures, AtLeastOneFixtureFolderIsPresent) {
  EXPECT_FALSE(fixture_dirs().empty()) << "no fixture folders under " << HRM_SHARED_DIR << "/fixtures";
}

TEST_P(Fixture, MatchesTheReferenceOnCpu) {
  auto report = hrm::verify_fixture(GetParam());
  EXPECT_TRUE(report.ok()) << report.checked << " checked, " << report.failed << " failed, " << report.missing
                           << " missing\n" << failures(report);
  EXPECT_GT(report.checked, 100);
}

// float32 with TF32 off (verify_fixture turns it off): the README's tolerances, as on the CPU.
TEST_P(Fixture, MatchesTheReferenceOnCuda) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  hrm::VerifyOptions o;
  o.device = torch::kCUDA;
  auto report = hrm::verify_fixture(GetParam(), o);
  EXPECT_TRUE(report.ok()) << report.checked << " checked, " << report.failed << " failed, " << report.missing
                           << " missing\n" << failures(report);
  EXPECT_GT(report.checked, 100);
}

// bfloat16 forward (float32 master weights) against the float32 goldens: within the normwise bfloat16
// tolerance, with the same halting.
TEST_P(Fixture, BFloat16StaysWithinItsNormwiseToleranceOfTheFloat32Goldens) {
  if (fixture_forward_dtype(GetParam()) != "float32") GTEST_SKIP() << "goldens are not float32";
  for (const bool cuda : {false, true}) {
    if (cuda && !torch::cuda::is_available()) continue;
    hrm::VerifyOptions o;
    o.device = cuda ? torch::Device(torch::kCUDA) : torch::Device(torch::kCPU);
    o.forward_dtype = "bfloat16";
    auto report = hrm::verify_fixture(GetParam(), o);
    EXPECT_TRUE(report.ok()) << o.device << ": " << report.checked << " checked, " << report.failed << " failed\n"
                             << failures(report);
    EXPECT_GT(report.checked, 40);
  }
}

// The normwise mode still fails a model that computes something else: hrm-tiny with lm_head's sign
// flipped fails on the logits (rel_l2 ~2) and passes on z_H (which lm_head does not touch).
TEST(Fixtures, TheNormwiseModeFailsLogitsFromAWrongLmHead) {
  const fs::path src = fs::path(HRM_SHARED_DIR) / "fixtures" / "hrm-tiny";
  ASSERT_TRUE(fs::exists(src / "config.json"));
  hrm::train::testing::TempDir dir("fixture_flipped_lm_head");
  copy_tiny_fixture_without(dir.path, "weights.pt");
  hrm::io::StateDict weights = hrm::io::load_torch_file((src / "weights.pt").string());
  bool flipped = false;
  for (auto& [k, v] : weights)
    if (k == "model.inner.lm_head.weight") v = -v, flipped = true;
  ASSERT_TRUE(flipped);
  hrm::io::save_torch_file((dir.path / "weights.pt").string(), weights);

  hrm::VerifyOptions o;
  o.forward_dtype = "bfloat16";
  const auto report = hrm::verify_fixture(dir.path.string(), o);
  EXPECT_FALSE(report.ok());
  bool logits_failed = false, z_H_passed = false;
  for (const auto& l : report.lines) {
    logits_failed = logits_failed || (l.rfind("eval[1] logits", 0) == 0 && l.find("FAIL") != std::string::npos);
    z_H_passed = z_H_passed || (l.rfind("eval[1] z_H", 0) == 0 && l.find("PASS") != std::string::npos);
  }
  EXPECT_TRUE(logits_failed) << failures(report);
  EXPECT_TRUE(z_H_passed);
}

// The fixture's own dtype keeps the README's elementwise tolerances; another dtype needs a normwise
// tolerance, which only the reduced-precision dtypes have by default (bfloat16 goldens recomputed in
// float32, say, need an explicit --rel-l2).
TEST(Fixtures, OnlyAReducedForwardDtypeHasADefaultNormwiseTolerance) {
  const fs::path src = fs::path(HRM_SHARED_DIR) / "fixtures" / "hrm-tiny";
  hrm::VerifyOptions o;
  o.forward_dtype = "float32";  // the fixture's own
  const auto same = hrm::verify_fixture(src.string(), o);
  EXPECT_TRUE(same.ok());
  for (const auto& l : same.lines) EXPECT_EQ(l.rfind("normwise", 0), std::string::npos) << l;

  hrm::train::testing::TempDir dir("fixture_bf16_config");  // hrm-tiny's files, its config saying bfloat16
  copy_tiny_fixture_without(dir.path, "config.json");
  nlohmann::json cfg = nlohmann::json::parse(std::ifstream(src / "config.json"));
  cfg["model"]["forward_dtype"] = "bfloat16";
  std::ofstream(dir.path / "config.json") << cfg.dump();
  try {
    hrm::verify_fixture(dir.path.string(), o);
    FAIL() << "float32 against bfloat16 goldens without a tolerance";
  } catch (const hrm::ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("--rel-l2"), std::string::npos) << e.what();
  }
  o.rel_l2 = 0.3;
  EXPECT_TRUE(hrm::verify_fixture(dir.path.string(), o).ok());
  EXPECT_THROW(hrm::reduced_precision_rel_l2("float64"), hrm::ConfigError);
}

TEST(Fixtures, AFixtureWithoutOneOfItsResultFilesIsAMissingPiece) {
  const fs::path src = fs::path(HRM_SHARED_DIR) / "fixtures" / "hrm-tiny";
  ASSERT_TRUE(fs::exists(src / "config.json"));
  hrm::train::testing::TempDir dir("fixture_partial");
  copy_tiny_fixture_without(dir.path, "train_loop.pt");
  const auto report = hrm::verify_fixture(dir.path.string());
  EXPECT_FALSE(report.ok());
  EXPECT_EQ(report.missing, 1);
  EXPECT_EQ(report.failed, 0);
  bool named = false;
  for (const auto& l : report.lines) named = named || l.find("train_loop.pt") != std::string::npos;
  EXPECT_TRUE(named);
}

// A key missing from config.json took hrm's default and showed as 257 numeric mismatches.
TEST(Fixtures, AConfigKeyWithoutAReferenceDefaultMustBeThere) {
  const fs::path src = fs::path(HRM_SHARED_DIR) / "fixtures" / "hrm-tiny";
  ASSERT_TRUE(fs::exists(src / "config.json"));
  hrm::train::testing::TempDir dir("fixture_no_heads");
  copy_tiny_fixture_without(dir.path, "config.json");
  nlohmann::json cfg = nlohmann::json::parse(std::ifstream(src / "config.json"));
  cfg["model"].erase("num_heads");
  std::ofstream(dir.path / "config.json") << cfg.dump();
  try {
    hrm::verify_fixture(dir.path.string());
    FAIL() << "expected an error";
  } catch (const hrm::FormatError& e) {
    EXPECT_NE(std::string(e.what()).find((dir.path / "config.json").string() + ": model config: missing key 'num_heads'"),
              std::string::npos)
        << e.what();
  }
}

// `hrm verify-fixture A B` stopped at A's damage without checking B.
TEST(Fixtures, ADamagedFolderIsReportedAndTheNextOneStillChecked) {
  const fs::path src = fs::path(HRM_SHARED_DIR) / "fixtures" / "hrm-tiny";
  ASSERT_TRUE(fs::exists(src / "config.json"));
  hrm::train::testing::TempDir dir("fixture_no_batch");
  copy_tiny_fixture_without(dir.path, "batch.pt");
  const auto r = hrm::testing::run_hrm({"verify-fixture", "--quiet", dir.path.string(), src.string()});
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_NE(r.output.find(dir.path.string() + ": cannot be checked: "), std::string::npos) << r.output;
  EXPECT_NE(r.output.find(src.string() + ": "), std::string::npos) << r.output;
  EXPECT_NE(r.output.find(" missing: OK"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("1 fixture folder(s) did not match"), std::string::npos) << r.output;
}

INSTANTIATE_TEST_SUITE_P(Shared, Fixture, ::testing::ValuesIn(fixture_dirs()),
                         [](const ::testing::TestParamInfo<std::string>& i) {
                           std::string n = fs::path(i.param).filename().string();
                           for (auto& ch : n)
                             if (!isalnum(static_cast<unsigned char>(ch))) ch = '_';
                           return n;
                         });
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(Fixture);

}  // namespace
