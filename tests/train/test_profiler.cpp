// Tests for src/train/profiler.cpp: self times from nested intervals, the tables' text, and a real
// profile of a few tensor ops (where the build has the profiler).
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include <filesystem>

#include "core/atomic_file.h"
#include "core/check.h"
#include "train/profiler.h"
#include "train/tiny_task.h"

namespace hrm::train {
namespace {

TEST(Profiler, SelfTimeIsTheTimeLessTheNestedIntervals) {
  // parent [0, 100) holds a [10, 30) and b [40, 90), which holds c [50, 60); d [100, 150) follows;
  // e starts with the parent but is shorter (a child); f outlasts b (clock skew): b's child, cut at
  // 90; g [92, 98) is then the parent's child, not f's.
  const std::vector<uint64_t> begin{40, 0, 10, 50, 100, 0, 85, 92};
  const std::vector<uint64_t> end{90, 100, 30, 60, 150, 5, 95, 98};
  const std::vector<uint64_t> self = self_times(begin, end);
  EXPECT_EQ(self, (std::vector<uint64_t>{35, 19, 20, 10, 50, 5, 5, 6}));
  uint64_t sum = 0;
  for (const uint64_t s : self) sum += s;
  EXPECT_EQ(sum, 150u) << "every nanosecond counts once";
}

TEST(Profiler, TablesArePerStepLargestFirstAndCut) {
  Profile p;
  p.steps = 2;
  p.wall_ms = 10;
  p.cpu_ops = {{"aten::mm", 6.0, 4}, {"aten::add", 2.0, 10}, {"aten::mul", 1.0, 2}};
  p.gpu_work = {{std::string(80, 'k'), 3.0, 2}};
  p.phases = {{"hrm::backward", 5.0, 2}};
  const std::string text = format_profile(p, 2);
  EXPECT_NE(text.find("2 profiled steps, 5.00 ms per step"), std::string::npos) << text;
  EXPECT_NE(text.find("phases of the step, whole time on the host (per step; % of 5.00 ms, the step):"), std::string::npos) << text;
  EXPECT_NE(text.find("2.500 ms   50.0%      1.0 calls"), std::string::npos) << "against the wall time: " << text;
  EXPECT_NE(text.find("CPU ops by self time (per step; % of 4.50 ms, their sum):"), std::string::npos) << text;
  EXPECT_NE(text.find("aten::mm"), std::string::npos) << text;
  EXPECT_NE(text.find("3.000 ms   66.7%      2.0 calls"), std::string::npos) << text;
  EXPECT_EQ(text.find("aten::mul"), std::string::npos) << text;
  EXPECT_NE(text.find("... 1 more"), std::string::npos) << text;
  EXPECT_NE(text.find("GPU kernels and copies by time (per step; % of 1.50 ms, their sum):"), std::string::npos) << text;
  EXPECT_NE(text.find(std::string(57, 'k') + "..."), std::string::npos) << "long kernel names are cut: " << text;
}

TEST(Profiler, ProfilesOpsAndWritesAChromeTrace) {
  if (!profiler_available()) GTEST_SKIP() << "built on libtorch 1.13: no --profile";
  testing::TempDir dir("profiler");
  const std::string trace = (dir.path / "trace.json").string();
  const auto a = torch::randn({64, 64}), b = torch::randn({64, 64});
  const Profile p = profile_steps(torch::kCPU, 3, [&] { (void)torch::mm(a, b).relu().sum(); }, trace);
  EXPECT_EQ(p.steps, 3);
  EXPECT_GT(p.wall_ms, 0);
  ASSERT_FALSE(p.cpu_ops.empty());
  EXPECT_TRUE(p.gpu_work.empty());
  bool mm = false;
  for (const auto& r : p.cpu_ops) mm = mm || (r.name == "aten::mm" && r.calls == 3);
  EXPECT_TRUE(mm) << format_profile(p, 10);
  for (size_t i = 1; i < p.cpu_ops.size(); ++i) EXPECT_GE(p.cpu_ops[i - 1].ms, p.cpu_ops[i].ms);
  const auto j = nlohmann::json::parse(read_file(trace));
  ASSERT_TRUE(j.contains("traceEvents")) << trace;
  // A trace may be replaced by the next; any other file is not, nor is a trace put in a missing folder.
  EXPECT_THROW(check_trace_path((dir.path / "no/such/trace.json").string()), Error);
  EXPECT_NO_THROW(profile_steps(torch::kCPU, 1, [&] { (void)torch::mm(a, b); }, trace));
  const std::string other = (dir.path / "notes.json").string();
  write_file_atomic(other, "{\"mine\": 1}\n");
  EXPECT_THROW(profile_steps(torch::kCPU, 1, [&] { (void)torch::mm(a, b); }, other), Error);
  EXPECT_EQ(read_file(other), "{\"mine\": 1}\n");
}

}  // namespace
}  // namespace hrm::train
