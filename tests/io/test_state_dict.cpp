// test_state_dict.cpp: src/io/state_dict.cpp: PyTorch's key order, strict loading with one error
// listing every problem, the `_orig_mod.` prefix, dtype conversion and the puzzle-embedding resize.
#include <gtest/gtest.h>

#include <filesystem>

#include "core/check.h"
#include "io/state_dict.h"
#include "io/torch_file.h"
#include "test_paths.h"
#include "test_support.h"

namespace hrm::io {
namespace {

namespace fs = std::filesystem;

using hrm::testing::kTinyCheckpoints;
using hrm::testing::kTinyFixture;

struct LeafImpl : torch::nn::Module {
  LeafImpl() {
    w = register_parameter("w", torch::zeros({2, 3}));
    buf = register_buffer("buf", torch::zeros({3}));
  }
  torch::Tensor w, buf;
};
TORCH_MODULE(Leaf);

// Registration order deliberately interleaves parameters, buffers and children.
struct TopImpl : torch::nn::Module {
  TopImpl() {
    a = register_parameter("a", torch::zeros({4}));
    first = register_module("first", Leaf());
    h = register_buffer("h", torch::zeros({2}));
    layers = register_module("layers", torch::nn::ModuleList(Leaf(), Leaf()));
    b = register_parameter("b", torch::zeros({1}));
  }
  torch::Tensor a, h, b;
  Leaf first = nullptr;
  torch::nn::ModuleList layers = nullptr;
};
TORCH_MODULE(Top);

// A module tree built from dotted names (children created on first use), as parameters or buffers.
struct Node : torch::nn::Module {
  void add(const std::string& dotted, const torch::Tensor& t, bool buffer) {
    size_t dot = dotted.find('.');
    if (dot == std::string::npos) {
      buffer ? register_buffer(dotted, t) : register_parameter(dotted, t);
      return;
    }
    std::string head = dotted.substr(0, dot);
    auto children = named_children();
    std::shared_ptr<Node> child;
    if (auto* found = children.find(head)) {
      child = std::dynamic_pointer_cast<Node>(*found);
    } else {
      child = register_module(head, std::make_shared<Node>());
    }
    child->add(dotted.substr(dot + 1), t, buffer);
  }
};

std::vector<std::string> keys(const StateDict& sd) {
  std::vector<std::string> out;
  for (const auto& kv : sd) out.push_back(kv.first);
  return out;
}

std::string load_error(torch::nn::Module& m, const StateDict& sd, const LoadOptions& opts = {}) {
  try {
    load_state_dict(m, sd, "source.pt", opts);
  } catch (const FormatError& e) {
    return e.what();
  }
  return "";
}

TEST(StateDict, ListsOwnParametersThenOwnBuffersThenChildrenLikePyTorch) {
  Top top;
  std::vector<std::string> want = {"a",          "b",          "h",          "first.w",   "first.buf",
                                   "layers.0.w", "layers.0.buf", "layers.1.w", "layers.1.buf"};
  EXPECT_EQ(keys(state_dict(*top)), want);
}

TEST(StateDict, TensorsShareMemoryWithTheModuleAndAreDetached) {
  Top top;
  StateDict sd = state_dict(*top);
  EXPECT_FALSE(sd[0].second.requires_grad());
  EXPECT_EQ(sd[0].second.data_ptr(), top->a.data_ptr());
}

TEST(LoadStateDict, CopiesValuesConvertingToTheModuleDtypeAndStripsCompiledPrefix) {
  Top top;
  StateDict sd;
  for (const auto& [k, t] : state_dict(*top)) {
    torch::Tensor v = torch::arange(t.numel(), torch::kFloat64).reshape(t.sizes()) + 0.5;
    sd.emplace_back((k == "a" ? "" : "_orig_mod.") + k, k == "h" ? v.to(torch::kBFloat16) : v);
  }
  load_state_dict(*top, sd, "source.pt");
  EXPECT_EQ(top->a.scalar_type(), torch::kFloat32);
  EXPECT_TRUE(top->a.requires_grad());
  EXPECT_TRUE(torch::equal(top->a, torch::tensor({0.5f, 1.5f, 2.5f, 3.5f})));
  EXPECT_TRUE(torch::equal(top->h, torch::tensor({0.5f, 1.5f})));
  EXPECT_TRUE(torch::equal(top->layers[1]->as<Leaf>()->buf, torch::tensor({0.5f, 1.5f, 2.5f})));
  EXPECT_FLOAT_EQ(top->first->w[1][2].item<float>(), 5.5f);
}

TEST(LoadStateDict, OneErrorListsEveryMissingUnexpectedAndMisshapedKeyAndCopiesNothing) {
  Top top;
  StateDict sd;
  for (const auto& [k, t] : state_dict(*top)) {
    if (k == "first.w") continue;  // missing
    sd.emplace_back(k, k == "a" ? torch::ones({5}) : torch::ones_like(t));
  }
  sd.emplace_back("extra.weight", torch::ones({7, 2}));
  std::string m = load_error(*top, sd);
  EXPECT_NE(m.find("source.pt"), std::string::npos) << m;
  EXPECT_NE(m.find("3 problems"), std::string::npos) << m;
  EXPECT_NE(m.find("missing key 'first.w' [2, 3]"), std::string::npos) << m;
  EXPECT_NE(m.find("unexpected key 'extra.weight' [7, 2]"), std::string::npos) << m;
  EXPECT_NE(m.find("size mismatch for 'a': file [5], model [4]"), std::string::npos) << m;
  EXPECT_TRUE(torch::equal(top->b, torch::zeros({1}))) << "a failed load must not change the module";
}

struct PuzzleModel {
  Node m;
  explicit PuzzleModel(int64_t rows) {
    m.add("model.inner.puzzle_emb.weights", torch::zeros({rows, 4}), /*buffer=*/true);
    m.add("model.inner.lm_head.weight", torch::zeros({2, 4}), false);
  }
  StateDict file(int64_t rows) const {
    return {{"_orig_mod.model.inner.puzzle_emb.weights", torch::arange(rows * 4, torch::kFloat32).reshape({rows, 4})},
            {"_orig_mod.model.inner.lm_head.weight", torch::ones({2, 4})}};
  }
  torch::Tensor table() { return state_dict(m)[0].second; }
};

TEST(LoadStateDict, PuzzleEmbRowCountMismatchNamesBothCountsAndTheOption) {
  PuzzleModel pm(3);
  std::string m = load_error(pm.m, pm.file(5));
  EXPECT_NE(m.find("model.inner.puzzle_emb.weights' has 5 rows"), std::string::npos) << m;
  EXPECT_NE(m.find("but 3 in the model"), std::string::npos) << m;
  EXPECT_NE(m.find("resize_puzzle_emb"), std::string::npos) << m;
}

TEST(LoadStateDict, ResizePuzzleEmbAppendsMeanRowsOrDropsExtraRows) {
  LoadOptions resize;
  resize.resize_puzzle_emb = true;

  PuzzleModel grow(5);
  load_state_dict(grow.m, grow.file(3), "source.pt", resize);
  torch::Tensor t = grow.table();
  EXPECT_TRUE(torch::equal(t.slice(0, 0, 3), grow.file(3)[0].second));
  torch::Tensor mean = torch::tensor({4.f, 5.f, 6.f, 7.f});  // mean of rows 0..2 of arange(12)
  EXPECT_TRUE(torch::equal(t[3], mean)) << t;
  EXPECT_TRUE(torch::equal(t[4], mean)) << t;

  PuzzleModel shrink(2);
  load_state_dict(shrink.m, shrink.file(3), "source.pt", resize);
  EXPECT_TRUE(torch::equal(shrink.table(), shrink.file(3)[0].second.slice(0, 0, 2)));

  // A different embedding width is not a row count: still an error.
  PuzzleModel wide(3);
  StateDict bad = wide.file(3);
  bad[0].second = torch::zeros({3, 5});
  EXPECT_NE(load_error(wide.m, bad, resize).find("size mismatch"), std::string::npos);
}

TEST(LoadStateDict, EveryReferenceCheckpointLoadsIntoAModuleWithTheReferenceKeys) {
  StateDict weights = load_torch_file(kTinyFixture + "/weights.pt");
  Node model;
  for (const auto& [k, t] : weights) model.add(k, torch::zeros_like(t), /*buffer=*/false);
  EXPECT_EQ(keys(state_dict(model)), keys(weights));

  size_t files = 0;
  for (const auto& e : fs::directory_iterator(kTinyCheckpoints)) {
    if (e.path().extension() != ".pt") continue;
    ++files;
    std::string path = e.path().string();
    load_state_dict(model, load_torch_file(path), path);
    StateDict got = state_dict(model);
    for (size_t k = 0; k < got.size(); ++k) {
      const torch::Tensor& w = weights[k].second;
      bool bf16_init = path.find("bf16init") != std::string::npos &&
                       (weights[k].first == "model.inner.H_init" || weights[k].first == "model.inner.L_init");
      torch::Tensor want = bf16_init ? w.to(torch::kBFloat16).to(torch::kFloat32) : w;
      EXPECT_TRUE(torch::equal(got[k].second, want)) << path << ": " << weights[k].first;
    }
  }
  EXPECT_GE(files, 4u);
}

}  // namespace
}  // namespace hrm::io
