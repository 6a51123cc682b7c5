// test_cuda_sync.cpp: a CUDA training step never waits for the device (PyTorch's sync debug mode turns
// every synchronising call of ATen into an error: .item(), a copy from pageable memory, nonzero, unique),
// and the train loop's device syncs are those it documents. Compiled where the CUDA toolkit's headers
// are (c10/cuda needs them), run where a GPU is.
#include <gtest/gtest.h>

#if HRM_CUDA_TOOLKIT && !HRM_TORCH_FALLBACK  // set by CMakeLists.txt where the CUDA toolkit is found
#include <c10/cuda/CUDAFunctions.h>
#include <torch/cuda.h>

#include "data/dataset.h"
#include "data/puzzle_dataset.h"
#include "train/tiny_task.h"
#include "train/train_loop.h"

namespace hrm::train {
namespace {

struct SyncDebugError {  // on for this scope only
  SyncDebugError() { c10::cuda::warning_state().set_sync_debug_mode(c10::cuda::SyncDebugMode::L_ERROR); }
  ~SyncDebugError() { c10::cuda::warning_state().set_sync_debug_mode(c10::cuda::SyncDebugMode::L_DISABLED); }
};

struct CudaRun {
  testing::TempDir dir{"cuda_sync"};
  PretrainConfig config;
  std::unique_ptr<data::Dataset> train;
  std::unique_ptr<data::PuzzleSampler> sampler;
  TrainState state;

  explicit CudaRun(const std::vector<std::string>& extra) {
    testing::write_tiny_dataset(dir.path / "data");
    std::vector<std::string> o{"device=cuda"};
    o.insert(o.end(), extra.begin(), extra.end());
    config = testing::tiny_config(dir.path / "data", dir.path / "run", o);
    train = std::make_unique<data::Dataset>(data::Dataset::open(config.data_path, "train"));
    data::SamplerConfig sc;
    sc.seed = static_cast<uint64_t>(config.seed);
    sc.global_batch_size = config.global_batch_size;
    sampler = std::make_unique<data::PuzzleSampler>(*train, sc);
    state = init_train_state(config, train->metadata());
    state.model->train();
  }
  std::optional<TrainMetrics> step() {
    data::Batch b;
    if (!sampler->next(b)) EXPECT_TRUE(sampler->next(b));
    return train_batch(config, state, b);
  }
};

TEST(CudaTrainStep, MakesNoHostSyncWithoutTheFinitenessCheck) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  for (const char* dtype : {"float32", "bfloat16"}) {
    // Exploration on: its draw is copied to the device every step.
    CudaRun run({"max_nonfinite_steps=0", "arch.halt_exploration_prob=0.5", std::string("arch.forward_dtype=") + dtype});
    ASSERT_TRUE(run.step());  // the first step: the carry is created, kernels chosen
    SyncDebugError guard;
    for (int i = 0; i < 3; ++i)
      EXPECT_NO_THROW(run.step()) << dtype << ": step " << i + 2 << " synchronised with the device";
  }
}

TEST(CudaTrainStep, TheFinitenessCheckIsItsOneSync) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  CudaRun run({});
  ASSERT_TRUE(run.step());
  SyncDebugError guard;
  EXPECT_THROW(run.step(), c10::Error);  // max_nonfinite_steps > 0 reads one flag per step
}

}  // namespace
}  // namespace hrm::train
#else
// Without the CUDA toolkit's headers the tests exist, and say why they cannot run.
TEST(CudaTrainStep, MakesNoHostSyncWithoutTheFinitenessCheck) { GTEST_SKIP() << "built without the CUDA toolkit"; }
TEST(CudaTrainStep, TheFinitenessCheckIsItsOneSync) { GTEST_SKIP() << "built without the CUDA toolkit"; }
#endif
