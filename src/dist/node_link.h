// node_link.h: the launchers of a multi-machine `hrm launch` keep in touch, as torchrun's agents do,
// through a c10d TCPStore that node 0's launcher hosts at MASTER_ADDR:MASTER_PORT. The ranks meet in
// the same store (they get TORCHELASTIC_USE_AGENT_STORE=True, as under torchrun: dist/comm.h). A
// launcher whose rank fails posts it there; the others stop their ranks at once instead of leaving
// them until their next collective notices the lost peer (NCCL: perhaps only after dist_timeout), or
// in the rendezvous waiting for a rank that never comes. No c10d types here (launcher.cpp has none).
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <ostream>
#include <string>

namespace hrm::dist {

class NodeLink {
 public:
  // Node 0 binds `port` and serves; the others connect, retrying for up to `timeout` (node 0's launcher
  // may start later). Throws Error naming the address when that fails. Each launcher k > 0 beats in
  // the store several times a second; one unheard for `silence` counts as a failure: node 0's
  // launcher unheard by node k (a machine gone without closing its connections, or frozen), node k's
  // launcher unheard by node 0 once it has beaten (node 0's ranks would otherwise wait in their
  // collectives for the lost peer: NCCL perhaps until dist_timeout).
  // `plan` (e.g. "--nnodes 2 --nproc-per-node 8") must be node 0's on every node, and each node rank
  // is taken once: otherwise ranks would share a RANK and wait in the rendezvous until dist_timeout.
  // A node that finds either wrong posts it as its failure (node 0 stops its ranks) and throws
  // ConfigError naming both plans, or the node rank.
  NodeLink(const std::string& addr, int port, int node_rank, int nnodes, const std::string& plan,
           std::chrono::milliseconds timeout, std::chrono::milliseconds silence);
  ~NodeLink();
  NodeLink(const NodeLink&) = delete;
  NodeLink& operator=(const NodeLink&) = delete;

  // This node's ranks failed: `exit_code` for every launcher, `why` names the rank and how it ended.
  void post_failure(int exit_code, const std::string& why);
  struct Failure {
    int exit_code = 1;
    std::string why;
  };
  // A failure another node posted, or the link lost (node 0's launcher gone, and its ranks with it),
  // or a launcher unheard for `silence`; nullopt while all is well. Posts of this node are not returned.
  std::optional<Failure> failure_elsewhere();
  // This node's ranks have all ended (as told, or as posted).
  void post_done();
  // Node 0: waits until every other node has posted done or a failure, or is judged gone (unheard
  // for `silence`), so that the store outlives their last use of it; says so on `log` after 10 s,
  // and stops waiting once `give_up` (asked every 50 ms) is true. Other nodes: returns at once.
  void wait_for_other_nodes(const std::function<bool()>& give_up, std::ostream& log);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace hrm::dist
