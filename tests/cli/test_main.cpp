// test_main.cpp: what `hrm` itself (src/cli/main.cpp) answers before any subcommand.
#include <gtest/gtest.h>
#include <torch/version.h>

#include <regex>

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

}  // namespace
}  // namespace hrm
