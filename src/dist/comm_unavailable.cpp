// comm_unavailable.cpp: dist::Comm and dist::NodeLink in a build on libtorch < 2 (CMakeLists.txt
// compiles this file instead of comm.cpp, grad_reducer.cpp, node_link.cpp and the two backends).
// libtorch 1.13's c10d has no Backend-based ProcessGroupGloo, no Backend::shutdown and no installed
// headers for the Reducer, so data parallel is not built there; the constructors say so, and as no
// Comm or NodeLink can exist, their methods are never reached (nor is `hrm launch`, not registered).
#include <torch/version.h>

#include "core/check.h"
#include "dist/comm.h"
#include "dist/node_link.h"

namespace hrm::dist {

namespace {

[[noreturn]] void unavailable() {
  HRM_THROW(ConfigError, "data parallel (WORLD_SIZE > 1) is not built into this hrm: it was built on libtorch ",
            TORCH_VERSION, " (the Debian fallback), whose c10d lacks what it needs; build on the torch wheel "
            "(scripts/setup.sh, torch>=2) for data-parallel training, or run one process (unset WORLD_SIZE)");
}

}  // namespace

bool comm_available() { return false; }

std::string data_parallel_backends() { return "not built (libtorch " TORCH_VERSION " < 2: the Debian fallback)"; }

void post_startup_failure(const std::string&, std::chrono::milliseconds, std::ostream&) {}  // no rendezvous here

struct Comm::Impl {};

Comm::Comm(const LaunchEnv&, torch::Device, std::chrono::milliseconds, const std::string&) { unavailable(); }
Comm::~Comm() = default;
int Comm::rank() const { unavailable(); }
int Comm::world_size() const { unavailable(); }
int Comm::local_rank() const { unavailable(); }
torch::Device Comm::device() const { unavailable(); }
const std::string& Comm::backend_name() const { unavailable(); }
void Comm::all_reduce_sum(torch::Tensor&, const char*) { unavailable(); }
void Comm::all_reduce_sum_bucketed(const std::vector<torch::Tensor>&, int64_t, const char*) { unavailable(); }
void Comm::reduce_sum_to_root(torch::Tensor&, const char*) { unavailable(); }
void Comm::broadcast_from_root(torch::Tensor&, const char*) { unavailable(); }
torch::Tensor Comm::all_gather_cat(const torch::Tensor&, const char*) { unavailable(); }
void Comm::barrier(const char*) { unavailable(); }
void Comm::attach_gradient_reducer(const std::vector<torch::Tensor>&, int64_t) { unavailable(); }
bool Comm::has_gradient_reducer() const { unavailable(); }
void Comm::run_backward(const std::function<void()>&) { unavailable(); }
std::string Comm::broadcast_string(const std::string&, const char*) { unavailable(); }

struct NodeLink::Impl {};
NodeLink::NodeLink(const std::string&, int, int, int, const std::string&, std::chrono::milliseconds,
                   std::chrono::milliseconds) {
  unavailable();
}
NodeLink::~NodeLink() = default;
void NodeLink::post_failure(int, const std::string&) { unavailable(); }
std::optional<NodeLink::Failure> NodeLink::failure_elsewhere() { unavailable(); }
void NodeLink::post_done() { unavailable(); }
void NodeLink::wait_for_other_nodes(const std::function<bool()>&, std::ostream&) { unavailable(); }

}  // namespace hrm::dist
