// cmd_bench.cpp: `hrm bench model` (one ACT segment's throughput) and `hrm bench train` (whole
// training steps on a dataset); print figures, assert nothing.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <iostream>

#include "cli/commands.h"
#include "core/check.h"
#include "train/bench_model.h"
#include "train/bench_train.h"
#include "train/pretrain_config.h"

#include <ATen/Parallel.h>

namespace hrm::cli {

void register_bench(CLI::App& app) {
  auto* bench = app.add_subcommand("bench", "Benchmarks that print figures (record them in docs/PERF.md)");
  bench->require_subcommand(1);
  auto* model = bench->add_subcommand(
      "model", "Tokens/s of one ACT segment, forward (eval) and forward+backward (train, target-Q forward included)");
  struct Opts {
    std::vector<std::string> overrides;
    std::string device = "cpu";
    int iters = 5, warmup = 2;
  };
  auto o = std::make_shared<Opts>();
  model->add_option("overrides", o->overrides,
                    "model config as key=value (defaults: the reference's Sudoku config, batch_size 768, "
                    "forward_dtype bfloat16), e.g. batch_size=32 forward_dtype=float32");
  model->add_option("--device", o->device, "cpu or cuda[:N]")->capture_default_str();
  model->add_option("--iters", o->iters, "timed segments (median reported)")->capture_default_str();
  model->add_option("--warmup", o->warmup, "untimed segments first")->capture_default_str();
  model->callback([o] {
    BenchModelOptions b;
    for (const auto& kv : o->overrides) {
      auto eq = kv.find('=');
      if (eq == std::string::npos) throw hrm::ConfigError("expected key=value, got '" + kv + "'");
      std::string key = kv.substr(0, eq);
      if (key.rfind("arch.", 0) == 0) key = key.substr(5);
      b.config.set(key, kv.substr(eq + 1));
    }
    b.config.validate();
    b.device = torch::Device(o->device);
    b.iters = o->iters;
    b.warmup = o->warmup;
    auto r = bench_model(b);
    std::printf("bench model: device %s, forward_dtype %s, batch %d, seq_len %d (+%d puzzle), hidden %d, "
                "H/L cycles %d/%d, layers %d/%d, %lld parameters, %d threads\n",
                o->device.c_str(), b.config.forward_dtype.c_str(), b.config.batch_size, b.config.seq_len,
                b.config.puzzle_emb_len(), b.config.hidden_size, b.config.H_cycles, b.config.L_cycles,
                b.config.H_layers, b.config.L_layers, static_cast<long long>(r.parameters), at::get_num_threads());
    std::printf("  forward (eval segment)          %10.2f ms  %12.0f tokens/s\n", r.forward_ms, r.forward_tokens_per_s);
    std::printf("  forward+backward (train segment) %9.2f ms  %12.0f tokens/s\n", r.train_ms, r.train_tokens_per_s);
  });

  auto* train = bench->add_subcommand(
      "train", "Steps/s and tokens/s of whole training steps (batch to device, ACT forward with target-Q, backward, "
               "sign-SGD, AdamATan2) on a dataset, with the config of `hrm train`");
  struct TrainOpts {
    std::string config_file;
    std::vector<std::string> overrides;
    int iters = 10, warmup = 2;
  };
  auto t = std::make_shared<TrainOpts>();
  train->add_option("--config", t->config_file, "a cfg_pretrain.yaml-style file")->check(CLI::ExistingFile);
  train->add_option("overrides", t->overrides, "hrm train's key=value overrides, e.g. data_path=DIR global_batch_size=64 "
                                               "arch.forward_dtype=float32 device=cuda")
      ->required();
  train->add_option("--iters", t->iters, "timed steps (median reported)")->capture_default_str();
  train->add_option("--warmup", t->warmup, "untimed steps first")->capture_default_str();
  train->callback([t] {
    const train::PretrainConfig config = train::load_pretrain_config(
        t->config_file.empty() ? std::nullopt : std::optional<std::string>(t->config_file), t->overrides);
    const train::BenchTrainResult r = train::bench_train(config, t->warmup, t->iters);
    const auto& a = config.arch;
    std::printf("bench train: device %s, forward_dtype %s, global_batch_size %lld, seq_len %lld (+%d puzzle), hidden %d, "
                "H/L cycles %d/%d, layers %d/%d, halt_max_steps %d, %lld parameters, %d threads\n",
                config.device.c_str(), a.forward_dtype.c_str(), static_cast<long long>(config.global_batch_size),
                static_cast<long long>(r.seq_len), a.puzzle_emb_len(), a.hidden_size, a.H_cycles, a.L_cycles, a.H_layers,
                a.L_layers, a.halt_max_steps, static_cast<long long>(r.parameters), at::get_num_threads());
    std::printf("  %lld steps: median %.2f ms, mean %.2f ms per step; %.2f steps/s, %.0f tokens/s\n",
                static_cast<long long>(r.steps), r.median_step_ms, r.mean_step_ms, r.steps_per_s, r.tokens_per_s);
  });
}

}  // namespace hrm::cli
