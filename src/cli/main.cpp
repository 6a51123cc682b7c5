// main.cpp: the hrm binary. Subcommand dispatch, thread set-up and the one place errors are printed.
#include <ATen/Parallel.h>
#include <CLI/CLI.hpp>
#include <torch/cuda.h>
#include <torch/version.h>

#include <dlfcn.h>
#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "cli/validators.h"
#include "core/check.h"
#include "core/cores.h"
#include "dist/comm.h"
#include "model/fused_ops.h"
#include "model/layers.h"
#include "train/eval_graph.h"

namespace {

// What this binary was built on and can use here: a bug report's first lines.
std::string version_text() {
  // A CUDA-only part of hrm, and why this build lacks it where it does.
  const auto built = [](bool yes, const char* why_not) -> std::string {
    if (yes) return "built";
    if (HRM_TORCH_FALLBACK) return "not built (the libtorch 1.13 fallback is CPU-only)";
    return std::string("not built (") + why_not + ")";
  };
  std::ostringstream s;
  s << "hrm " << HRM_VERSION << "\n"
    << "libtorch " << TORCH_VERSION << (HRM_TORCH_FALLBACK ? " (the Debian fallback: docs/BUILD.md)" : "") << "\n"
    << "CUDA devices: " << static_cast<int>(torch::cuda::device_count()) << "\n"
    << "data parallel: " << hrm::dist::data_parallel_backends() << "\n"
    << "CUDA graphs (cuda_graphs=true): "
    << built(hrm::train::EvalStepGraph::available(), "no CUDA toolkit at build time") << "\n"
    << "fused CUDA kernels (SwiGLU, RoPE): "
    << built(hrm::fused_cuda_kernels_built(), "no CUDA toolkit at build time, or -DHRM_WITH_CUDA_KERNELS=OFF");
  return s.str();
}

// Where the BLAS is OpenBLAS (Debian's libtorch, docs/BUILD.md; the wheel uses MKL and has none), its
// own thread pool competes with torch's intra-op threads, which already parallelize around each call:
// measured on 2 cores, a training step of the demo's model took 288 ms with OpenBLAS threads, 99 ms
// without. OPENBLAS_NUM_THREADS, when set, is left to the user.
void single_threaded_openblas() {
  if (std::getenv("OPENBLAS_NUM_THREADS")) return;
  using SetThreads = void (*)(int);
  if (auto set = reinterpret_cast<SetThreads>(::dlsym(RTLD_DEFAULT, "openblas_set_num_threads"))) set(1);
}

// glibc's malloc returns freed memory at the top of its heap to the kernel once more than twice its
// (adaptive) mmap threshold is free, and torch frees every activation of a step before the next one
// asks for the same sizes again: each step then pays page faults and the kernel's zeroing of pages
// it just handed back. Measured (docs/PERF.md, "Memory the allocator keeps"): the demo model's
// training benchmark (55 steps) made 469,000 minor faults, 67,000 with this; the 27M model's segment
// benchmark 820,000 and 222,000. Blocks of 64 MiB and more still come from mmap and go back at free
// (a dataset's arrays), so the cost is up to 256 MiB of freed heap kept. A user's own malloc settings
// (GLIBC_TUNABLES, MALLOC_*_ variables) win.
void keep_freed_memory() {
#if defined(__GLIBC__)
  const char* tunables = std::getenv("GLIBC_TUNABLES");
  if ((tunables && std::strstr(tunables, "glibc.malloc.")) || std::getenv("MALLOC_TRIM_THRESHOLD_") ||
      std::getenv("MALLOC_MMAP_THRESHOLD_") || std::getenv("MALLOC_TOP_PAD_"))
    return;
  // Setting either threshold turns off glibc's adaptive one: both are set, or blocks above 128 KiB would
  // all be mmapped (measured: 2.1 million faults).
  mallopt(M_MMAP_THRESHOLD, 64 << 20);
  mallopt(M_TRIM_THRESHOLD, 256 << 20);
#endif
}

}  // namespace

int main(int argc, char** argv) {
  keep_freed_memory();
  CLI::App app{"hrm: the Hierarchical Reasoning Model (arXiv 2506.21734) in C++ on libtorch"};
  app.require_subcommand(1);  // one: `hrm launch ... train ...` leaves "train" to launch (cmd_launch.cpp)
  // hrm's own options (--threads, --unfused) after the subcommand too: `hrm eval ... --threads 1`.
  app.fallthrough();
  app.set_version_flag("--version", version_text, "Print the version, the libtorch it runs on, CUDA devices, data-parallel backends");
  int threads = -1;  // not given
  app.add_option("--threads", threads,
                 "CPU threads for torch, 0: all cores this process may use (its CPU affinity: taskset, SLURM) (default: OMP_NUM_THREADS where set, else all those cores)")
      ->check(hrm::cli::thread_count());
  bool unfused = false;
  app.add_flag("--unfused", unfused,
               "the reference's ops one by one, to measure what hrm's shortcuts bring (all bit-identical): fused kernels "
               "(rms_norm; SwiGLU and RoPE where no gradient flows) and the CPU's reuse of weight casts");
  app.parse_complete_callback([&] {
    hrm::set_fused_kernels(!unfused);
    std::string warning;
    const unsigned n = threads > 0    ? static_cast<unsigned>(threads)
                       : threads == 0 ? hrm::usable_cores()
                                      : hrm::cli::default_thread_count(std::getenv("OMP_NUM_THREADS"), warning);
    if (!warning.empty()) std::cerr << "warning: " << warning << "\n";
    at::set_num_threads(static_cast<int>(n));
    single_threaded_openblas();
  });

  hrm::cli::register_verify_fixture(app);
  hrm::cli::register_bench(app);
  hrm::cli::register_data(app);
  hrm::cli::register_train(app);
  hrm::cli::register_eval(app);
  hrm::cli::register_arc_score(app);
  hrm::cli::register_solve(app);
  hrm::cli::register_report(app);
  hrm::cli::register_launch(app);

  // A rank of a data-parallel train or eval that stops before it joins the others tells them why.
  const auto stop = [&app](const std::string& why) {
    if (app.got_subcommand("train") || app.got_subcommand("eval"))
      hrm::dist::post_startup_failure(why.empty() ? "an error without a message" : why, std::chrono::seconds(120), std::cerr);
    return 2;
  };
  try {
    std::vector<std::string> args(argv + 1, argv + argc);
    hrm::cli::drop_dashes_before_launched_command(app, args);
    std::reverse(args.begin(), args.end());  // CLI11 takes the arguments last first
    app.name(argv[0]);                       // as parse(argc, argv) would, for the usage line
    app.parse(args);
  } catch (const CLI::ParseError& e) {
    // --help and --version exit 0; a usage error exits 2 like every other error (not CLI11's 100+ codes).
    return app.exit(e) == 0 ? 0 : stop(e.what());
  } catch (const hrm::Interrupted& e) {
    std::cerr << std::string(e.what()) + "\n";  // one write: ranks sharing a terminal stop together
    return hrm::kInterruptedExit;
  } catch (const hrm::Error& e) {
    std::cerr << "error: " << e.what() << "\n";
    return stop(e.what());
  } catch (const c10::Error& e) {
    std::cerr << "error (libtorch): " << e.what_without_backtrace() << "\n";
    return stop(e.what_without_backtrace());
  } catch (const std::exception& e) {  // e.g. std::filesystem_error for a path that cannot be created
    std::cerr << "error: " << e.what() << "\n";
    return stop(e.what());
  }
  return 0;
}
