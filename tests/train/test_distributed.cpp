// test_distributed.cpp: data-parallel training (src/dist, src/train/distributed.h) on c10d's Gloo over
// loopback: the launch environment; the collectives with two ranks as two threads of this process;
// and, through the built `hrm` binary as two processes: equal weights with one process at the same
// global batch, a SIGKILLed rank stopping the other with a clear error, resuming with another world size.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <fstream>
#include <map>
#include <random>
#include <sstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "cli/cli_run.h"
#include "core/check.h"
#include "dist/comm.h"
#include "dist/launcher.h"
#include "io/torch_file.h"
#include "train/tiny_task.h"

namespace hrm::train {
namespace {

namespace fs = std::filesystem;
using testing::TempDir;

// Binds `port` on loopback (0: the kernel's choice) and returns the port bound, or -1 if taken.
int try_bind(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) throw std::runtime_error("free_port: no socket");
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(static_cast<uint16_t>(port));
  socklen_t len = sizeof a;
  const bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
                  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0;
  ::close(fd);
  return ok ? ntohs(a.sin_port) : -1;
}

// A port that was free a moment ago, for rank 0's TCPStore. Drawn below the kernel's ephemeral range
// (ip_local_port_range): the outgoing connections of tests running beside this one (Gloo opens
// several) take their ports from that range, and one could take ours before the TCPStore binds it.
int free_port() {
  int low = 32768;
  std::ifstream("/proc/sys/net/ipv4/ip_local_port_range") >> low;
  if (low > 11000) {
    std::mt19937 pick(static_cast<unsigned>(::getpid()) ^
                      static_cast<unsigned>(std::chrono::steady_clock::now().time_since_epoch().count()));
    std::uniform_int_distribution<int> below(10000, low - 1);
    for (int i = 0; i < 100; ++i)
      if (const int p = try_bind(below(pick)); p > 0) return p;
  }
  const int p = try_bind(0);
  if (p < 0) throw std::runtime_error("free_port: cannot bind a loopback port");
  return p;
}

std::map<std::string, const char*> env_map(const std::map<std::string, std::string>& m) {
  std::map<std::string, const char*> r;
  for (const auto& [k, v] : m) r[k] = v.c_str();
  return r;
}

// ---- the launch environment ------------------------------------------------------------------

std::optional<dist::LaunchEnv> parse(const std::map<std::string, std::string>& vars) {
  return dist::launch_env_from([&](const char* name) -> const char* {
    auto it = vars.find(name);
    return it == vars.end() ? nullptr : it->second.c_str();
  });
}

std::string config_error(const std::map<std::string, std::string>& vars) {
  try {
    parse(vars);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "no error";
}

TEST(DistributedLaunchEnv, ReadsTorchrunVariablesAndNamesTheBadOne) {
  EXPECT_FALSE(parse({}).has_value());
  const auto e = parse({{"RANK", "1"}, {"WORLD_SIZE", "2"}, {"LOCAL_RANK", "1"}, {"MASTER_ADDR", "10.0.0.1"},
                        {"MASTER_PORT", "29500"}});
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->rank, 1);
  EXPECT_EQ(e->world_size, 2);
  EXPECT_EQ(e->local_rank, 1);
  EXPECT_EQ(e->master_addr, "10.0.0.1");
  EXPECT_EQ(e->master_port, 29500);
  // LOCAL_RANK defaults to RANK (one node).
  EXPECT_EQ(parse({{"RANK", "1"}, {"WORLD_SIZE", "2"}, {"MASTER_ADDR", "h"}, {"MASTER_PORT", "1"}})->local_rank, 1);

  EXPECT_NE(config_error({{"RANK", "0"}}).find("WORLD_SIZE is not"), std::string::npos);
  EXPECT_NE(config_error({{"WORLD_SIZE", "2"}, {"MASTER_ADDR", "h"}, {"MASTER_PORT", "1"}}).find("RANK is not set"),
            std::string::npos);
  EXPECT_NE(config_error({{"WORLD_SIZE", "2"}, {"RANK", "2"}, {"MASTER_ADDR", "h"}, {"MASTER_PORT", "1"}})
                .find("RANK='2' is not an integer in [0, 1]"),
            std::string::npos);
  EXPECT_NE(config_error({{"WORLD_SIZE", "two"}, {"RANK", "0"}}).find("WORLD_SIZE='two'"), std::string::npos);
  EXPECT_NE(config_error({{"WORLD_SIZE", "2"}, {"RANK", "0"}, {"MASTER_PORT", "1"}}).find("MASTER_ADDR is not set"),
            std::string::npos);
  EXPECT_NE(config_error({{"WORLD_SIZE", "2"}, {"RANK", "0"}, {"MASTER_ADDR", "h"}, {"MASTER_PORT", "70000"}})
                .find("MASTER_PORT='70000'"),
            std::string::npos);
}

// ---- whole runs of the hrm binary --------------------------------------------------------------

// Starts `hrm --threads 1 ARGS` with the data-parallel environment of `rank` (output in `log`).
pid_t spawn_rank(const std::vector<std::string>& args, int rank, int world, int port, const std::string& log,
                 const std::string& cwd = "") {
  return hrm::testing::spawn_hrm(args, log,
                                 {"RANK=" + std::to_string(rank), "LOCAL_RANK=" + std::to_string(rank),
                                  "WORLD_SIZE=" + std::to_string(world), "MASTER_ADDR=127.0.0.1",
                                  "MASTER_PORT=" + std::to_string(port)},
                                 cwd);
}

std::string read_file(const fs::path& p) {
  std::ifstream f(p);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

// Waits for `pid` up to `limit`; returns its exit code, -1 for a signal, -2 if still running (then killed).
int wait_for(pid_t pid, std::chrono::seconds limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  int status = 0;
  while (true) {
    const pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid) return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    if (std::chrono::steady_clock::now() > deadline) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      return -2;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

// hrm launch's children: torchrun's variables over the launcher's environment, the user's
// OMP_NUM_THREADS kept when the plan has none; a torchrun agent's store variable dropped on one
// machine, set on several (node 0's launcher hosts the store, dist/node_link.h).
TEST(DistributedLaunch, RankEnvironmentSetsTheTorchrunVariablesOverTheLaunchersOwn) {
  dist::LaunchPlan plan;
  plan.nnodes = 2;
  plan.node_rank = 1;
  plan.nproc_per_node = 4;
  plan.master_addr = "10.0.0.1";
  plan.master_port = 1234;
  const std::vector<std::string> base{"PATH=/bin", "RANK=7", "TORCHELASTIC_USE_AGENT_STORE=True", "OMP_NUM_THREADS=3"};
  std::vector<std::string> env = dist::rank_environment(plan, 2, base);
  std::sort(env.begin(), env.end());
  EXPECT_EQ(env, (std::vector<std::string>{"LOCAL_RANK=2", "LOCAL_WORLD_SIZE=4", "MASTER_ADDR=10.0.0.1", "MASTER_PORT=1234",
                                           "OMP_NUM_THREADS=3", "PATH=/bin", "RANK=6", "TORCHELASTIC_USE_AGENT_STORE=True",
                                           "WORLD_SIZE=8"}));
  plan.omp_threads = "1";
  env = dist::rank_environment(plan, 0, base);
  EXPECT_EQ(std::count(env.begin(), env.end(), "OMP_NUM_THREADS=1"), 1);
  EXPECT_EQ(std::count(env.begin(), env.end(), "OMP_NUM_THREADS=3"), 0);
  EXPECT_EQ(std::count(env.begin(), env.end(), "RANK=4"), 1);
  EXPECT_EQ(std::count(env.begin(), env.end(), "TORCHELASTIC_USE_AGENT_STORE=True"), 1);
  plan.nnodes = 1;
  plan.node_rank = 0;
  env = dist::rank_environment(plan, 0, base);
  EXPECT_EQ(std::count_if(env.begin(), env.end(), [](const std::string& kv) { return kv.rfind("TORCHELASTIC", 0) == 0; }), 0);
}

#if HRM_TORCH_FALLBACK
// A build on libtorch < 2 has no data parallel (dist/comm_unavailable.cpp): a launch with WORLD_SIZE=2
// stops at once with an error that says why and what to do, instead of a c10d failure or a hang.
TEST(DistributedFallback, LaunchOfTwoRanksStopsSayingDataParallelIsNotBuilt) {
  EXPECT_FALSE(dist::comm_available());
  TempDir dir("distributed_fallback");
  testing::write_tiny_dataset(dir.path / "data");
  std::vector<std::string> args{"train"};
  for (const auto& o : testing::tiny_overrides(dir.path / "data", dir.path / "run")) args.push_back(o);
  const pid_t p = spawn_rank(args, 0, 2, free_port(), (dir.path / "rank0.log").string());
  const int code = wait_for(p, std::chrono::seconds(60));
  const std::string log = read_file(dir.path / "rank0.log");
  EXPECT_NE(code, 0) << log;
  EXPECT_NE(code, -2) << "still running after 60 s:\n" << log;
  EXPECT_NE(log.find("data parallel (WORLD_SIZE > 1) is not built into this hrm"), std::string::npos) << log;
  EXPECT_NE(log.find("unset WORLD_SIZE"), std::string::npos) << log;
}

TEST(DistributedFallback, LaunchIsNotInTheHelpAndSaysWhyWhenAskedFor) {
  const auto help = hrm::testing::run_hrm({"--help"});
  EXPECT_EQ(help.status, 0);
  EXPECT_EQ(help.output.find("launch"), std::string::npos) << help.output;
  const auto launch = hrm::testing::run_hrm({"launch", "--nproc-per-node", "2", "train"});
  EXPECT_EQ(launch.status, 2);
  EXPECT_NE(launch.output.find("hrm launch is not built into this hrm: it was built on libtorch "), std::string::npos)
      << launch.output;
}
#else  // the c10d build: Gloo collectives and whole data-parallel runs

// ---- the collectives: two ranks as two threads -----------------------------------------------

dist::LaunchEnv thread_rank_env(int rank, int port) {
  dist::LaunchEnv env;
  env.rank = rank;
  env.world_size = 2;
  env.local_rank = rank;
  env.master_addr = "127.0.0.1";
  env.master_port = port;
  return env;
}

// Ranks 0 and 1 as threads, each making a Comm on `devices[rank]` and all-reducing. Returns each
// rank's error ("" for none).
std::vector<std::string> two_thread_ranks(const std::vector<torch::Device>& devices, int port) {
  std::vector<std::string> errors(2);
  auto rank_main = [&](int rank) {
    try {
      dist::Comm comm(thread_rank_env(rank, port), devices[static_cast<size_t>(rank)], std::chrono::seconds(20));
      torch::Tensor a = torch::ones({2});
      comm.all_reduce_sum(a, "test");
      if (!torch::equal(a, torch::full({2}, 2.0f))) errors[static_cast<size_t>(rank)] = "wrong all-reduce";
    } catch (const std::exception& e) {
      errors[static_cast<size_t>(rank)] = e.what();
    }
  };
  std::thread t1(rank_main, 1);
  rank_main(0);
  t1.join();
  return errors;
}

// device=auto on a mix of machines with and without GPUs: NCCL and Gloo ranks could never meet (a hang
// until the timeout). Both ranks stop at once, naming who chose what. Rank 1 claims CUDA without
// touching it: the check comes before the process group, so this runs on a machine without a GPU.
TEST(DistributedGloo, RanksOnDifferentBackendsAllStopNamingWhoChoseWhat) {
  const auto errors = two_thread_ranks({torch::kCPU, torch::Device(torch::kCUDA, 1)}, free_port());
  for (int r = 0; r < 2; ++r) {
    const std::string& e = errors[static_cast<size_t>(r)];
    EXPECT_NE(e.find("rank " + std::to_string(r) + " of 2: the ranks disagree on the process group (rank 0 chose "
                     "gloo (CPU); rank 1 chose nccl (CUDA))"),
              std::string::npos)
        << e;
    EXPECT_NE(e.find("pass device=cpu to every rank"), std::string::npos) << e;
  }
}

TEST(DistributedGloo, CollectivesOfTwoRanksInThreads) {
  ASSERT_TRUE(dist::comm_available());
  const int port = free_port();
  std::vector<std::string> errors(2);
  std::vector<std::map<std::string, torch::Tensor>> got(2);
  auto rank_main = [&](int rank) {
    try {
      dist::Comm comm(thread_rank_env(rank, port), torch::kCPU, std::chrono::seconds(20));
      EXPECT_EQ(comm.backend_name(), "gloo");
      auto& g = got[static_cast<size_t>(rank)];
      torch::Tensor a = torch::full({3}, rank + 1.0f);
      comm.all_reduce_sum(a, "test");
      g["all_reduce"] = a;
      // bfloat16: reduced in float32 (Gloo has no bfloat16).
      torch::Tensor b = torch::full({2, 2}, rank + 0.5, torch::kBFloat16);
      comm.all_reduce_sum(b, "test");
      g["bf16"] = b;
      // Bucketed: three tensors, buckets of at most 16 bytes (so several collectives).
      std::vector<torch::Tensor> ts{torch::full({2}, 1.0f * rank), torch::full({3, 1}, 10.0f), torch::full({5}, 1.0f)};
      comm.all_reduce_sum_bucketed(ts, 16, "test");
      for (size_t i = 0; i < ts.size(); ++i) g["bucket" + std::to_string(i)] = ts[i];
      torch::Tensor r = torch::full({2}, 2.0 * (rank + 1), torch::kFloat64);
      comm.reduce_sum_to_root(r, "test");
      if (rank == 0) g["reduce"] = r;
      torch::Tensor hb = torch::full({3}, rank + 1.5, torch::kBFloat16);
      comm.broadcast_from_root(hb, "test");
      g["broadcast_bf16"] = hb;
      torch::Tensor c = torch::full({4}, static_cast<int64_t>(rank + 7));
      const auto version = c._version();
      comm.broadcast_from_root(c, "test");
      EXPECT_GT(c._version(), version) << "the collective's write counts as an in-place update (CastCache)";
      g["broadcast"] = c;
      g["gather"] = comm.all_gather_cat(torch::arange(2, torch::kInt32) + 10 * rank, "test");
      g["gather_bool"] = comm.all_gather_cat(torch::tensor({rank == 1}), "test");
      EXPECT_EQ(comm.broadcast_string(rank == 0 ? "from rank 0" : "other", "test"), "from rank 0");
      comm.barrier("test");
    } catch (const std::exception& e) {
      errors[static_cast<size_t>(rank)] = e.what();
    }
  };
  std::thread t1(rank_main, 1);
  rank_main(0);
  t1.join();
  ASSERT_EQ(errors[0], "");
  ASSERT_EQ(errors[1], "");
  for (int rank = 0; rank < 2; ++rank) {
    auto& g = got[static_cast<size_t>(rank)];
    EXPECT_TRUE(torch::equal(g["all_reduce"], torch::full({3}, 3.0f)));
    EXPECT_EQ(g["bf16"].scalar_type(), torch::kBFloat16);
    EXPECT_TRUE(torch::equal(g["bf16"], torch::full({2, 2}, 2.0, torch::kBFloat16)));
    EXPECT_TRUE(torch::equal(g["bucket0"], torch::full({2}, 1.0f)));
    EXPECT_TRUE(torch::equal(g["bucket1"], torch::full({3, 1}, 20.0f)));
    EXPECT_TRUE(torch::equal(g["bucket2"], torch::full({5}, 2.0f)));
    EXPECT_TRUE(torch::equal(g["broadcast"], torch::full({4}, int64_t{7})));
    EXPECT_TRUE(torch::equal(g["broadcast_bf16"], torch::full({3}, 1.5, torch::kBFloat16)));
    EXPECT_TRUE(torch::equal(g["gather"], torch::tensor({0, 1, 10, 11}, torch::kInt32)));
    EXPECT_TRUE(torch::equal(g["gather_bool"], torch::tensor({false, true})));
  }
  EXPECT_TRUE(torch::equal(got[0]["reduce"], torch::full({2}, 6.0, torch::kFloat64)));
}

// Runs `args` as `world` ranks; asserts every rank exits 0. Returns the logs.
std::vector<std::string> run_ranks(const std::vector<std::string>& args, int world, const fs::path& logs) {
  const int port = free_port();
  std::vector<pid_t> pids;
  for (int r = 0; r < world; ++r)
    pids.push_back(spawn_rank(args, r, world, port, (logs / ("rank" + std::to_string(r) + ".log")).string()));
  std::vector<int> codes;
  for (pid_t p : pids) codes.push_back(wait_for(p, std::chrono::seconds(120)));
  std::vector<std::string> out;
  for (int r = 0; r < world; ++r) {
    out.push_back(read_file(logs / ("rank" + std::to_string(r) + ".log")));
    EXPECT_EQ(codes[static_cast<size_t>(r)], 0) << "rank " << r << ":\n" << out.back();
  }
  return out;
}

std::vector<std::string> train_args(const fs::path& data, const fs::path& run, const std::vector<std::string>& extra) {
  std::vector<std::string> a{"train"};  // device=cpu (tiny_overrides): Gloo, as one GPU could not serve two ranks
  for (const auto& o : testing::tiny_overrides(data, run)) a.push_back(o);
  a.insert(a.end(), extra.begin(), extra.end());
  return a;
}

using testing::load_tensors;

using hrm::testing::last_checkpoint;

// Float32 summation order differs between one process and several (the all-reduce adds two partial
// sums); over the few steps of the tiny run this stays far below 1e-4 (measured: see DISTRIBUTED.md).
constexpr double kWeightTol = 1e-4;

void expect_same_weights(const fs::path& a, const fs::path& b) {
  ASSERT_FALSE(a.empty());
  ASSERT_FALSE(b.empty());
  EXPECT_EQ(a.filename(), b.filename());
  const auto wa = load_tensors(a), wb = load_tensors(b);
  ASSERT_EQ(wa.size(), wb.size());
  double worst = 0;
  for (const auto& [k, v] : wa) {
    ASSERT_TRUE(wb.count(k)) << k;
    const torch::Tensor d = (v.to(torch::kFloat64) - wb.at(k).to(torch::kFloat64)).abs();
    const double m = d.numel() ? d.max().item<double>() : 0.0;
    worst = std::max(worst, m);
    EXPECT_LE(m, kWeightTol) << k;
  }
  std::cout << "[ weights ] max |difference| " << worst << " (" << a << " vs " << b << ")\n";
}

class DistributedTrain : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir("distributed");
    testing::write_tiny_dataset(dir_->path / "data");
    // The reference: one process, the same global batch (16), 4 epochs in 2 train/eval iterations.
    const auto r = hrm::testing::run_hrm(train_args(data(), dir_->path / "single", {}));
    ASSERT_EQ(r.status, 0) << r.output;
  }
  static void TearDownTestSuite() {
    delete dir_;
    dir_ = nullptr;
  }
  static fs::path data() { return dir_->path / "data"; }
  static fs::path path(const std::string& n) { return dir_->path / n; }
  static TempDir* dir_;
};
TempDir* DistributedTrain::dir_ = nullptr;

TEST_F(DistributedTrain, TwoGlooRanksEndWithTheWeightsOfOneProcess) {
  const auto logs = run_ranks(train_args(data(), path("two"), {}), 2, dir_->path);
  expect_same_weights(last_checkpoint(path("single")), last_checkpoint(path("two")));
  // Only rank 0 prints.
  EXPECT_NE(logs[0].find("eval "), std::string::npos) << logs[0];
  EXPECT_EQ(logs[1].find("eval "), std::string::npos) << logs[1];
  // The metrics rank 0 logs are the global ones (reduced over the ranks' halves of every batch and
  // of the test set): line by line the keys and values of one process, within summation order.
  std::ifstream single(path("single") / "metrics.jsonl"), two(path("two") / "metrics.jsonl");
  std::string a, b;
  int lines = 0;
  while (std::getline(single, a)) {
    ASSERT_TRUE(std::getline(two, b)) << "two ranks logged fewer lines than one process";
    const auto ja = nlohmann::json::parse(a), jb = nlohmann::json::parse(b);
    ASSERT_EQ(ja.size(), jb.size()) << a << "\n" << b;
    for (const auto& [k, v] : ja.items()) {
      ASSERT_TRUE(jb.contains(k)) << k << " missing in\n" << b;
      EXPECT_NEAR(v.get<double>(), jb[k].get<double>(), 1e-4 * std::max(1.0, std::abs(v.get<double>()))) << k << " at line "
                                                                                                        << lines + 1;
    }
    ++lines;
  }
  EXPECT_FALSE(std::getline(two, b)) << "two ranks logged more lines: " << b;
  EXPECT_EQ(lines, 1 + 16 + 2);  // num_params, one per step (log_interval=1), one per evaluation
}

TEST_F(DistributedTrain, TwoGlooRanksWithTheBucketedAllReduceEndWithTheWeightsOfOneProcess) {
  run_ranks(train_args(data(), path("two_bucketed"), {"dist_reducer=False"}), 2, dir_->path);
  expect_same_weights(last_checkpoint(path("single")), last_checkpoint(path("two_bucketed")));
}

// save_state_minutes after every step: rank 0's clock decides, every rank joins the carry's gather
// after the same step (else they would wait in different collectives), and training is undisturbed.
TEST_F(DistributedTrain, StateSavesBetweenEvaluationsHappenOnEveryRankAfterTheSameStep) {
  const auto logs = run_ranks(train_args(data(), path("two_saving"), {"save_state_minutes=1e-9"}), 2, dir_->path);
  EXPECT_NE(logs[0].find("saved the training state at step 7 (save_state_minutes=1e-09)"), std::string::npos) << logs[0];
  expect_same_weights(last_checkpoint(path("single")), last_checkpoint(path("two_saving")));
}

TEST_F(DistributedTrain, RunOfTwoRanksResumedByOneProcessContinues) {
  // Two ranks train the first 2 epochs (one train/eval iteration); one process resumes for 2 more.
  run_ranks(train_args(data(), path("resumed"), {"epochs=2"}), 2, dir_->path);
  ASSERT_TRUE(fs::exists(path("resumed") / "train_state.pt"));
  const auto r = hrm::testing::run_hrm({"train", "resume=" + path("resumed").string(), "epochs=4"});
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("Resuming"), std::string::npos) << r.output;
  // lr_min_ratio=1 (constant after warm-up): the same schedule as the 4-epoch run of one process.
  expect_same_weights(last_checkpoint(path("single")), last_checkpoint(path("resumed")));
}

TEST_F(DistributedTrain, RunOfOneProcessResumedByTwoRanksContinues) {
  // One process trains the first 2 epochs; two ranks resume it (each takes its half of the carry).
  const auto first = hrm::testing::run_hrm(train_args(data(), path("grown"), {"epochs=2"}));
  ASSERT_EQ(first.status, 0) << first.output;
  const auto logs = run_ranks({"train", "resume=" + path("grown").string(), "epochs=4"}, 2, dir_->path);
  EXPECT_NE(logs[0].find("Resuming"), std::string::npos) << logs[0];
  expect_same_weights(last_checkpoint(path("single")), last_checkpoint(path("grown")));
}

// The metrics JSON line `hrm eval` prints last.
nlohmann::json printed_metrics(const std::string& output) {
  const size_t at = output.rfind("\n{");
  EXPECT_NE(at, std::string::npos) << output;
  return nlohmann::json::parse(output.substr(at + 1, output.find('\n', at + 1) - at - 1));
}

TEST_F(DistributedTrain, EvalOfTwoRanksGivesTheMetricsOfOneProcessAndSavesEveryRanksRows) {
  const fs::path ckpt = last_checkpoint(path("single"));
  ASSERT_FALSE(ckpt.empty());
  const std::string stem = ckpt.string() + "_all_preds.";
  const auto one = hrm::testing::run_hrm({"eval", "checkpoint=" + ckpt.string()});
  ASSERT_EQ(one.status, 0) << one.output;
  const auto one_rows = load_tensors(stem + "0");

  const auto logs = run_ranks({"eval", "checkpoint=" + ckpt.string(), "show=1"}, 2, dir_->path);
  // show=N draws from every rank's rows (the one test batch has 16).
  EXPECT_NE(logs[0].find(" of 16 test puzzles"), std::string::npos) << logs[0];
  const nlohmann::json a = printed_metrics(one.output), b = printed_metrics(logs[0]);
  ASSERT_EQ(a.size(), b.size()) << a << "\n" << b;
  for (const auto& [set, values] : a.items())
    for (const auto& [k, v] : values.items())
      EXPECT_NEAR(v.get<double>(), b[set][k].get<double>(), 1e-6) << set << "/" << k;
  EXPECT_EQ(logs[1].find("Starting evaluation"), std::string::npos) << "rank 1 printed:\n" << logs[1];
  // Each rank saved its half of the one test batch: together, the rows of one process.
  const auto r0 = load_tensors(stem + "0"), r1 = load_tensors(stem + "1");
  for (const auto& [k, v] : one_rows) {
    const torch::Tensor both = torch::cat({r0.at(k), r1.at(k)});
    EXPECT_TRUE(torch::allclose(both.to(torch::kFloat64), v.to(torch::kFloat64), 1e-5, 1e-5)) << k;
  }
  // Evaluated again by one process: rank 1's file would join the new .0 (readers take every rank's), so it goes.
  ASSERT_EQ(hrm::testing::run_hrm({"eval", "checkpoint=" + ckpt.string()}).status, 0);
  EXPECT_TRUE(fs::exists(stem + "0"));
  EXPECT_FALSE(fs::exists(stem + "1"));
}

TEST_F(DistributedTrain, RanksStartedWithDifferentConfigsAllStopNamingTheMismatch) {
  const int port = free_port();
  const pid_t p0 = spawn_rank(train_args(data(), path("mismatch"), {}), 0, 2, port, (dir_->path / "mm0.log").string());
  const pid_t p1 = spawn_rank(train_args(data(), path("mismatch"), {"lr=5e-4"}), 1, 2, port, (dir_->path / "mm1.log").string());
  const int c0 = wait_for(p0, std::chrono::seconds(60)), c1 = wait_for(p1, std::chrono::seconds(60));
  const std::string l0 = read_file(dir_->path / "mm0.log"), l1 = read_file(dir_->path / "mm1.log");
  EXPECT_NE(c0, 0) << l0;
  EXPECT_NE(c0, -2) << "rank 0 still ran after 60 s:\n" << l0;
  EXPECT_NE(c1, 0) << l1;
  EXPECT_NE(l0.find("1 other rank(s) were started with another configuration"), std::string::npos) << l0;
  EXPECT_NE(l1.find("rank 1 was started with another configuration than rank 0"), std::string::npos) << l1;
  EXPECT_NE(l1.find("lr: 0.0005"), std::string::npos) << l1;
}

// A rank that cannot train (here its own global_batch_size; say, on a cluster, its GPU missing) stops
// every rank at once with its reason, instead of leaving them in the rendezvous for dist_timeout (30 min).
TEST_F(DistributedTrain, RankThatCannotStartStopsEveryRankWithItsReason) {
  const int port = free_port();
  const pid_t p0 = spawn_rank(train_args(data(), path("unstarted"), {}), 0, 2, port, (dir_->path / "us0.log").string());
  const pid_t p1 = spawn_rank(train_args(data(), path("unstarted"), {"global_batch_size=15"}), 1, 2, port,
                              (dir_->path / "us1.log").string());
  const int c0 = wait_for(p0, std::chrono::seconds(60)), c1 = wait_for(p1, std::chrono::seconds(60));
  const std::string l0 = read_file(dir_->path / "us0.log"), l1 = read_file(dir_->path / "us1.log");
  EXPECT_EQ(c0, 2) << "rank 0 (-2: still waiting after 60 s):\n" << l0;
  EXPECT_EQ(c1, 2) << l1;
  const std::string why = "not every rank could start (rank 1: config key 'global_batch_size' = 15: must be a multiple of WORLD_SIZE = 2";
  EXPECT_NE(l0.find("rank 0 of 2: " + why), std::string::npos) << l0;
  EXPECT_NE(l1.find("rank 1 of 2: " + why), std::string::npos) << l1;
  EXPECT_FALSE(fs::exists(path("unstarted"))) << "a run folder was left by a run that never started";
}

// A rank that stops before it joins the others (here its machine lacks the dataset: the same relative
// data_path, another working directory) tells them why, instead of leaving them in the process group.
TEST_F(DistributedTrain, RankMissingTheDatasetStopsEveryRankNamingItsReason) {
  fs::create_directories(path("elsewhere"));
  const auto args = train_args("data", path("nodata"), {});
  const int port = free_port();
  const pid_t p0 = spawn_rank(args, 0, 2, port, (dir_->path / "nd0.log").string(), dir_->path.string());
  const pid_t p1 = spawn_rank(args, 1, 2, port, (dir_->path / "nd1.log").string(), path("elsewhere").string());
  const int c0 = wait_for(p0, std::chrono::seconds(60)), c1 = wait_for(p1, std::chrono::seconds(60));
  const std::string l0 = read_file(dir_->path / "nd0.log"), l1 = read_file(dir_->path / "nd1.log");
  EXPECT_EQ(c0, 2) << "rank 0 (-2: still waiting after 60 s):\n" << l0;
  EXPECT_EQ(c1, 2) << l1;
  const std::string why = "data/train: no such split directory (expected data/train/dataset.json)";
  EXPECT_NE(l0.find("rank 0 of 2: not every rank could start (rank 1: " + why), std::string::npos) << l0;
  EXPECT_NE(l1.find("error: " + why), std::string::npos) << l1;
  EXPECT_NE(l1.find("rank 1 of 2 stops before joining the others"), std::string::npos) << l1;
  EXPECT_FALSE(fs::exists(path("nodata"))) << "a run folder was left by a run that never started";
}

// The same for a failure in the command line itself: a --config file that one machine lacks.
TEST_F(DistributedTrain, RankMissingItsConfigFileStopsEveryRankNamingIt) {
  fs::create_directories(path("elsewhere"));
  {
    std::ofstream f(dir_->path / "cfg.yaml");
    f << "seed: 1\n";
  }
  auto args = train_args(data(), path("nocfg"), {});
  args.insert(args.begin() + 1, {"--config", "cfg.yaml"});
  const int port = free_port();
  const pid_t p0 = spawn_rank(args, 0, 2, port, (dir_->path / "nc0.log").string(), path("elsewhere").string());
  const pid_t p1 = spawn_rank(args, 1, 2, port, (dir_->path / "nc1.log").string(), dir_->path.string());
  const int c0 = wait_for(p0, std::chrono::seconds(60)), c1 = wait_for(p1, std::chrono::seconds(60));
  const std::string l0 = read_file(dir_->path / "nc0.log"), l1 = read_file(dir_->path / "nc1.log");
  EXPECT_EQ(c0, 2) << l0;
  EXPECT_EQ(c1, 2) << "rank 1 (-2: still waiting after 60 s):\n" << l1;
  EXPECT_NE(l0.find("cfg.yaml"), std::string::npos) << l0;
  EXPECT_NE(l1.find("rank 1 of 2: not every rank could start (rank 0: "), std::string::npos) << l1;
  EXPECT_NE(l1.find("cfg.yaml"), std::string::npos) << l1;
  EXPECT_FALSE(fs::exists(path("nocfg"))) << "a run folder was left by a run that never started";
}

TEST_F(DistributedTrain, RankZeroOnATakenPortStopsNamingThePortWithoutABacktrace) {
  // Another process listens on the port rank 0's TCPStore wants.
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  ASSERT_EQ(::listen(fd, 1), 0);
  ASSERT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len), 0);
  const int port = ntohs(a.sin_port);
  const pid_t p = spawn_rank(train_args(data(), path("taken"), {}), 0, 2, port, (dir_->path / "taken.log").string());
  const int code = wait_for(p, std::chrono::seconds(60));
  ::close(fd);
  const std::string log = read_file(dir_->path / "taken.log");
  EXPECT_NE(code, 0) << log;
  EXPECT_NE(code, -2) << "still running after 60 s:\n" << log;
  EXPECT_NE(log.find("127.0.0.1:" + std::to_string(port)), std::string::npos) << log;
  EXPECT_NE(log.find("Is the port free on MASTER_ADDR?"), std::string::npos) << log;
  EXPECT_EQ(log.find("frame #"), std::string::npos) << "libtorch's backtrace reached the user:\n" << log;
  EXPECT_FALSE(fs::exists(path("taken"))) << "a run folder was left by a run that never started";
}

TEST_F(DistributedTrain, SigkilledRankMakesTheOtherExitWithAClearError) {
  // A longer run; rank 1 is killed once rank 0 has logged a few steps.
  const int port = free_port();
  const auto args = train_args(data(), path("dead"), {"epochs=400", "eval_interval=400", "dist_timeout=20"});
  const pid_t p0 = spawn_rank(args, 0, 2, port, (dir_->path / "dead0.log").string());
  const pid_t p1 = spawn_rank(args, 1, 2, port, (dir_->path / "dead1.log").string());
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (std::chrono::steady_clock::now() < deadline) {
    const std::string m = read_file(path("dead") / "metrics.jsonl");
    if (std::count(m.begin(), m.end(), '\n') >= 4) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_EQ(::kill(p1, SIGKILL), 0);
  ::waitpid(p1, nullptr, 0);
  const auto t0 = std::chrono::steady_clock::now();
  const int code = wait_for(p0, std::chrono::seconds(30));
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const std::string log = read_file(dir_->path / "dead0.log");
  EXPECT_NE(code, -2) << "rank 0 still ran 30 s after rank 1 died:\n" << log;
  EXPECT_NE(code, 0) << log;
  EXPECT_NE(log.find("rank 0 of 2: the collective"), std::string::npos) << log;
  EXPECT_NE(log.find("another rank has probably died"), std::string::npos) << log;
  std::cout << "[ dead rank ] rank 0 exited with " << code << " after " << secs << " s\n";
}

// ---- hrm launch: the ranks as children of one process, without torchrun --------------------------

std::vector<std::string> launch_args(const std::vector<std::string>& launch, const std::vector<std::string>& command) {
  std::vector<std::string> a{"launch"};
  a.insert(a.end(), launch.begin(), launch.end());
  a.insert(a.end(), command.begin(), command.end());
  return a;
}

// spawn_hrm runs `hrm --threads 1 launch ...`: hrm's own option before launch reaches the ranks, as
// the single run had it.
TEST_F(DistributedTrain, LaunchOfTwoRanksEndsWithTheWeightsOfOneProcess) {
  auto command = train_args(data(), path("launched"), {});
  const std::string log = (dir_->path / "launched.log").string();
  const int code = wait_for(hrm::testing::spawn_hrm(launch_args({"--nproc-per-node", "2"}, command), log), std::chrono::seconds(120));
  const std::string out = read_file(log);
  ASSERT_EQ(code, 0) << "(-2: still running after 120 s)\n" << out;
  EXPECT_NE(out.find("hrm launch: ranks 0-1 of 2 on this machine (node 0 of 1), rendezvous at 127.0.0.1:"), std::string::npos)
      << out;
  EXPECT_NE(out.find(": hrm train --threads 1 device=cpu"), std::string::npos) << out;
  expect_same_weights(last_checkpoint(path("single")), last_checkpoint(path("launched")));
}

TEST_F(DistributedTrain, LaunchOfATwoRankEvalGivesTheMetricsOfOneProcess) {
  const fs::path ckpt = last_checkpoint(path("single"));
  ASSERT_FALSE(ckpt.empty());
  const std::vector<std::string> eval{"eval", "checkpoint=" + ckpt.string(), "save_outputs=[]"};
  const auto one = hrm::testing::run_hrm(eval);
  ASSERT_EQ(one.status, 0) << one.output;
  const std::string log = (dir_->path / "launched_eval.log").string();
  // `--` before the command, as torchrun's users write it.
  const int code =
      wait_for(hrm::testing::spawn_hrm(launch_args({"--nproc-per-node", "2", "--"}, eval), log), std::chrono::seconds(120));
  const std::string out = read_file(log);
  ASSERT_EQ(code, 0) << "(-2: still running after 120 s)\n" << out;
  EXPECT_NE(out.find("hrm launch: ranks 0-1 of 2"), std::string::npos) << out;
  const nlohmann::json a = printed_metrics(one.output), b = printed_metrics(out);
  ASSERT_EQ(a.size(), b.size()) << a << "\n" << b;
  for (const auto& [set, values] : a.items())
    for (const auto& [k, v] : values.items()) EXPECT_NEAR(v.get<double>(), b[set][k].get<double>(), 1e-6) << set << "/" << k;
}

// Two machines' launchers, here both on this one: each starts its rank with the global rank and world size.
TEST_F(DistributedTrain, LaunchersOfTwoNodesMakeOneRun) {
  const int port = free_port();
  auto command = train_args(data(), path("nodes"), {});
  command.insert(command.begin() + 1, {"--threads", "1"});  // in the command too: not given twice
  std::vector<pid_t> nodes;
  for (const char* node : {"0", "1"})
    nodes.push_back(hrm::testing::spawn_hrm(launch_args({"--nnodes", "2", "--node-rank", node, "--nproc-per-node", "1",
                                                         "--master-addr", "127.0.0.1", "--master-port", std::to_string(port)},
                                                        command),
                                            (dir_->path / ("node" + std::string(node) + ".log")).string()));
  const int c0 = wait_for(nodes[0], std::chrono::seconds(120)), c1 = wait_for(nodes[1], std::chrono::seconds(120));
  const std::string l0 = read_file(dir_->path / "node0.log"), l1 = read_file(dir_->path / "node1.log");
  ASSERT_EQ(c0, 0) << l0;
  ASSERT_EQ(c1, 0) << l1;
  EXPECT_NE(l1.find("hrm launch: ranks 1-1 of 2 on this machine (node 1 of 2)"), std::string::npos) << l1;
  expect_same_weights(last_checkpoint(path("single")), last_checkpoint(path("nodes")));
}

// The children of `parent` (from /proc), and one's RANK variable.
std::vector<pid_t> children_of(pid_t parent) {
  std::vector<pid_t> out;
  for (const auto& e : fs::directory_iterator("/proc")) {
    const std::string name = e.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream stat(e.path() / "stat");
    std::string line;
    std::getline(stat, line);
    const size_t close = line.rfind(')');
    if (close == std::string::npos) continue;
    std::istringstream rest(line.substr(close + 2));
    char state = 0;
    pid_t ppid = 0;
    rest >> state >> ppid;
    if (ppid == parent) out.push_back(static_cast<pid_t>(std::stol(name)));
  }
  return out;
}
std::string rank_variable(pid_t pid) {
  const std::string env = read_file(fs::path("/proc") / std::to_string(pid) / "environ");
  for (size_t b = 0; b < env.size();) {
    const size_t e = env.find('\0', b);
    const std::string kv = env.substr(b, e == std::string::npos ? std::string::npos : e - b);
    if (kv.rfind("RANK=", 0) == 0) return kv.substr(5);
    if (e == std::string::npos) break;
    b = e + 1;
  }
  return "";
}

// Whether `pid` runs (a zombie does not).
bool running(pid_t pid) {
  std::ifstream stat(fs::path("/proc") / std::to_string(pid) / "stat");
  std::string line;
  if (!std::getline(stat, line)) return false;
  const size_t close = line.rfind(')');
  return close != std::string::npos && line.size() > close + 2 && line[close + 2] != 'Z';
}

// Two (or more) machines' launchers (here on this one), one long run; returns their pids once each
// has its rank.
struct LaunchedNodes {
  std::vector<pid_t> launchers;
  std::vector<std::string> logs;
};
LaunchedNodes launch_nodes(const fs::path& dir, const fs::path& data, const std::string& name,
                           const std::vector<std::string>& launch_options = {}, int nnodes = 2) {
  const int port = free_port();
  LaunchedNodes n;
  for (int k = 0; k < nnodes; ++k) {
    const std::string node = std::to_string(k);
    n.logs.push_back((dir / (name + node + ".log")).string());
    std::vector<std::string> options{"--nnodes", std::to_string(nnodes), "--node-rank", node, "--nproc-per-node", "1",
                                     "--master-addr", "127.0.0.1", "--master-port", std::to_string(port), "--stop-grace", "1"};
    options.insert(options.end(), launch_options.begin(), launch_options.end());
    // Each rank trains an equal slice of the batch: 8 rows each.
    const std::vector<std::string> overrides{"epochs=2000", "eval_interval=2000", "global_batch_size=" + std::to_string(8 * nnodes)};
    n.launchers.push_back(hrm::testing::spawn_hrm(launch_args(options, train_args(data, dir / name, overrides)), n.logs.back()));
  }
  for (size_t i = 0; i < n.launchers.size(); ++i)
    for (const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(20);
         children_of(n.launchers[i]).empty() && std::chrono::steady_clock::now() < until;)
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
  return n;
}

// Kills (SIGCONT, then SIGKILL) and reaps those of these children still running when a test ends,
// an ASSERT's early return included: a frozen launcher of a 2000-epoch run would outlive the test.
struct ReapOnExit {
  std::vector<pid_t> pids;
  ~ReapOnExit() {
    for (pid_t p : pids)
      if (::waitpid(p, nullptr, WNOHANG) == 0) {
        ::kill(p, SIGCONT);
        ::kill(p, SIGKILL);
        ::waitpid(p, nullptr, 0);
      }
  }
};

// Node 1's rank killed as it starts: node 1's launcher posts it in the launchers' store and node 0's
// stops its rank, which would otherwise wait in the rendezvous for dist_timeout (30 minutes), and
// exits with the dead rank's status naming it.
TEST_F(DistributedTrain, LaunchersOfTwoNodesStopBothWhenARankOfOneDies) {
  const LaunchedNodes n = launch_nodes(dir_->path, data(), "nodes_dead");
  std::vector<pid_t> rank1;
  for (const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(20);
       rank1.empty() && std::chrono::steady_clock::now() < until; std::this_thread::sleep_for(std::chrono::milliseconds(2)))
    rank1 = children_of(n.launchers[1]);
  ASSERT_EQ(rank1.size(), 1u) << read_file(n.logs[1]);
  ASSERT_EQ(::kill(rank1[0], SIGKILL), 0);
  const int c0 = wait_for(n.launchers[0], std::chrono::seconds(60)), c1 = wait_for(n.launchers[1], std::chrono::seconds(60));
  const std::string l0 = read_file(n.logs[0]), l1 = read_file(n.logs[1]);
  EXPECT_EQ(c1, 128 + SIGKILL) << l1;
  EXPECT_EQ(c0, 128 + SIGKILL) << l0;
  EXPECT_NE(l0.find("hrm launch: rank 1 (node 1) was killed by signal 9 (Killed); stopping this machine's ranks"), std::string::npos)
      << l0;
}

// Node 0's launcher killed outright (its rank follows: PR_SET_PDEATHSIG): node 1's launcher loses the
// store and stops its rank rather than leave it waiting for peers that are gone. Node 1's rank is
// frozen (SIGSTOP) so that it cannot notice the lost peer first: only its launcher can end it.
TEST_F(DistributedTrain, LauncherOfNodeOneStopsItsRanksWhenNodeZerosLauncherIsGone) {
  const LaunchedNodes n = launch_nodes(dir_->path, data(), "nodes_lost");
  const ReapOnExit reap{n.launchers};
  const std::vector<pid_t> rank1 = children_of(n.launchers[1]);
  ASSERT_EQ(rank1.size(), 1u) << read_file(n.logs[1]);
  ASSERT_EQ(::kill(rank1[0], SIGSTOP), 0);
  ASSERT_EQ(::kill(n.launchers[0], SIGKILL), 0);
  ::waitpid(n.launchers[0], nullptr, 0);
  const int c1 = wait_for(n.launchers[1], std::chrono::seconds(60));
  const std::string l1 = read_file(n.logs[1]);
  EXPECT_NE(c1, 0) << l1;
  EXPECT_NE(c1, -2) << "node 1's launcher still ran after 60 s\n" << l1;
  EXPECT_NE(l1.find("hrm launch: lost the link to node 0's launcher at 127.0.0.1:"), std::string::npos) << l1;
  EXPECT_FALSE(running(rank1[0])) << "node 1's rank outlived its launcher";
}

// A machine that stops answering without closing its connections (frozen, cut off) is taken for
// failed after --node-timeout: here node 2's launcher of three frozen while its rank trains on.
// Node 0's launcher judges it and posts it; both others stop their ranks.
TEST_F(DistributedTrain, LaunchersStopTheirRanksWhenAnotherNodesLauncherGoesSilent) {
  const LaunchedNodes n = launch_nodes(dir_->path, data(), "nodes_silent2", {"--node-timeout", "2"}, 3);
  const ReapOnExit reap{n.launchers};
  std::vector<pid_t> ranks;
  for (size_t k = 0; k < 3; ++k) {
    const std::vector<pid_t> r = children_of(n.launchers[k]);
    ASSERT_EQ(r.size(), 1u) << read_file(n.logs[k]);
    ranks.push_back(r[0]);
  }
  ASSERT_EQ(::kill(n.launchers[2], SIGSTOP), 0);
  const int c0 = wait_for(n.launchers[0], std::chrono::seconds(60)), c1 = wait_for(n.launchers[1], std::chrono::seconds(60));
  for (size_t k = 0; k < 2; ++k) {
    const std::string log = read_file(n.logs[k]);
    EXPECT_EQ(k == 0 ? c0 : c1, 1) << "node " << k << " (-2: still running after 60 s)\n" << log;
    EXPECT_NE(log.find("hrm launch: node 2's launcher has not been heard from for 2 s (--node-timeout)"), std::string::npos)
        << "node " << k << "\n" << log;
    EXPECT_FALSE(running(ranks[k])) << "node " << k << "'s rank outlived its launcher";
  }
}

// Node 0's launcher frozen: node 1's store calls get no answer (the connection stays open, so none
// fails), and node 1's launcher stops its rank after --node-timeout instead of the link's 30 minutes.
TEST_F(DistributedTrain, LauncherOfNodeOneStopsItsRanksWhenNodeZerosLauncherGoesSilent) {
  const LaunchedNodes n = launch_nodes(dir_->path, data(), "nodes_silent0", {"--node-timeout", "2"});
  const ReapOnExit reap{n.launchers};
  const std::vector<pid_t> rank1 = children_of(n.launchers[1]);
  ASSERT_EQ(rank1.size(), 1u) << read_file(n.logs[1]);
  ASSERT_EQ(::kill(n.launchers[0], SIGSTOP), 0);
  const int c1 = wait_for(n.launchers[1], std::chrono::seconds(60));
  ::kill(n.launchers[0], SIGKILL);
  ::waitpid(n.launchers[0], nullptr, 0);
  const std::string l1 = read_file(n.logs[1]);
  EXPECT_EQ(c1, 1) << "(-2: still running after 60 s)\n" << l1;
  EXPECT_NE(l1.find("hrm launch: no answer from node 0's launcher at 127.0.0.1:"), std::string::npos) << l1;
  EXPECT_NE(l1.find("for 2 s (--node-timeout)"), std::string::npos) << l1;
  EXPECT_FALSE(running(rank1[0])) << "node 1's rank outlived its launcher";
}

// `hrm launch --nproc-per-node 2` of a long run, returned as soon as both ranks exist (forked; perhaps
// not yet exec'd).
struct LaunchedPair {
  pid_t launcher = -1;
  std::vector<pid_t> ranks;
  std::string log;
};
// eval_interval 0: one train/eval iteration of all `epochs`.
LaunchedPair launch_two_ranks(const fs::path& dir, const fs::path& data, const std::string& name, int epochs,
                              int eval_interval = 0, const std::vector<std::string>& launch_options = {}) {
  LaunchedPair l;
  l.log = (dir / (name + ".log")).string();
  const std::string e = std::to_string(epochs), i = std::to_string(eval_interval > 0 ? eval_interval : epochs);
  std::vector<std::string> options{"--nproc-per-node", "2"};
  options.insert(options.end(), launch_options.begin(), launch_options.end());
  l.launcher = hrm::testing::spawn_hrm(
      launch_args(options, train_args(data, dir / name, {"epochs=" + e, "eval_interval=" + i})), l.log);
  for (const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(20);
       l.ranks.size() < 2 && std::chrono::steady_clock::now() < until;
       std::this_thread::sleep_for(std::chrono::milliseconds(5)))
    l.ranks = children_of(l.launcher);
  return l;
}

// The launched child whose RANK is `rank`, once it has exec'd (-1 if none within 20 s).
pid_t rank_pid(const LaunchedPair& l, const std::string& rank) {
  for (const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(20); std::chrono::steady_clock::now() < until;
       std::this_thread::sleep_for(std::chrono::milliseconds(5)))
    for (pid_t c : l.ranks)
      if (rank_variable(c) == rank) return c;
  return -1;
}

// Rank 1 killed as it starts, before the rendezvous: rank 0 would wait there for dist_timeout (30
// minutes); the launcher stops it, exits with the dead rank's status and says which rank died how.
TEST_F(DistributedTrain, LaunchStopsTheOtherRanksWhenOneDies) {
  const LaunchedPair l = launch_two_ranks(dir_->path, data(), "launch_dead", 400);
  ASSERT_EQ(l.ranks.size(), 2u) << read_file(l.log);
  const pid_t rank1 = rank_pid(l, "1"), rank0 = rank_pid(l, "0");
  ASSERT_GT(rank1, 0) << "no rank 1 child found\n" << read_file(l.log);
  ASSERT_GT(rank0, 0);
  ASSERT_EQ(::kill(rank1, SIGKILL), 0);
  const int code = wait_for(l.launcher, std::chrono::seconds(60));
  const std::string out = read_file(l.log);
  EXPECT_EQ(code, 128 + SIGKILL) << out;
  EXPECT_NE(out.find("hrm launch: rank 1 (pid " + std::to_string(rank1) + ") was killed by signal 9"), std::string::npos) << out;
  EXPECT_FALSE(running(rank0)) << "rank 0 still runs after the launcher exited";
}

// Ctrl-C reaches the launcher alone (each rank has a process group of its own); it passes it on once,
// also to ranks not yet exec'd (the signal waits, blocked, until they have their default handlers).
TEST_F(DistributedTrain, LaunchPassesCtrlCToEveryRank) {
  const LaunchedPair l = launch_two_ranks(dir_->path, data(), "launch_int", 400);
  ASSERT_EQ(l.ranks.size(), 2u) << read_file(l.log);
  ASSERT_EQ(::kill(l.launcher, SIGINT), 0);
  const int code = wait_for(l.launcher, std::chrono::seconds(60));
  const std::string out = read_file(l.log);
  EXPECT_EQ(code, 128 + SIGINT) << out;
  EXPECT_NE(out.find("hrm launch: Interrupt passed to every rank; all stopped"), std::string::npos) << out;
  for (pid_t r : l.ranks) EXPECT_FALSE(running(r)) << "rank pid " << r << " still runs after the launcher exited";
}

// A rank that has not stopped --stop-grace after Ctrl-C (here frozen) is SIGKILLed, and the launcher
// says so, naming it, instead of "all stopped" (its training state may not have been saved).
TEST_F(DistributedTrain, LaunchNamesTheRanksItKillsAfterTheGrace) {
  const LaunchedPair l = launch_two_ranks(dir_->path, data(), "launch_grace", 400, 0, {"--stop-grace", "1"});
  ReapOnExit reap{{l.launcher}};
  const pid_t rank1 = rank_pid(l, "1");
  ASSERT_GT(rank1, 0) << read_file(l.log);
  ASSERT_EQ(::kill(rank1, SIGSTOP), 0);
  ASSERT_EQ(::kill(l.launcher, SIGINT), 0);
  const int code = wait_for(l.launcher, std::chrono::seconds(60));
  const std::string out = read_file(l.log);
  EXPECT_EQ(code, 128 + SIGKILL) << out;
  EXPECT_NE(out.find(" still running 1 s (--stop-grace) after being told to stop: SIGKILL"), std::string::npos) << out;
  EXPECT_NE(out.find("hrm launch: Interrupt passed to every rank; not all stopped as told; rank 1 was killed by signal 9"),
            std::string::npos) << out;
  EXPECT_FALSE(running(rank1));
}

// A launcher started with SIGINT and SIGTERM blocked (a wrapper's mask, inherited through exec)
// still hears Ctrl-C and passes it on.
TEST_F(DistributedTrain, LaunchHearsCtrlCThoughStartedWithItBlocked) {
  sigset_t stop, previous;
  sigemptyset(&stop);
  sigaddset(&stop, SIGINT);
  sigaddset(&stop, SIGTERM);
  ASSERT_EQ(::pthread_sigmask(SIG_BLOCK, &stop, &previous), 0);
  const LaunchedPair l = launch_two_ranks(dir_->path, data(), "launch_blocked", 400);
  ::pthread_sigmask(SIG_SETMASK, &previous, nullptr);
  ReapOnExit reap{{l.launcher}};
  ASSERT_GT(rank_pid(l, "1"), 0) << read_file(l.log);
  ASSERT_EQ(::kill(l.launcher, SIGINT), 0);
  const int code = wait_for(l.launcher, std::chrono::seconds(60));
  const std::string out = read_file(l.log);
  EXPECT_EQ(code, 128 + SIGINT) << "(-2: the launcher never heard it)\n" << out;
  EXPECT_NE(out.find("hrm launch: Interrupt passed to every rank; all stopped"), std::string::npos) << out;
}

// Nodes started with different plans would give two processes one RANK, and the run would wait in
// its rendezvous until dist_timeout: node 1 finds the difference with node 0's plan, both stop, exit 2.
TEST_F(DistributedTrain, LaunchersOfNodesWithDifferentPlansStopNamingBoth) {
  const int port = free_port();
  std::vector<pid_t> nodes;
  std::vector<std::string> logs;
  for (const char* node : {"0", "1"}) {
    logs.push_back((dir_->path / ("plans" + std::string(node) + ".log")).string());
    nodes.push_back(hrm::testing::spawn_hrm(
        launch_args({"--nnodes", "2", "--node-rank", node, "--nproc-per-node", node == std::string("0") ? "2" : "1",
                     "--master-addr", "127.0.0.1", "--master-port", std::to_string(port), "--stop-grace", "1"},
                    train_args(data(), path("plans"), {"epochs=2000"})),
        logs.back()));
  }
  ReapOnExit reap{nodes};
  const int c0 = wait_for(nodes[0], std::chrono::seconds(60)), c1 = wait_for(nodes[1], std::chrono::seconds(60));
  const std::string l0 = read_file(logs[0]), l1 = read_file(logs[1]);
  const std::string why = "node 1 was started with --nnodes 2 --nproc-per-node 1, node 0 with --nnodes 2 --nproc-per-node 2: "
                          "every node needs the same --nnodes and --nproc-per-node";
  EXPECT_EQ(c1, 2) << l1;
  EXPECT_NE(l1.find("error: hrm launch: " + why), std::string::npos) << l1;
  EXPECT_EQ(c0, 2) << "(-2: still running after 60 s)\n" << l0;
  EXPECT_NE(l0.find("hrm launch: " + why + "; stopping this machine's ranks"), std::string::npos) << l0;
}

// SIGTERM to one rank only (a scheduler signalling one machine's processes, say): the ranks agree to
// stop after the same step, rank 0 saves the state there before any rank exits, the launcher lets
// them end (no SIGTERM of its own) and exits 130; two ranks resume the run to its end, with the
// weights of the run never stopped.
TEST_F(DistributedTrain, SigtermToOneRankStopsEveryRankAfterTheSameStepWithTheStateSaved) {
  const LaunchedPair l = launch_two_ranks(dir_->path, data(), "launch_term", 40, 10);  // 4 iterations of 40 steps
  ASSERT_EQ(l.ranks.size(), 2u) << read_file(l.log);
  const pid_t rank1 = rank_pid(l, "1");
  ASSERT_GT(rank1, 0) << read_file(l.log);
  const fs::path run = dir_->path / "launch_term", state = run / "train_state.pt";
  for (const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(60);
       !fs::exists(state) && std::chrono::steady_clock::now() < until;)
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  ASSERT_TRUE(fs::exists(state)) << read_file(l.log);
  ASSERT_EQ(::kill(rank1, SIGTERM), 0);
  const int code = wait_for(l.launcher, std::chrono::seconds(60));
  const std::string out = read_file(l.log);
  if (fs::exists(run / "step_160")) GTEST_SKIP() << "the run finished before the signal arrived";
  EXPECT_EQ(code, 130) << out;
  EXPECT_NE(out.find(") exited 130, interrupted by a signal to a rank"), std::string::npos) << out;  // either rank, ending together
  EXPECT_EQ(out.find("stopping the other ranks"), std::string::npos) << out;
  const int64_t step = load_tensors(state).at("step").item<int64_t>();
  EXPECT_GT(step, 40) << out;
  for (const std::string why : {"SIGTERM", "another rank was signalled"})
    EXPECT_NE(out.find("stopped at step " + std::to_string(step) + " (" + why + ")"), std::string::npos) << why << "\n" << out;

  const std::string log = (dir_->path / "launch_term_resumed.log").string();
  const pid_t resumed = hrm::testing::spawn_hrm(launch_args({"--nproc-per-node", "2"}, {"train", "resume=" + run.string()}), log);
  EXPECT_EQ(wait_for(resumed, std::chrono::seconds(120)), 0) << read_file(log);
  EXPECT_NE(read_file(log).find("Resuming " + run.string() + " at step " + std::to_string(step)), std::string::npos)
      << read_file(log);
  ASSERT_TRUE(fs::exists(run / "step_160")) << read_file(log);

  // The same run never stopped ends with the same weights, bit for bit: the state saved mid-iteration
  // (the carry gathered from both ranks, the sampler inside its pass) continues exactly.
  const LaunchedPair full = launch_two_ranks(dir_->path, data(), "launch_term_full", 40, 10);
  ASSERT_EQ(wait_for(full.launcher, std::chrono::seconds(120)), 0) << read_file(full.log);
  const auto a = load_tensors(run / "step_160"), b = load_tensors(dir_->path / "launch_term_full" / "step_160");
  ASSERT_EQ(a.size(), b.size());
  for (const auto& [k, v] : a) EXPECT_TRUE(torch::equal(v, b.at(k))) << k;
}

// SIGTERM to one rank during an evaluation (long on a real test set): the ranks agree to abandon it
// at the same segment, rank 0 saves the state as before it, and two ranks resume with that
// evaluation, ending with the weights of the run never stopped, bit for bit.
TEST_F(DistributedTrain, SigtermToOneRankDuringAnEvaluationStopsEveryRankAndResumesWithIt) {
  const fs::path long_eval = path("long_eval_data");
  testing::write_tiny_dataset(long_eval, 32, 4000);  // data()'s training split; 250 test batches (about a second)
  auto launch = [&](const std::string& name, const std::vector<std::string>& extra, const fs::path& dataset) {
    const std::string log = (dir_->path / (name + ".log")).string();
    // log_interval above the 4 steps of an iteration: step 4's metrics are written after the stop
    // check that follows the step, which rank 0 passes only with rank 1's flag (see below).
    std::vector<std::string> train = train_args(dataset, path(name), {"epochs=2", "eval_interval=1", "log_interval=100"});
    train.insert(train.end(), extra.begin(), extra.end());
    return std::make_pair(hrm::testing::spawn_hrm(launch_args({"--nproc-per-node", "2"}, train), log), log);
  };
  const auto [launcher, log] = launch("eval_term", {}, long_eval);
  ReapOnExit reap{{launcher}};
  const fs::path run = path("eval_term");
  // Step 4's metrics are written right before its evaluation starts, after both ranks have passed the
  // stop check of step 4 (a signal before rank 1's would stop the run there, not in the evaluation).
  auto wrote_step_4 = [&] { return read_file(run / "metrics.jsonl").find("{\"step\":4,") != std::string::npos; };
  for (const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(60);
       !wrote_step_4() && std::chrono::steady_clock::now() < until;)
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  ASSERT_TRUE(wrote_step_4()) << read_file(log);
  pid_t rank1 = -1;
  for (pid_t c : children_of(launcher))
    if (rank_variable(c) == "1") rank1 = c;
  ASSERT_GT(rank1, 0) << read_file(log);
  ASSERT_EQ(::kill(rank1, SIGTERM), 0);
  const int code = wait_for(launcher, std::chrono::seconds(120));
  const std::string out = read_file(log);
  if (fs::exists(run / "step_4")) GTEST_SKIP() << "the evaluation finished before the signal arrived\n" << out;
  EXPECT_EQ(code, 130) << out;
  for (const std::string why : {"SIGTERM", "another rank was signalled"})
    EXPECT_NE(out.find("stopped at step 4 during its evaluation (" + why + ")"), std::string::npos) << why << "\n" << out;
  EXPECT_EQ(load_tensors(run / "train_state.pt").at("step").item<int64_t>(), 4) << out;

  const auto [resumed, resumed_log] = launch("eval_term", {"resume=" + run.string()}, long_eval);
  EXPECT_EQ(wait_for(resumed, std::chrono::seconds(120)), 0) << read_file(resumed_log);
  EXPECT_NE(read_file(resumed_log).find("at step 4 (iteration 0 of 2), with the evaluation that the stop interrupted"),
            std::string::npos) << read_file(resumed_log);
  // Evaluations change nothing that training uses: the same training split with a short test split.
  const auto [full, full_log] = launch("eval_term_full", {}, data());
  ASSERT_EQ(wait_for(full, std::chrono::seconds(120)), 0) << read_file(full_log);
  for (const char* step : {"step_4", "step_8"}) {
    const auto a = load_tensors(run / step), b = load_tensors(path("eval_term_full") / step);
    ASSERT_EQ(a.size(), b.size()) << step;
    for (const auto& [k, v] : a) EXPECT_TRUE(torch::equal(v, b.at(k))) << step << " " << k;
  }
}

// The launcher itself SIGKILLed (it cannot pass anything on): its ranks get SIGTERM from the kernel
// (PR_SET_PDEATHSIG) instead of training on, or waiting in a collective, as orphans.
TEST_F(DistributedTrain, RanksOfAKilledLauncherStopToo) {
  const LaunchedPair l = launch_two_ranks(dir_->path, data(), "launch_killed", 2000);  // untold, minutes of training
  ASSERT_EQ(l.ranks.size(), 2u) << read_file(l.log);
  ASSERT_EQ(::kill(l.launcher, SIGKILL), 0);
  ::waitpid(l.launcher, nullptr, 0);
  // Orphans are reaped by init (or a subreaper), or stay zombies: wait until none runs.
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while ((running(l.ranks[0]) || running(l.ranks[1])) && std::chrono::steady_clock::now() < until)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  for (pid_t r : l.ranks) EXPECT_FALSE(running(r)) << "rank pid " << r << " outlived its launcher";
}

TEST(DistributedLaunch, CommandOtherThanTrainOrEvalAndBadLaunchOptionsAreRefused) {
  for (const bool dashes : {false, true}) {  // `--` before the command (torchrun's habit) changes nothing
    std::vector<std::string> args{"launch", "--nproc-per-node", "2", "data", "info", "x"};
    if (dashes) args.insert(args.begin() + 3, "--");
    const auto data = hrm::testing::run_hrm(args);
    EXPECT_EQ(data.status, 2);
    EXPECT_NE(data.output.find("expected the command to run on every rank, train ... or eval ..., after the launch options, got 'data'"),
              std::string::npos)
        << data.output;
  }
  for (const std::string t : {"0.5", "1e7"}) {
    const auto timeout = hrm::testing::run_hrm({"launch", "--node-timeout", t, "--nproc-per-node", "1", "train"});
    EXPECT_EQ(timeout.status, 2);
    EXPECT_NE(timeout.output.find("--node-timeout must be in [1, 1e6] seconds, got "), std::string::npos) << timeout.output;
  }
  for (const std::string t : {"nan", "-1", "1e10"}) {  // 1e10 s would overflow the deadline: SIGKILL at once
    const auto grace = hrm::testing::run_hrm({"launch", "--stop-grace", t, "--nproc-per-node", "1", "train"});
    EXPECT_EQ(grace.status, 2);
    EXPECT_NE(grace.output.find("--stop-grace must be in [0, 1e6] seconds, got "), std::string::npos) << t << "\n" << grace.output;
  }
  const auto port = hrm::testing::run_hrm({"launch", "--nnodes", "2", "--nproc-per-node", "1", "train"});
  EXPECT_EQ(port.status, 2);
  EXPECT_NE(port.output.find("every node needs the same --master-addr (node 0's address, reachable from every node) and --master-port"),
            std::string::npos)
      << port.output;
  const auto addr = hrm::testing::run_hrm({"launch", "--nnodes", "2", "--master-port", "29500", "--nproc-per-node", "1", "train"});
  EXPECT_EQ(addr.status, 2);
  EXPECT_NE(addr.output.find("every node needs the same --master-addr"), std::string::npos) << addr.output;
  const auto node = hrm::testing::run_hrm({"launch", "--nnodes", "2", "--node-rank", "2", "--nproc-per-node", "1", "train"});
  EXPECT_EQ(node.status, 2);
  EXPECT_NE(node.output.find("--node-rank must be in [0, 1] for --nnodes 2, got 2"), std::string::npos) << node.output;
}

#endif  // HRM_TORCH_FALLBACK

}  // namespace
}  // namespace hrm::train
