// cmd_launch.cpp: `hrm launch [--nproc-per-node N] [--nnodes M --node-rank K --master-addr A
// --master-port P] train|eval ...`: a data-parallel run without torchrun (and without Python); see
// dist/launcher.h. On the libtorch 1.13 fallback (no data parallel) it is hidden from --help and says so.
#include <CLI/CLI.hpp>
#include <torch/cuda.h>
#include <torch/version.h>

#include <unistd.h>

#include <algorithm>
#include <climits>
#include <cstdlib>
#include <iostream>
#include <memory>

#include "cli/commands.h"
#include "core/check.h"
#include "core/cores.h"
#include "dist/comm.h"
#include "dist/launcher.h"

namespace hrm::cli {
namespace {

std::string this_binary() {
  char buf[PATH_MAX];
  const ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) HRM_THROW(Error, "hrm launch: cannot find this program's path (/proc/self/exe)");
  return std::string(buf, static_cast<size_t>(n));
}

struct LaunchArgs {
  dist::LaunchPlan plan;
  int nproc_per_node = 0;  // 0: one per GPU
};

// hrm's own options given before `launch` (hrm --threads 4 launch ...) hold for the ranks too.
std::vector<std::string> rank_command(const CLI::App& app, std::vector<std::string> command) {
  if (command.empty()) return command;
  const auto has = [&](const std::string& opt) {
    return std::any_of(command.begin() + 1, command.end(), [&](const std::string& s) { return s == opt || s.rfind(opt + "=", 0) == 0; });
  };
  if (const CLI::Option* t = app.get_option("--threads"); t->count() > 0 && !has("--threads"))
    command.insert(command.begin() + 1, {"--threads", t->as<std::string>()});
  if (app.get_option("--unfused")->count() > 0 && !has("--unfused")) command.insert(command.begin() + 1, "--unfused");
  return command;
}

void run(LaunchArgs& a, const std::vector<std::string>& command) {
  dist::LaunchPlan plan = a.plan;
  plan.command = command;
  plan.nproc_per_node = a.nproc_per_node;
  if (plan.nproc_per_node == 0) {
    plan.nproc_per_node = static_cast<int>(torch::cuda::device_count());
    if (plan.nproc_per_node == 0)
      HRM_THROW(ConfigError, "hrm launch: this machine has no GPU: give --nproc-per-node N for N CPU processes (Gloo)");
  }
  // Each rank's share of the cores, unless the user chose (OMP_NUM_THREADS, or --threads in the command).
  const bool threads_given = std::getenv("OMP_NUM_THREADS") != nullptr ||
                             std::any_of(command.begin(), command.end(), [](const std::string& s) { return s.rfind("--threads", 0) == 0; });
  if (!threads_given)
    plan.omp_threads = std::to_string(std::max(1u, usable_cores() / static_cast<unsigned>(plan.nproc_per_node)));
  dist::check_launch_plan(plan);
  const int code = dist::run_launch(plan, this_binary(), std::cerr);
  if (code != 0) std::exit(code);  // the ranks have printed their errors
}

}  // namespace

void drop_dashes_before_launched_command(const CLI::App& app, std::vector<std::string>& args) {
  const auto found = app.get_subcommands([](const CLI::App* c) { return c->get_name() == "launch"; });
  if (found.empty()) return;  // not built (the libtorch 1.13 fallback)
  size_t i = 0;
  // Past the options of `a` at i, and the value of each one that takes one (--master-addr A).
  auto skip_options = [&](const CLI::App& a) {
    while (i < args.size() && args[i].size() > 1 && args[i][0] == '-' && args[i] != "--") {
      const size_t eq = args[i].find('=');
      const CLI::Option* o = a.get_option_no_throw(args[i].substr(0, eq));
      ++i;
      if (o && o->get_type_size_max() > 0 && eq == std::string::npos) ++i;
    }
  };
  skip_options(app);  // hrm --threads 4 launch ...
  if (i >= args.size() || args[i] != "launch") return;
  ++i;
  skip_options(*found[0]);
  if (i < args.size() && args[i] == "--") args.erase(args.begin() + static_cast<std::ptrdiff_t>(i));
}

void register_launch(CLI::App& app) {
  if (!dist::comm_available()) {
    // The libtorch 1.13 fallback: no data parallel to launch. Not in --help, but asked for by name
    // it says why rather than CLI11's "A subcommand is required".
    auto* cmd = app.add_subcommand("launch", "")->group("");
    cmd->prefix_command();
    cmd->fallthrough(false);
    cmd->callback([] {
      HRM_THROW(ConfigError, "hrm launch is not built into this hrm: it was built on libtorch ", TORCH_VERSION,
                " (the Debian fallback), which has no data parallel; build on the torch wheel (scripts/setup.sh, torch>=2)");
    });
    return;
  }
  auto a = std::make_shared<LaunchArgs>();
  auto* cmd = app.add_subcommand(
      "launch",
      "Run a data-parallel hrm train or hrm eval without torchrun: starts this machine's ranks with RANK, LOCAL_RANK, "
      "WORLD_SIZE, MASTER_ADDR and MASTER_PORT set, passes Ctrl-C and SIGTERM on, and stops the others when a rank "
      "fails. E.g.: hrm launch --nproc-per-node 4 train device=cuda data_path=... (docs/DISTRIBUTED.md)");
  cmd->add_option("--nproc-per-node", a->nproc_per_node, "ranks on this machine (default: one per GPU)")->check(CLI::PositiveNumber);
  cmd->add_option("--nnodes", a->plan.nnodes, "machines in the run (default 1)")->check(CLI::PositiveNumber);
  cmd->add_option("--node-rank", a->plan.node_rank, "this machine's index, 0..nnodes-1 (default 0)")->check(CLI::NonNegativeNumber);
  cmd->add_option("--master-addr", a->plan.master_addr,
                  "address of node 0, where the rendezvous is hosted (by rank 0 on one machine, by node 0's launcher on "
                  "several; default 127.0.0.1: give node 0's address with --nnodes > 1)");
  cmd->add_option("--master-port", a->plan.master_port, "its TCP port (default: a free one; required with --nnodes > 1)")
      ->check(CLI::Range(1, 65535));
  cmd->add_option("--stop-grace", a->plan.stop_grace_seconds,
                  "seconds the ranks get to stop, after one failed or after Ctrl-C/SIGTERM (hrm train: finish the step "
                  "and save its state), before SIGKILL, in [0, 1e6] (default 30)");
  cmd->add_option("--node-timeout", a->plan.node_timeout_seconds,
                  "several machines: seconds before a launcher that is not heard from counts as failed and the ranks "
                  "stop (node 0's hears the others beat 5 times a second; theirs, node 0's store answer), in [1, 1e6] "
                  "(default 30)");
  // What follows the options is the command every rank runs, hrm's own options (--threads) included:
  // nothing of it falls through to hrm's parser. ("train" stays with it because main.cpp's
  // require_subcommand(1) allows one subcommand: launch.)
  cmd->prefix_command();
  cmd->fallthrough(false);
  cmd->callback([a, cmd, &app] { run(*a, rank_command(app, cmd->remaining())); });
}

}  // namespace hrm::cli
