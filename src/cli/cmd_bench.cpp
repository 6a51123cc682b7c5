// cmd_bench.cpp: `hrm bench model`: one ACT segment's throughput; prints figures, asserts nothing.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <iostream>

#include "cli/commands.h"
#include "core/check.h"
#include "train/bench_model.h"

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
}

}  // namespace hrm::cli
