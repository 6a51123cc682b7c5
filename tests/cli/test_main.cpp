// test_main.cpp: what `hrm` itself (src/cli/main.cpp) answers before any subcommand.
#include <gtest/gtest.h>
#include <torch/version.h>

#include <algorithm>
#include <regex>
#include <thread>

#include "cli/cli_run.h"

namespace hrm {
namespace {

using hrm::testing::run_hrm;

TEST(HrmVersion, NamesTheLibtorchCudaDevicesAndTheDataParallelBackendsOfThisBuild) {
  const auto r = run_hrm({"--version"});
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("hrm "), std::string::npos) << r.output;
  EXPECT_NE(r.output.find(std::string("libtorch ") + TORCH_VERSION), std::string::npos) << r.output;
  EXPECT_TRUE(std::regex_search(r.output, std::regex("CUDA devices: [0-9]+\n"))) << r.output;
#if HRM_TORCH_FALLBACK
  EXPECT_NE(r.output.find("data parallel: not built"), std::string::npos) << r.output;
#else
  EXPECT_NE(r.output.find("data parallel: gloo (CPU)"), std::string::npos) << r.output;
#endif
  EXPECT_TRUE(std::regex_search(r.output, std::regex("CUDA graphs \\(cuda_graphs=true\\): (built|not built)")))
      << r.output;
  EXPECT_TRUE(std::regex_search(r.output, std::regex("fused CUDA kernels \\(SwiGLU, RoPE\\): (built|not built)")))
      << r.output;
}

// hrm's own options work after the subcommand too (`hrm eval ... --threads 1`), and a usage error exits
// 2 like every other error (not CLI11's codes above 100).
TEST(HrmOptions, ThreadsAfterTheSubcommandAndUsageErrorsExitTwo) {
  const std::string cmd = hrm::testing::shell_quote(HRM_BINARY) +
                          " bench model batch_size=1 hidden_size=32 num_heads=2 H_layers=1 L_layers=1 "
                          "puzzle_emb_ndim=0 --iters 1 --warmup 0 --peak-tflops 1 --threads 1 2>&1";
  FILE* p = ::popen(cmd.c_str(), "r");
  ASSERT_NE(p, nullptr);
  std::string out;
  char buf[4096];
  for (size_t n; (n = std::fread(buf, 1, sizeof buf, p)) > 0;) out.append(buf, n);
  ASSERT_EQ(::pclose(p), 0) << out;
  EXPECT_NE(out.find(", 1 threads"), std::string::npos) << out;
  const auto bad = run_hrm({"data", "sudoku", "/nonexistent/x", "--size", "5"});
  EXPECT_EQ(bad.status, 2) << bad.output;
  EXPECT_NE(bad.output.find("--size"), std::string::npos) << bad.output;
  EXPECT_EQ(run_hrm({"train", "--help"}).status, 0);
}

// Without --threads, torch's threads follow OMP_NUM_THREADS as in PyTorch (torchrun sets it to 1 for
// each of several processes; the reference's commands to 8); --threads wins, and 0 means all cores.
TEST(HrmOptions, ThreadsFollowOmpNumThreadsUnlessGiven) {
  const unsigned cores = std::max(1u, std::thread::hardware_concurrency());
  auto threads_used = [](const std::string& env, const std::string& threads_option) {
    const std::string cmd = env + " " + hrm::testing::shell_quote(HRM_BINARY) + " " + threads_option +
                            " bench model batch_size=1 hidden_size=32 num_heads=2 H_layers=1 L_layers=1 "
                            "puzzle_emb_ndim=0 --device cpu --iters 1 --warmup 0 --peak-tflops 1 2>&1";
    FILE* p = ::popen(cmd.c_str(), "r");
    std::string out;
    char buf[4096];
    for (size_t n; p && (n = std::fread(buf, 1, sizeof buf, p)) > 0;) out.append(buf, n);
    EXPECT_EQ(p ? ::pclose(p) : -1, 0) << cmd << "\n" << out;
    return out;
  };
  EXPECT_NE(threads_used("OMP_NUM_THREADS=1", "").find(", 1 threads\n"), std::string::npos);
  EXPECT_NE(threads_used("OMP_NUM_THREADS=1,1", "").find(", 1 threads\n"), std::string::npos) << "an OpenMP list: its first";
  EXPECT_NE(threads_used("OMP_NUM_THREADS=1", "--threads 2").find(", 2 threads\n"), std::string::npos);
  EXPECT_NE(threads_used("OMP_NUM_THREADS=1", "--threads 0").find(", " + std::to_string(cores) + " threads\n"),
            std::string::npos);
  const std::string bad = threads_used("OMP_NUM_THREADS=many", "");
  EXPECT_NE(bad.find("warning: OMP_NUM_THREADS='many' is not a thread count"), std::string::npos) << bad;
  EXPECT_NE(bad.find(", " + std::to_string(cores) + " threads\n"), std::string::npos) << bad;
}

// `--threads 99999` once exhausted a machine's process limit: every --threads (hrm's and the data
// builders') is refused above 4 per core, before any thread starts.
TEST(HrmOptions, ThreadCountsAboveFourPerCoreAndNegativeCountsAreRefused) {
  const std::string too_many = std::to_string(4 * std::max(1u, std::thread::hardware_concurrency()) + 1);
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"--threads", too_many, "data", "info", "/nonexistent/x"},
        std::vector<std::string>{"data", "maze", "/nonexistent/x", "--threads", too_many},
        std::vector<std::string>{"data", "sudoku", "/nonexistent/x", "--threads", too_many},
        std::vector<std::string>{"data", "arc", "/nonexistent/x", "--threads", too_many}}) {
    const auto r = run_hrm(args);
    EXPECT_EQ(r.status, 2) << r.output;
    EXPECT_NE(r.output.find("--threads: " + too_many + " threads is more than 4 per core"), std::string::npos)
        << r.output;
  }
  // Counts and seeds: -1 is refused in words (an unsigned --seed took it as 2^64 - 1; CLI11's own
  // message printed a 300-digit bound).
  for (const char* option : {"--seed", "--num-aug"}) {
    const auto r = run_hrm({"data", "sudoku", "/nonexistent/x", option, "-1"});
    EXPECT_EQ(r.status, 2) << r.output;
    EXPECT_NE(r.output.find(std::string(option) + ": expected a value >= 0, got -1\n"), std::string::npos) << r.output;
  }
  // The benches' counts and data info's example index go through the same checks.
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"bench", "train", "data_path=x", "--iters", "0"}, "--iters: expected a value >= 1, got 0\n"},
      {{"bench", "eval", "data_path=x", "--warmup", "-1"}, "--warmup: expected a value >= 0, got -1\n"},
      {{"bench", "model", "--iters", "0"}, "--iters: expected a value >= 1, got 0\n"},
      {{"data", "info", std::filesystem::temp_directory_path().string(), "--example", "-3"}, "--example: expected a value >= 0, got -3\n"}};
  for (const auto& [args, expected] : cases) {
    const auto r = run_hrm(args);
    EXPECT_EQ(r.status, 2) << r.output;
    EXPECT_NE(r.output.find(expected), std::string::npos) << r.output;
  }
}

}  // namespace
}  // namespace hrm
