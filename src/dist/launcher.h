// launcher.h: `hrm launch`, torchrun's job for hrm without Python: start this machine's ranks of a
// data-parallel `hrm train` or `hrm eval` as child processes with the variables torchrun sets
// (RANK, LOCAL_RANK, WORLD_SIZE, LOCAL_WORLD_SIZE, MASTER_ADDR, MASTER_PORT), pass signals on, and
// when one rank fails stop the others (as torchrun does), so that no rank waits dist_timeout in a
// collective for a peer that is gone; on several machines, every machine's (dist/node_link.h). Only
// processes: the ranks meet and communicate through c10d (dist/comm.h). No elastic restarts.
#pragma once

#include <ostream>
#include <string>
#include <vector>

namespace hrm::dist {

struct LaunchPlan {
  int nproc_per_node = 1;
  int nnodes = 1, node_rank = 0;
  std::string master_addr;      // empty: 127.0.0.1 (one node only)
  int master_port = 0;         // 0: a free port of this machine (one node only)
  std::string omp_threads;     // OMP_NUM_THREADS for each rank; empty: leave the environment as it is
  std::vector<std::string> command;  // the hrm subcommand and its arguments: train ... or eval ...
  double stop_grace_seconds = 30;    // after SIGTERM to the other ranks, SIGKILL for those still running
  double link_timeout_seconds = 1800;  // several machines: how long node k > 0 waits for node 0's launcher
  double node_timeout_seconds = 30;    // several machines: a launcher unheard this long counts as failed
};

// Checks the plan (ConfigError naming the option); on one node, fills in 127.0.0.1 and a free port
// where master_addr and master_port are not given.
void check_launch_plan(LaunchPlan& plan);

// The environment of local rank `local_rank`: `base` (NAME=VALUE entries) with the launcher's
// variables set over it.
std::vector<std::string> rank_environment(const LaunchPlan& plan, int local_rank, const std::vector<std::string>& base);

// Starts the ranks of this node from `binary` (this hrm) and waits for all of them. Returns 0 when
// every rank succeeded; else the first failure's exit code (128 + N for a rank killed by signal N),
// after stopping the ranks still running; on several machines, also when another machine's rank
// failed (its code) or node 0's launcher is lost (1). SIGINT and SIGTERM to the launcher are passed
// to every rank. Says what it starts and which rank failed how on `log`.
int run_launch(const LaunchPlan& plan, const std::string& binary, std::ostream& log);

}  // namespace hrm::dist
