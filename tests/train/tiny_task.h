// tiny_task.h: a tiny puzzle dataset and training config for the tests of src/train and `hrm train`.
// Task: 8 tokens in 2..5 (token 1 = blank is never used, 0 = PAD); the label of each position is the
// input token shifted by one in a cycle (2->3, 3->4, 4->5, 5->2) except at positions 0 and 7, whose
// label is the token at the other end, so the model needs attention across the sequence. 32 training
// groups of one puzzle with 2 examples each (puzzle identifiers 1..32, 0 is the blank), 16 test
// examples with the blank identifier. Written with data::DatasetWriter, as the builders do.
#pragma once

#include <cstdlib>
#include <stdexcept>

#include <unistd.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/remove_tree.h"
#include "core/rng.h"
#include "data/dataset.h"
#include "io/torch_file.h"
#include "train/pretrain_config.h"

namespace hrm::train::testing {

namespace fs = std::filesystem;

inline std::vector<int32_t> tiny_label(const std::vector<int32_t>& in) {
  std::vector<int32_t> lab(in.size());
  for (size_t i = 0; i < in.size(); ++i) lab[i] = 2 + (in[i] - 2 + 1) % 4;
  lab.front() = in.back();
  lab.back() = in.front();
  return lab;
}

// Not fs::remove_all, which crashes in libtorch-linked binaries: see core/remove_tree.h.
inline void remove_tree(const fs::path& p) {
  if (!hrm::remove_tree(p.string())) throw std::runtime_error("cannot remove " + p.string());
}

// Writes the dataset to `dir` (replacing it).
inline void write_tiny_dataset(const fs::path& dir, int train_groups = 32, int test_examples = 16) {
  remove_tree(dir);
  Rng rng(1234);
  auto example = [&] {
    std::vector<int32_t> in(8);
    for (auto& t : in) t = static_cast<int32_t>(rng.integers(2, 6));
    return in;
  };
  data::DatasetWriter w(dir);
  data::DatasetMetadata m;
  m.pad_id = 0;
  m.ignore_label_id = 0;
  m.blank_identifier_id = 0;
  m.num_puzzle_identifiers = train_groups + 1;
  data::SplitWriter& train = w.split("train", 8, 6);
  for (int g = 0; g < train_groups; ++g) {
    train.begin_group();
    train.begin_puzzle(g + 1);
    for (int e = 0; e < 2; ++e) {
      const auto in = example();
      train.add_example(in.data(), tiny_label(in).data());
    }
  }
  train.finish(m);
  data::SplitWriter& test = w.split("test", 8, 6);
  for (int e = 0; e < test_examples; ++e) {
    test.begin_group();
    test.begin_puzzle(0);
    const auto in = example();
    test.add_example(in.data(), tiny_label(in).data());
  }
  test.finish(m);
  std::vector<std::string> ids{"<blank>"};
  for (int g = 0; g < train_groups; ++g) ids.push_back("p" + std::to_string(g));
  w.commit(ids);
}

// Overrides of a tiny float32 HRM that trains in well under a second per epoch on one CPU thread; on the
// CPU also where a GPU is (device=auto would take it): the tests state CPU figures and bit-identities.
inline std::vector<std::string> tiny_overrides(const fs::path& data, const fs::path& run) {
  return {"device=cpu",
          "data_path=" + data.string(),
          "checkpoint_path=" + run.string(),
          "global_batch_size=16",
          "epochs=4",
          "eval_interval=2",
          "lr=1e-3",
          "puzzle_emb_lr=1e-2",
          "lr_warmup_steps=2",
          "log_interval=1",
          "arch.hidden_size=32",
          "arch.num_heads=2",
          "arch.expansion=2",
          "arch.H_layers=1",
          "arch.L_layers=1",
          "arch.H_cycles=1",
          "arch.L_cycles=1",
          "arch.halt_max_steps=2",
          "arch.forward_dtype=float32"};
}

inline PretrainConfig tiny_config(const fs::path& data, const fs::path& run,
                                  const std::vector<std::string>& extra = {}) {
  ConfigBuilder b;
  for (const auto& o : tiny_overrides(data, run)) b.merge_override(o);
  for (const auto& o : extra) b.merge_override(o);
  return b.build();
}

// A fresh temporary directory, removed at scope exit.
// Every tensor of a file torch.save'd (a checkpoint, train_state.pt), by name.
inline std::map<std::string, torch::Tensor> load_tensors(const fs::path& p) {
  const auto sd = io::load_torch_file(p.string());
  return {sd.begin(), sd.end()};
}

struct TempDir {
  fs::path path;
  explicit TempDir(const std::string& name) {
    path = fs::temp_directory_path() / ("hrm_test_" + name + "_" + std::to_string(::getpid()));
    remove_tree(path);
    fs::create_directories(path);
  }
  ~TempDir() { remove_tree(path); }
};

// A suite whose tests share one tiny dataset, written before its first test (class S : public
// TinyTaskSuite {}; then data() in its tests).
class TinyTaskSuite : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = std::make_unique<TempDir>("tiny_task_data");
    write_tiny_dataset(dir_->path / "tiny");
  }
  static void TearDownTestSuite() { dir_.reset(); }
  static fs::path data() { return dir_->path / "tiny"; }

 private:
  static inline std::unique_ptr<TempDir> dir_;
};

}  // namespace hrm::train::testing
