// launcher.cpp: see launcher.h.
#include "dist/launcher.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <memory>
#include <optional>
#include <thread>

#include "core/check.h"
#include "dist/node_link.h"

extern char** environ;

namespace hrm::dist {

namespace {

// SIGINT and SIGTERM received by the launcher, not yet passed on.
volatile std::sig_atomic_t pending_int = 0, pending_term = 0;
void on_signal(int sig) { (sig == SIGINT ? pending_int : pending_term) = 1; }
bool take_pending(int sig) {
  volatile std::sig_atomic_t& p = sig == SIGINT ? pending_int : pending_term;
  if (!p) return false;
  p = 0;
  return true;
}

// While alive: SIGINT and SIGTERM are noted for the ranks, and SIGCHLD has its default action, so
// that waitpid sees the ranks end (an inherited SIG_IGN would reap them unseen). SIGINT and SIGTERM
// are unblocked too: a mask inherited with them blocked (some wrappers and job runners leave it so)
// would keep the launcher, and the ranks after it, from ever hearing them.
struct SignalsOfTheLauncher {
  struct sigaction old_int {}, old_term {}, old_chld {};
  sigset_t old_mask{};
  SignalsOfTheLauncher() {
    pending_int = pending_term = 0;
    struct sigaction sa {};
    sa.sa_handler = on_signal;
    sa.sa_flags = SA_RESTART;  // a write to a pipe in progress goes on (std::cerr would go bad on EINTR)
    sigemptyset(&sa.sa_mask);
    ::sigaction(SIGINT, &sa, &old_int);
    ::sigaction(SIGTERM, &sa, &old_term);
    struct sigaction dfl {};
    dfl.sa_handler = SIG_DFL;
    sigemptyset(&dfl.sa_mask);
    ::sigaction(SIGCHLD, &dfl, &old_chld);
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    ::sigprocmask(SIG_UNBLOCK, &stop, &old_mask);
  }
  ~SignalsOfTheLauncher() {
    ::sigprocmask(SIG_SETMASK, &old_mask, nullptr);
    ::sigaction(SIGINT, &old_int, nullptr);
    ::sigaction(SIGTERM, &old_term, nullptr);
    ::sigaction(SIGCHLD, &old_chld, nullptr);
  }
  SignalsOfTheLauncher(const SignalsOfTheLauncher&) = delete;
  SignalsOfTheLauncher& operator=(const SignalsOfTheLauncher&) = delete;
};

// While alive: SIGINT and SIGTERM blocked (pending ones are delivered at the end).
struct BlockedStopSignals {
  sigset_t previous{};
  BlockedStopSignals() {
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    ::sigprocmask(SIG_BLOCK, &stop, &previous);
  }
  ~BlockedStopSignals() { ::sigprocmask(SIG_SETMASK, &previous, nullptr); }
  BlockedStopSignals(const BlockedStopSignals&) = delete;
  BlockedStopSignals& operator=(const BlockedStopSignals&) = delete;
};

// A port free on this machine a moment ago (the kernel's choice), for rank 0's TCPStore.
int pick_free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) HRM_THROW(Error, "hrm launch: cannot open a socket to find a free port: ", std::strerror(errno));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_ANY);
  socklen_t len = sizeof a;
  const bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
                  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0;
  ::close(fd);
  if (!ok) HRM_THROW(Error, "hrm launch: no free port found; give --master-port");
  return ntohs(a.sin_port);
}

std::string how_it_ended(int status) {
  if (WIFEXITED(status)) return "exited with code " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return "was killed by signal " + std::to_string(WTERMSIG(status)) + " (" + strsignal(WTERMSIG(status)) + ")";
  return "ended";
}

// hrm train stopped by SIGINT/SIGTERM after saving (every rank after the same step), not killed by one.
bool stopped_as_told(int status) { return WIFEXITED(status) && WEXITSTATUS(status) == kInterruptedExit; }

int exit_code_of(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return 1;
}

struct Rank {
  int rank = 0;
  pid_t pid = -1;
  bool running = false;
  int status = 0;  // waitpid's, once ended
};

void signal_running(std::vector<Rank>& ranks, int sig) {
  for (const Rank& r : ranks)
    if (r.running) ::kill(r.pid, sig);
}

}  // namespace

void check_launch_plan(LaunchPlan& plan) {
  if (plan.nproc_per_node < 1) HRM_THROW(ConfigError, "hrm launch: --nproc-per-node must be >= 1, got ", plan.nproc_per_node);
  if (plan.nnodes < 1) HRM_THROW(ConfigError, "hrm launch: --nnodes must be >= 1, got ", plan.nnodes);
  if (plan.node_rank < 0 || plan.node_rank >= plan.nnodes)
    HRM_THROW(ConfigError, "hrm launch: --node-rank must be in [0, ", plan.nnodes - 1, "] for --nnodes ", plan.nnodes, ", got ",
              plan.node_rank);
  if (plan.master_port < 0 || plan.master_port > 65535)
    HRM_THROW(ConfigError, "hrm launch: --master-port must be a TCP port (1-65535), got ", plan.master_port);
  if (plan.nnodes > 1 && (plan.master_port == 0 || plan.master_addr.empty()))
    HRM_THROW(ConfigError, "hrm launch: with --nnodes ", plan.nnodes,
              " every node needs the same --master-addr (node 0's address, reachable from every node) and --master-port");
  if (!(plan.stop_grace_seconds >= 0 && plan.stop_grace_seconds <= 1e6))  // NaN too
    HRM_THROW(ConfigError, "hrm launch: --stop-grace must be in [0, 1e6] seconds, got ", plan.stop_grace_seconds);
  // Below 1 s the 0.2 s heartbeat rounds themselves would look like silence.
  if (!(plan.node_timeout_seconds >= 1 && plan.node_timeout_seconds <= 1e6))
    HRM_THROW(ConfigError, "hrm launch: --node-timeout must be in [1, 1e6] seconds, got ", plan.node_timeout_seconds);
  if (plan.command.empty() || (plan.command[0] != "train" && plan.command[0] != "eval"))
    HRM_THROW(ConfigError, "hrm launch: expected the command to run on every rank, train ... or eval ..., after the launch options",
              plan.command.empty() ? std::string() : ", got '" + plan.command[0] + "'",
              " (hrm's own options such as --threads go after train or eval)");
  if (plan.master_addr.empty()) plan.master_addr = "127.0.0.1";
  if (plan.master_port == 0) plan.master_port = pick_free_port();
}

std::vector<std::string> rank_environment(const LaunchPlan& plan, int local_rank, const std::vector<std::string>& base) {
  std::vector<std::pair<std::string, std::string>> set{
      {"RANK", std::to_string(plan.node_rank * plan.nproc_per_node + local_rank)},
      {"LOCAL_RANK", std::to_string(local_rank)},
      {"WORLD_SIZE", std::to_string(plan.nnodes * plan.nproc_per_node)},
      {"LOCAL_WORLD_SIZE", std::to_string(plan.nproc_per_node)},
      {"MASTER_ADDR", plan.master_addr},
      {"MASTER_PORT", std::to_string(plan.master_port)}};
  if (!plan.omp_threads.empty()) set.emplace_back("OMP_NUM_THREADS", plan.omp_threads);
  // Several machines: node 0's launcher hosts the store (dist/node_link.h), as torchrun's agent does.
  if (plan.nnodes > 1) set.emplace_back("TORCHELASTIC_USE_AGENT_STORE", "True");
  // Set here, or dropped: a torchrun agent's store is not there (rank 0 hosts its own).
  const auto ours = [&](const std::string& name) {
    return name == "TORCHELASTIC_USE_AGENT_STORE" ||
           std::any_of(set.begin(), set.end(), [&](const auto& kv) { return kv.first == name; });
  };
  std::vector<std::string> env;
  for (const std::string& kv : base)
    if (!ours(kv.substr(0, kv.find('=')))) env.push_back(kv);
  for (const auto& [k, v] : set) env.push_back(k + "=" + v);
  return env;
}

int run_launch(const LaunchPlan& plan, const std::string& binary, std::ostream& log) {
  std::vector<std::string> base;
  for (char** e = environ; *e; ++e) base.emplace_back(*e);
  const int world = plan.nnodes * plan.nproc_per_node, first = plan.node_rank * plan.nproc_per_node;
  log << "hrm launch: ranks " << first << "-" << first + plan.nproc_per_node - 1 << " of " << world << " on this machine"
      << " (node " << plan.node_rank << " of " << plan.nnodes << "), rendezvous at " << plan.master_addr << ":"
      << plan.master_port << (plan.omp_threads.empty() ? std::string() : ", OMP_NUM_THREADS=" + plan.omp_threads) << ": hrm";
  for (const auto& a : plan.command) log << " " << a;
  log << std::endl;

  // Everything the children need is built before fork: only async-signal-safe calls between fork and exec.
  std::vector<std::string> args{binary};
  args.insert(args.end(), plan.command.begin(), plan.command.end());
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::vector<std::vector<std::string>> envs;
  for (int l = 0; l < plan.nproc_per_node; ++l) envs.push_back(rank_environment(plan, l, base));
  const std::string exec_failed = "hrm launch: a rank cannot execute " + binary + "\n";

  // Several machines: in touch with the other launchers before any rank starts (node k > 0 waits here
  // for node 0's launcher), so that a failure on any machine stops every machine's ranks.
  std::unique_ptr<NodeLink> link;
  if (plan.nnodes > 1)
    link = std::make_unique<NodeLink>(plan.master_addr, plan.master_port, plan.node_rank, plan.nnodes,
                                      "--nnodes " + std::to_string(plan.nnodes) + " --nproc-per-node " +
                                          std::to_string(plan.nproc_per_node),
                                      std::chrono::milliseconds(static_cast<int64_t>(plan.link_timeout_seconds * 1000)),
                                      std::chrono::milliseconds(static_cast<int64_t>(plan.node_timeout_seconds * 1000)));

  const SignalsOfTheLauncher signals;
  const pid_t launcher = ::getpid();
  std::vector<Rank> ranks;
  {
    // SIGINT and SIGTERM wait, blocked, until every rank exists and has its default handlers: one
    // passed on earlier would meet the launcher's handler, inherited by fork, and be lost.
    const BlockedStopSignals blocked;
    for (int l = 0; l < plan.nproc_per_node; ++l) {
      std::vector<char*> envp;
      for (auto& v : envs[static_cast<size_t>(l)]) envp.push_back(v.data());
      envp.push_back(nullptr);
      const pid_t pid = ::fork();
      if (pid == 0) {
        // A process group of its own: a Ctrl-C at the terminal reaches the launcher alone, which
        // passes it on once (hrm train takes a second one as "stop at once").
        ::setpgid(0, 0);
        ::signal(SIGINT, SIG_DFL);
        ::signal(SIGTERM, SIG_DFL);
        // A launcher killed outright (SIGKILL, the OOM killer) takes its ranks along, rather than
        // leaving them in the next collective; one that died before this line has a new parent already.
        ::prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (::getppid() != launcher) ::_exit(128 + SIGTERM);
#ifdef CLOSE_RANGE_CLOEXEC
        ::close_range(3, ~0U, CLOSE_RANGE_CLOEXEC);  // not the launcher's sockets (its store's, on node 0)
#endif
        ::sigprocmask(SIG_SETMASK, &blocked.previous, nullptr);  // a signal passed on meanwhile ends it now
        ::execve(argv[0], argv.data(), envp.data());
        [[maybe_unused]] const ssize_t n = ::write(STDERR_FILENO, exec_failed.data(), exec_failed.size());
        ::_exit(127);
      }
      if (pid < 0) {
        const int error = errno;
        signal_running(ranks, SIGKILL);
        for (const Rank& r : ranks) ::waitpid(r.pid, nullptr, 0);
        HRM_THROW(Error, "hrm launch: cannot start rank ", first + l, ": ", std::strerror(error));
      }
      ranks.push_back({first + l, pid, true});
    }
  }

  const auto grace = std::chrono::milliseconds(static_cast<int64_t>(plan.stop_grace_seconds * 1000));
  int result = 0, interrupted = 0;
  auto kill_at = std::chrono::steady_clock::time_point::max();  // SIGKILL for the ranks still running then
  bool stopping = false;
  bool posted = false;  // a failure of this node, for the other launchers (or theirs acted on)
  for (size_t left = ranks.size(); left > 0;) {
    for (const int sig : {SIGINT, SIGTERM}) {
      if (!take_pending(sig)) continue;
      interrupted = sig;
      signal_running(ranks, sig);
      kill_at = std::min(kill_at, std::chrono::steady_clock::now() + grace);
    }
    // Every rank that ended since the last look: when several fail together, the cause is likelier
    // the one killed by a signal (the others lost their peer), else the lowest rank.
    std::vector<std::pair<Rank*, int>> ended;
    while (left > 0) {
      int status = 0;
      const pid_t pid = ::waitpid(-1, &status, WNOHANG);
      if (pid == 0) break;
      if (pid < 0) {  // ECHILD with ranks left: they were reaped unseen
        if (errno == EINTR) continue;
        log << "hrm launch: lost track of the ranks (waitpid: " << std::strerror(errno) << ")" << std::endl;
        for (Rank& r : ranks) r.running = false;
        return result != 0 ? result : 1;
      }
      for (Rank& r : ranks)
        if (r.pid == pid && r.running) {
          r.running = false;
          r.status = status;
          --left;
          ended.emplace_back(&r, status);
        }
    }
    const std::pair<Rank*, int>* cause = nullptr;
    for (const auto& e : ended) {
      if (exit_code_of(e.second) == 0) continue;
      if (!cause || (WIFSIGNALED(e.second) && !WIFSIGNALED(cause->second)) ||
          (WIFSIGNALED(e.second) == WIFSIGNALED(cause->second) && e.first->rank < cause->first->rank))
        cause = &e;
    }
    if (cause && result == 0) result = exit_code_of(cause->second);
    if (cause && !stopping && !interrupted && stopped_as_told(cause->second)) {
      // hrm train signalled on this node alone (a scheduler's SIGTERM, say): the ranks agreed on the
      // step, rank 0 saved the state, the others are ending too. SIGTERM would be a second signal.
      log << "hrm launch: rank " << cause->first->rank << " (pid " << cause->first->pid
          << ") exited 130, interrupted by a signal to a rank; "
          << (left > 0 ? "the others stop at the same place" : "every rank stopped") << std::endl;
      stopping = true;
      kill_at = std::chrono::steady_clock::now() + grace;
    }
    if (link && cause && !posted && !stopped_as_told(cause->second)) {
      link->post_failure(exit_code_of(cause->second), "rank " + std::to_string(cause->first->rank) + " (node " +
                                                          std::to_string(plan.node_rank) + ") " + how_it_ended(cause->second));
      posted = true;
    }
    if (link && !stopping && !interrupted && left > 0) {  // (ranks all ended well: nothing left to stop)
      if (const std::optional<NodeLink::Failure> f = link->failure_elsewhere()) {
        log << "hrm launch: " << f->why << "; stopping this machine's ranks (SIGTERM, then SIGKILL after "
            << plan.stop_grace_seconds << " s)" << std::endl;
        stopping = posted = true;
        result = f->exit_code;
        signal_running(ranks, SIGTERM);
        kill_at = std::chrono::steady_clock::now() + grace;
      }
    }
    if (cause && !stopping && !interrupted) {  // not a rank stopping as told
      log << "hrm launch: rank " << cause->first->rank << " (pid " << cause->first->pid << ") " << how_it_ended(cause->second);
      if (left > 0) log << "; stopping the other ranks (SIGTERM, then SIGKILL after " << plan.stop_grace_seconds << " s)";
      log << std::endl;
      stopping = true;
      signal_running(ranks, SIGTERM);
      kill_at = std::chrono::steady_clock::now() + grace;
    }
    if (left == 0) break;
    if (std::chrono::steady_clock::now() >= kill_at) {
      std::string still;
      for (const Rank& r : ranks)
        if (r.running) still += (still.empty() ? "" : ", ") + std::to_string(r.rank);
      log << "hrm launch: rank" << (left > 1 ? "s " : " ") << still << " still running " << plan.stop_grace_seconds
          << " s (--stop-grace) after being told to stop: SIGKILL" << std::endl;
      signal_running(ranks, SIGKILL);
      kill_at = std::chrono::steady_clock::time_point::max();
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  if (interrupted) {  // hrm train: the ranks agreed on a step and saved the state there
    // Stopped as told: exit 130 (the state saved), 0 (done meanwhile), or the signal itself before
    // hrm had its handler. Anything else (the SIGKILL after --stop-grace, an error) is named.
    // The exit code is then the first such rank's: 130 says the state was saved (RUNS.md's requeue).
    std::string other;
    for (const Rank& r : ranks)
      if (!stopped_as_told(r.status) && exit_code_of(r.status) != 0 && !(WIFSIGNALED(r.status) && WTERMSIG(r.status) == interrupted)) {
        if (other.empty()) result = exit_code_of(r.status);
        other += "; rank " + std::to_string(r.rank) + " " + how_it_ended(r.status);
      }
    log << "hrm launch: " << strsignal(interrupted) << " passed to every rank; "
        << (other.empty() ? "all stopped" : "not all stopped as told" + other) << std::endl;
  }
  if (link) {
    link->post_done();
    // Node 0: its store serves until the others are done with it (their ranks may end a little
    // later); Ctrl-C or SIGTERM stops waiting.
    link->wait_for_other_nodes([] { return take_pending(SIGINT) || take_pending(SIGTERM); }, log);
  }
  return result;
}

}  // namespace hrm::dist
