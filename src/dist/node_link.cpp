// node_link.cpp: see node_link.h. Keys under "hrm_launch/" (the ranks' are under "hrm/"):
// failure/<node> = "<exit code> <why>", done/<node>, beat/<node> (a counter that node k > 0 adds to),
// plan/0 (node 0's launch plan), claim/<node> (how many launchers came as that node).
// Every store call of a node k > 0 runs on a watcher thread: a request to a machine that vanished
// without closing the connection can block for long, and the launcher's own loop must go on
// passing signals, reaping and killing its ranks meanwhile.
#include "dist/node_link.h"

#include <torch/csrc/distributed/c10d/TCPStore.hpp>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <sstream>
#include <thread>
#include <vector>

#include "core/check.h"
#include "dist/comm_impl.h"

namespace hrm::dist {

namespace {

// Not a std::string: a watcher left detached at exit may still build keys after static destructors.
constexpr const char* kPrefix = "hrm_launch/";
constexpr auto kPollEvery = std::chrono::milliseconds(200);

std::string key(const char* what, int node) { return std::string(kPrefix) + what + "/" + std::to_string(node); }

std::string seconds_text(std::chrono::milliseconds d) {
  std::ostringstream o;
  o << static_cast<double>(d.count()) / 1000 << " s";
  return o.str();
}

void set_string(c10d::Store& store, const std::string& k, const std::string& v) {
  store.set(k, std::vector<uint8_t>(v.begin(), v.end()));
}

}  // namespace

// Shared with the watcher thread, which may outlive the NodeLink if a store call hangs at exit.
struct LinkState {
  c10::intrusive_ptr<c10d::TCPStore> store;
  int node_rank = 0, nnodes = 1;
  std::string where;  // addr:port, for messages
  std::chrono::milliseconds silence{0};
  // Since when the watcher's store calls of this round are under way (nullopt between rounds): a
  // call older than `silence` on node k > 0 is node 0 not answering. (Not the age of the last round:
  // a launcher that was itself stalled would blame node 0.)
  std::optional<std::chrono::steady_clock::time_point> calls_since;
  struct Heard {
    int64_t beats = 0;
    std::chrono::steady_clock::time_point at;
    bool silent = false;  // node 0: judged gone (wait_for_other_nodes does not wait for it)
  };
  std::vector<Heard> heard;  // node 0: each node's beat count, and when it last changed
  std::mutex m;
  std::condition_variable wake;
  std::vector<std::pair<std::string, std::string>> posts;  // to set, in order
  std::optional<NodeLink::Failure> seen;                   // the first failure elsewhere (or the lost link)
  bool stopping = false, stopped = false;
};

struct NodeLink::Impl {
  std::shared_ptr<LinkState> s;
  std::thread watcher;
};

namespace {

// Sends the posts, then looks for other nodes' failures, every kPollEvery until told to stop (after a
// last round of posts).
void watch(const std::shared_ptr<LinkState>& s) {
  while (true) {
    std::vector<std::pair<std::string, std::string>> posts;
    bool stopping = false;
    {
      std::unique_lock<std::mutex> lock(s->m);
      s->wake.wait_for(lock, kPollEvery, [&] { return s->stopping || !s->posts.empty(); });
      posts.swap(s->posts);
      stopping = s->stopping;
      s->calls_since = std::chrono::steady_clock::now();
    }
    try {
      for (const auto& [k, v] : posts) set_string(*s->store, k, v);
      if (stopping) break;
      if (s->node_rank > 0) s->store->add(key("beat", s->node_rank), 1);
      const auto now = std::chrono::steady_clock::now();
      for (int n = 1; n < s->nnodes && s->node_rank == 0; ++n) {
        // Node 0 serves the store: these calls answer at once.
        const int64_t beats = s->store->add(key("beat", n), 0);
        LinkState::Heard& h = s->heard[n];
        if (beats != h.beats) {
          h.beats = beats;
          h.at = now;
        } else if (beats > 0 && !h.silent && now - h.at > s->silence && !s->store->check({key("done", n)}) &&
                   !s->store->check({key("failure", n)})) {
          const std::string why = "node " + std::to_string(n) + "'s launcher has not been heard from for " +
                                  seconds_text(s->silence) + " (--node-timeout): it ended or hangs, or its machine is gone";
          // Posted as node 0's failure too: the other nodes stop their ranks as well.
          set_string(*s->store, key("failure", 0), "1 " + why);
          std::lock_guard<std::mutex> lock(s->m);
          h.silent = true;
          if (!s->seen) s->seen = NodeLink::Failure{1, why};
        }
      }
      bool known = false;
      {
        std::lock_guard<std::mutex> lock(s->m);
        known = s->seen.has_value();
      }
      for (int n = 0; n < s->nnodes && !known; ++n) {
        if (n == s->node_rank || !s->store->check({key("failure", n)})) continue;
        const std::string post = get_string(*s->store, key("failure", n));
        const size_t space = post.find(' ');
        NodeLink::Failure f;
        f.exit_code = std::atoi(post.substr(0, space).c_str());
        if (f.exit_code == 0) f.exit_code = 1;
        f.why = space == std::string::npos ? post : post.substr(space + 1);
        std::lock_guard<std::mutex> lock(s->m);
        s->seen = f;
        known = true;
      }
      std::lock_guard<std::mutex> lock(s->m);
      s->calls_since.reset();
    } catch (const std::exception& e) {
      std::lock_guard<std::mutex> lock(s->m);
      s->calls_since.reset();
      if (!s->seen)
        s->seen = NodeLink::Failure{1, "lost the link to node 0's launcher at " + s->where + " (" + message_of(e) +
                                           "): it ended or its machine is gone, and its ranks with it"};
      if (s->stopping) break;
    }
  }
  std::lock_guard<std::mutex> lock(s->m);
  s->stopped = true;
  s->wake.notify_all();
}

}  // namespace

NodeLink::NodeLink(const std::string& addr, int port, int node_rank, int nnodes, const std::string& plan,
                   std::chrono::milliseconds timeout, std::chrono::milliseconds silence)
    : impl_(std::make_unique<Impl>()) {
  auto s = std::make_shared<LinkState>();
  s->node_rank = node_rank;
  s->nnodes = nnodes;
  s->where = addr + ":" + std::to_string(port);
  s->silence = silence;
  s->heard.resize(static_cast<size_t>(nnodes));
  c10d::TCPStoreOptions so;
  so.port = static_cast<uint16_t>(port);
  so.isServer = node_rank == 0;
  so.waitWorkers = false;  // the ranks join as they start; nobody waits for a count
  so.timeout = timeout;
  try {
    s->store = c10::make_intrusive<c10d::TCPStore>(addr, so);
  } catch (const std::exception& e) {
    HRM_THROW(Error, "hrm launch: node ", node_rank, ": ",
              node_rank == 0 ? "cannot serve the launchers' store at " : "cannot reach node 0's launcher at ", s->where,
              " (", message_of(e), "); ",
              node_rank == 0 ? "is --master-port free on this machine, and --master-addr one of its addresses?"
                             : "did node 0's hrm launch start, and do --master-addr/--master-port reach it?");
  }
  std::string wrong;  // this node's plan against node 0's
  try {
    if (node_rank == 0) {
      set_string(*s->store, std::string(kPrefix) + "plan/0", plan);
    } else {
      const std::vector<uint8_t> theirs = s->store->get(std::string(kPrefix) + "plan/0");
      const std::string node0(theirs.begin(), theirs.end());
      if (node0 != plan)
        wrong = "node " + std::to_string(node_rank) + " was started with " + plan + ", node 0 with " + node0 +
                ": every node needs the same --nnodes and --nproc-per-node";
      else if (s->store->add(key("claim", node_rank), 1) > 1)
        wrong = "two launchers were started with --node-rank " + std::to_string(node_rank);
      if (!wrong.empty()) set_string(*s->store, key("failure", node_rank), "2 " + wrong);
      // The first beat before any rank starts: node 0 judges a node's silence only once it has heard it.
      else s->store->add(key("beat", node_rank), 1);
    }
  } catch (const std::exception& e) {
    HRM_THROW(Error, "hrm launch: node ", node_rank, ": node 0's launcher at ", s->where, " does not answer (",
              message_of(e), "); did node 0's hrm launch start, and do --master-addr/--master-port reach it?");
  }
  if (!wrong.empty()) HRM_THROW(ConfigError, "hrm launch: ", wrong);
  impl_->s = s;
  impl_->watcher = std::thread(watch, s);
}

NodeLink::~NodeLink() {
  const std::shared_ptr<LinkState>& s = impl_->s;
  std::unique_lock<std::mutex> lock(s->m);
  s->stopping = true;
  s->wake.notify_all();
  // The last posts go out, unless the store hangs: then the thread is left to the process's exit.
  if (s->wake.wait_for(lock, std::chrono::seconds(5), [&] { return s->stopped; })) {
    lock.unlock();
    impl_->watcher.join();
  } else {
    lock.unlock();
    impl_->watcher.detach();
  }
}

void NodeLink::post_failure(int exit_code, const std::string& why) {
  std::lock_guard<std::mutex> lock(impl_->s->m);
  impl_->s->posts.emplace_back(key("failure", impl_->s->node_rank), std::to_string(exit_code) + " " + why);
  impl_->s->wake.notify_all();
}

std::optional<NodeLink::Failure> NodeLink::failure_elsewhere() {
  LinkState& s = *impl_->s;
  std::lock_guard<std::mutex> lock(s.m);
  // Node k > 0: a store call that does not return (node 0's machine gone without closing the
  // connection, or its launcher frozen) holds the watcher up; the store's own timeout is the link's
  // (--nnodes: 30 minutes), far too long to leave the ranks waiting.
  if (!s.seen && s.node_rank > 0 && s.calls_since && std::chrono::steady_clock::now() - *s.calls_since > s.silence)
    s.seen = Failure{1, "no answer from node 0's launcher at " + s.where + " for " + seconds_text(s.silence) +
                            " (--node-timeout): it hangs, or its machine is gone"};
  return s.seen;
}

void NodeLink::post_done() {
  std::lock_guard<std::mutex> lock(impl_->s->m);
  impl_->s->posts.emplace_back(key("done", impl_->s->node_rank), "");
  impl_->s->wake.notify_all();
}

void NodeLink::wait_for_other_nodes(const std::function<bool()>& give_up, std::ostream& log) {
  const std::shared_ptr<LinkState>& s = impl_->s;
  if (s->node_rank != 0) return;
  // Node 0 serves the store itself: these calls cannot hang on a lost machine. A node still beating
  // is still ending its ranks (at most --stop-grace once told to stop); one that is not is judged
  // gone by the watcher after --node-timeout.
  const auto say_at = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  bool said = false;
  auto judged_gone = [&](int n) {
    std::lock_guard<std::mutex> lock(s->m);
    return s->heard[n].silent;
  };
  for (int n = 1; n < s->nnodes; ++n) {
    if (s->store->add(key("beat", n), 0) == 0) continue;  // never came: no rank of its uses the store
    while (!judged_gone(n) && !s->store->check({key("done", n)}) && !s->store->check({key("failure", n)})) {
      if (give_up()) return;
      if (!said && std::chrono::steady_clock::now() >= say_at) {
        log << "hrm launch: waiting for node " << n << "'s ranks to end (they use the store this launcher hosts; "
            << "Ctrl-C stops waiting)" << std::endl;
        said = true;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }
}

}  // namespace hrm::dist
