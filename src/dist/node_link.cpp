// node_link.cpp: see node_link.h. Keys under "hrm_launch/" (the ranks' are under "hrm/"):
// failure/<node> = "<exit code> <why>", done/<node>.
#include "dist/node_link.h"

#include <torch/csrc/distributed/c10d/TCPStore.hpp>

#include <thread>
#include <vector>

#include "core/check.h"
#include "dist/comm_impl.h"

namespace hrm::dist {

namespace {

const std::string kPrefix = "hrm_launch/";

std::string key(const char* what, int node) { return kPrefix + what + "/" + std::to_string(node); }

void set_string(c10d::Store& store, const std::string& k, const std::string& v) {
  store.set(k, std::vector<uint8_t>(v.begin(), v.end()));
}

std::string get_string(c10d::Store& store, const std::string& k) {
  const std::vector<uint8_t> v = store.get(k);
  return std::string(v.begin(), v.end());
}

}  // namespace

struct NodeLink::Impl {
  c10::intrusive_ptr<c10d::TCPStore> store;
  int node_rank = 0, nnodes = 1;
  std::string where;  // addr:port, for messages
};

NodeLink::NodeLink(const std::string& addr, int port, int node_rank, int nnodes, std::chrono::milliseconds timeout)
    : impl_(std::make_unique<Impl>()) {
  impl_->node_rank = node_rank;
  impl_->nnodes = nnodes;
  impl_->where = addr + ":" + std::to_string(port);
  c10d::TCPStoreOptions so;
  so.port = static_cast<uint16_t>(port);
  so.isServer = node_rank == 0;
  so.waitWorkers = false;  // the ranks join as they start; nobody waits for a count
  so.timeout = timeout;
  try {
    impl_->store = c10::make_intrusive<c10d::TCPStore>(addr, so);
  } catch (const std::exception& e) {
    HRM_THROW(Error, "hrm launch: node ", node_rank, ": ",
              node_rank == 0 ? "cannot serve the launchers' store at " : "cannot reach node 0's launcher at ", impl_->where,
              " (", message_of(e), "); ",
              node_rank == 0 ? "is --master-port free on this machine, and --master-addr one of its addresses?"
                             : "did node 0's hrm launch start, and do --master-addr/--master-port reach it?");
  }
}

NodeLink::~NodeLink() = default;

void NodeLink::post_failure(int exit_code, const std::string& why) {
  try {
    set_string(*impl_->store, key("failure", impl_->node_rank), std::to_string(exit_code) + " " + why);
  } catch (const std::exception&) {  // node 0's launcher gone: the others learn it from the lost link
  }
}

std::optional<NodeLink::Failure> NodeLink::failure_elsewhere() {
  try {
    for (int n = 0; n < impl_->nnodes; ++n) {
      if (n == impl_->node_rank || !impl_->store->check({key("failure", n)})) continue;
      const std::string post = get_string(*impl_->store, key("failure", n));
      const size_t space = post.find(' ');
      Failure f;
      f.exit_code = std::atoi(post.substr(0, space).c_str());
      if (f.exit_code == 0) f.exit_code = 1;
      f.why = space == std::string::npos ? post : post.substr(space + 1);
      return f;
    }
    return std::nullopt;
  } catch (const std::exception& e) {
    return Failure{1, "lost the link to node 0's launcher at " + impl_->where + " (" + message_of(e) +
                          "): it ended or its machine is gone, and its ranks with it"};
  }
}

void NodeLink::post_done() {
  try {
    set_string(*impl_->store, key("done", impl_->node_rank), "");
  } catch (const std::exception&) {  // node 0's launcher gone: nobody waits for this post
  }
}

void NodeLink::wait_for_other_nodes(std::chrono::milliseconds patience) {
  if (impl_->node_rank != 0) return;
  const auto until = std::chrono::steady_clock::now() + patience;
  for (int n = 1; n < impl_->nnodes; ++n)
    while (!impl_->store->check({key("done", n)}) && !impl_->store->check({key("failure", n)}) &&
           std::chrono::steady_clock::now() < until)
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
}

}  // namespace hrm::dist
