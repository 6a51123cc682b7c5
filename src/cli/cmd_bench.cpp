// cmd_bench.cpp: `hrm bench model` (one ACT segment's throughput), `hrm bench train` (whole training
// steps on a dataset) and `hrm bench eval` (evaluation ACT steps on a dataset's test split); print
// figures (time, throughput, analytic FLOPs, MFU, peak memory), assert nothing.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <iostream>
#include <optional>

#include "cli/commands.h"
#include "cli/validators.h"
#include "core/check.h"
#include "model/layers.h"
#include "train/bench_common.h"
#include "train/bench_model.h"
#include "train/bench_train.h"
#include "train/pretrain_config.h"
#include "train/profiler.h"
#include "train/train_loop.h"

#include <ATen/Parallel.h>

namespace hrm::cli {
namespace {

// The denominator of MFU: --peak-tflops, else the rate this device reaches on a large matrix product
// in the model's forward dtype (the work the model is made of), measured now.
struct Peak {
  double flops = 0;
  std::string what;
};

Peak peak_rate(double peak_tflops, torch::Device device, const std::string& forward_dtype) {
  if (peak_tflops > 0) return {peak_tflops * 1e12, "given by --peak-tflops"};
  const double f = measure_matmul_flops(device, dtype_from_name(forward_dtype));
  return {f, "of the " + forward_dtype + " matmul rate measured now (" + std::to_string(matmul_size(device)) + "^3)"};
}

// "28.15 TFLOP" or "0.74 GFLOP": TFLOP for GPU-sized work, GFLOP for what a CPU bench runs.
std::string flop_text(double flops, const char* suffix = "") {
  char buf[48];
  if (flops >= 1e12) std::snprintf(buf, sizeof buf, "%.2f TFLOP%s", flops / 1e12, suffix);
  else std::snprintf(buf, sizeof buf, "%.2f GFLOP%s", flops / 1e9, suffix);
  return buf;
}

void print_efficiency(const char* per, double flops, double ms, const Peak& peak) {
  const double rate = flops / (ms / 1000.0);
  std::printf("    analytic %s per %s: %s, MFU %.1f%% %s: %s\n", flop_text(flops).c_str(), per,
              flop_text(rate, "/s").c_str(), 100.0 * rate / peak.flops, peak.what.c_str(),
              flop_text(peak.flops, "/s").c_str());
}

void print_memory(torch::Device device, int64_t bytes, double estimated_bytes = 0) {
  constexpr double gib = 1024.0 * 1024 * 1024;
  std::printf("    %s %.2f GiB", peak_memory_label(device).c_str(), static_cast<double>(bytes) / gib);
  if (estimated_bytes > 0) std::printf(" (lower bound checked before the run: %.2f GiB)", estimated_bytes / gib);
  std::printf("\n");
}

// --profile FILE [--profile-steps N] of every bench.
struct ProfileOpts {
  std::string path;
  int steps = 3;

  // The request, its path checked now: a path that would fail the trace stops the bench before its work.
  std::optional<train::ProfileRequest> request() const {
    if (path.empty()) return std::nullopt;
    train::check_trace_path(path);
    return train::ProfileRequest{path, steps};
  }
};

void add_profile_options(CLI::App* cmd, ProfileOpts& o, const char* step) {
  if (!train::profiler_available()) return;  // libtorch 1.13 builds: no such option
  auto* path = cmd->add_option("--profile", o.path,
                               std::string("after the timed ones, profile a few more ") + step +
                                   " with PyTorch's profiler: write its Chrome trace (JSON) to this file and print "
                                   "the ops by self time (CPU) and the kernels by time (GPU)");
  cmd->add_option("--profile-steps", o.steps, std::string(step) + " profiled with --profile")
      ->capture_default_str()
      ->check(positive())
      ->needs(path);
}

void print_profile(const std::optional<train::Profile>& p, const std::string& path) {
  if (!p) return;
  std::printf("profile (PyTorch's profiler; trace in %s: open it in https://ui.perfetto.dev or chrome://tracing):\n%s",
              path.c_str(), train::format_profile(*p, 20).c_str());
}

struct DatasetBenchOpts {
  std::string config_file;
  std::vector<std::string> overrides;
  int iters = 10, warmup = 2;
  double peak_tflops = 0;
  ProfileOpts profile;
};

void add_dataset_bench_options(CLI::App* cmd, DatasetBenchOpts& o, const char* iters_what, const char* steps) {
  cmd->add_option("--config", o.config_file, "a cfg_pretrain.yaml-style file")->check(CLI::ExistingFile);
  cmd->add_option("overrides", o.overrides, "hrm train's key=value overrides, e.g. data_path=DIR global_batch_size=64 "
                                            "arch.forward_dtype=float32 device=cuda")
      ->required();
  cmd->add_option("--iters", o.iters, iters_what)->capture_default_str()->check(positive());
  cmd->add_option("--warmup", o.warmup, "untimed ones first")->capture_default_str()->check(non_negative());
  cmd->add_option("--peak-tflops", o.peak_tflops, "MFU against this rate instead of a measured matmul")
      ->check(CLI::PositiveNumber);
  add_profile_options(cmd, o.profile, steps);
}

train::PretrainConfig load_config(const DatasetBenchOpts& o) {
  return train::load_pretrain_config(o.config_file.empty() ? std::nullopt : std::optional<std::string>(o.config_file),
                                     o.overrides);
}

// "N steps: median ..., mean ... per step; ... steps/s, ... tokens/s", then efficiency and memory.
void print_step_times(const char* what, const char* per, const train::StepTimes& r, const train::PretrainConfig& config,
                      double peak_tflops) {
  const torch::Device device = train::run_device(config);
  std::printf("%lld %s: median %.2f ms, mean %.2f ms per %s; %.2f steps/s, %.0f tokens/s\n",
              static_cast<long long>(r.count), what, r.median_ms, r.mean_ms, per, r.per_s, r.tokens_per_s);
  print_efficiency(per, r.flops, r.median_ms, peak_rate(peak_tflops, device, config.arch.forward_dtype));
  print_memory(device, r.peak_bytes, r.estimated_bytes);
}

void print_config_line(const char* what, const train::PretrainConfig& config, int64_t seq_len, int64_t parameters) {
  const auto& a = config.arch;
  std::printf("bench %s: device %s, forward_dtype %s, global_batch_size %lld, seq_len %lld (+%d puzzle), hidden %d, "
              "H/L cycles %d/%d, layers %d/%d, halt_max_steps %d, %lld parameters, %d threads\n",
              what, train::run_device(config).str().c_str(), a.forward_dtype.c_str(), static_cast<long long>(config.global_batch_size),
              static_cast<long long>(seq_len), a.puzzle_emb_len(), a.hidden_size, a.H_cycles, a.L_cycles, a.H_layers,
              a.L_layers, a.halt_max_steps, static_cast<long long>(parameters), at::get_num_threads());
}

}  // namespace

void register_bench(CLI::App& app) {
  auto* bench = app.add_subcommand("bench", "Benchmarks that print figures (record them in docs/PERF.md)");
  bench->require_subcommand(1);
  auto* model = bench->add_subcommand(
      "model", "Tokens/s of one ACT segment, forward (eval) and forward+backward (train, target-Q forward included)");
  struct Opts {
    std::vector<std::string> overrides;
    std::string device = "auto";
    int iters = 5, warmup = 2;
    double peak_tflops = 0;
    ProfileOpts profile;
  };
  auto o = std::make_shared<Opts>();
  model->add_option("overrides", o->overrides,
                    "model config as key=value (defaults: the reference's Sudoku config, batch_size 768, "
                    "forward_dtype bfloat16), e.g. batch_size=32 forward_dtype=float32");
  model->add_option("--device", o->device, "auto (cuda where there is a GPU, else cpu), cpu or cuda[:N]")->capture_default_str();
  model->add_option("--iters", o->iters, "timed segments (median reported)")->capture_default_str()->check(positive());
  model->add_option("--warmup", o->warmup, "untimed segments first")->capture_default_str()->check(non_negative());
  model->add_option("--peak-tflops", o->peak_tflops, "MFU against this rate instead of a measured matmul")
      ->check(CLI::PositiveNumber);
  add_profile_options(model, o->profile, "pairs of segments (a forward, then a forward+backward)");
  model->callback([o] {
    BenchModelOptions b;
    bool puzzle_emb_ndim_given = false;
    for (const auto& kv : o->overrides) {
      auto eq = kv.find('=');
      if (eq == std::string::npos) throw hrm::ConfigError("expected key=value, got '" + kv + "'");
      std::string key = kv.substr(0, eq);
      if (key.rfind("arch.", 0) == 0) key = key.substr(5);
      b.config.set(key, kv.substr(eq + 1));
      puzzle_emb_ndim_given |= key == "puzzle_emb_ndim";
    }
    // As configs/arch/hrm_v1.yaml (puzzle_emb_ndim: ${.hidden_size}) and so hrm train: one puzzle token.
    if (!puzzle_emb_ndim_given) b.config.puzzle_emb_ndim = b.config.hidden_size;
    b.config.validate();
    b.device = train::parse_device(o->device);
    b.iters = o->iters;
    b.warmup = o->warmup;
    b.profile = o->profile.request();
    auto r = bench_model(b);
    const Peak peak = peak_rate(o->peak_tflops, b.device, b.config.forward_dtype);
    std::printf("bench model: device %s, forward_dtype %s, batch %d, seq_len %d (+%d puzzle), hidden %d, "
                "H/L cycles %d/%d, layers %d/%d, %lld parameters, %d threads\n",
                b.device.str().c_str(), b.config.forward_dtype.c_str(), b.config.batch_size, b.config.seq_len,
                b.config.puzzle_emb_len(), b.config.hidden_size, b.config.H_cycles, b.config.L_cycles,
                b.config.H_layers, b.config.L_layers, static_cast<long long>(r.parameters), at::get_num_threads());
    std::printf("  forward (eval segment)          %10.2f ms  %12.0f tokens/s\n", r.forward_ms, r.forward_tokens_per_s);
    print_efficiency("segment", r.forward_flops, r.forward_ms, peak);
    print_memory(b.device, r.forward_peak_bytes);
    std::printf("  forward+backward (train segment) %9.2f ms  %12.0f tokens/s\n", r.train_ms, r.train_tokens_per_s);
    print_efficiency("segment", r.train_flops, r.train_ms, peak);
    print_memory(b.device, r.train_peak_bytes);
    print_profile(r.profile, o->profile.path);
  });

  auto* train = bench->add_subcommand(
      "train", "Steps/s and tokens/s of whole training steps (batch to device, ACT forward with target-Q, backward, "
               "sign-SGD, AdamATan2) on a dataset, with the config of `hrm train`");
  auto t = std::make_shared<DatasetBenchOpts>();
  add_dataset_bench_options(train, *t, "timed steps (median reported)", "training steps");
  train->callback([t] {
    const train::PretrainConfig config = load_config(*t);
    const train::StepTimes r = train::bench_train(config, t->warmup, t->iters, t->profile.request());
    print_config_line("train", config, r.seq_len, r.parameters);
    std::printf("  ");
    print_step_times("steps", "step", r, config, t->peak_tflops);
    print_profile(r.profile, t->profile.path);
  });

  auto* eval = bench->add_subcommand(
      "eval", "ms per evaluation ACT step (one segment at the global batch size; halt_max_steps per test batch) on a "
              "dataset's test split, with the config of `hrm train`; fresh weights");
  auto e = std::make_shared<DatasetBenchOpts>();
  add_dataset_bench_options(eval, *e, "timed test batches (each halt_max_steps ACT steps; median step reported)",
                            "ACT steps");
  eval->callback([e] {
    const train::PretrainConfig config = load_config(*e);
    const train::BenchEvalResult r = train::bench_eval(config, e->warmup, e->iters, e->profile.request());
    print_config_line("eval", config, r.act_steps.seq_len, r.act_steps.parameters);
    std::printf("  %lld batches, ", static_cast<long long>(r.batches));
    print_step_times("ACT steps", "ACT step", r.act_steps, config, e->peak_tflops);
    print_profile(r.act_steps.profile, e->profile.path);
  });
}

}  // namespace hrm::cli
