// solve.cpp: see solve.h. The ACT loop is the one evaluate() runs (train_loop.cpp), on the bare
// model: no labels are needed, and each row's answer is taken at its own halting segment.
#include "answer/solve.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <iostream>
#include <tuple>

#include "answer/puzzle_text.h"
#include "core/check.h"
#include "data/dataset.h"
#include "io/state_dict.h"
#include "io/torch_file.h"
#include "train/bench_common.h"
#include "train/eval_graph.h"
#include "train/pretrain_config.h"
#include "train/train_loop.h"

namespace hrm::answer {
namespace fs = std::filesystem;

double ModelAnswer::confidence() const { return 1.0 / (1.0 + std::exp(-q_halt_logit)); }

struct Solver::Impl {
  std::string checkpoint;
  train::PretrainConfig config;
  data::DatasetMetadata meta;
  std::vector<std::string> identifiers;
  torch::Device device = torch::kCPU;
  ACTLossHead model = nullptr;
  std::unique_ptr<train::EvalStepGraph> graph;  // cuda_graphs=true (a --set): segments replayed from a CUDA graph
};

namespace {

const torch::Tensor* find_tensor(const io::StateDict& sd, const std::string& suffix) {
  for (const auto& [k, v] : sd)
    if (k.size() >= suffix.size() && k.compare(k.size() - suffix.size(), suffix.size(), suffix) == 0) return &v;
  return nullptr;
}

// The metadata create_model needs, from the checkpoint when the dataset is not at hand.
data::DatasetMetadata metadata_from_checkpoint(const io::StateDict& sd, const HRMConfig& arch, const std::string& checkpoint,
                                               const std::string& data_dir) {
  data::DatasetMetadata m;
  const torch::Tensor* embed = find_tensor(sd, "inner.embed_tokens.embedding_weight");
  if (!embed) HRM_THROW(FormatError, checkpoint, ": no inner.embed_tokens.embedding_weight (not an HRM checkpoint?)");
  m.vocab_size = embed->size(0);
  const torch::Tensor* puzzle = find_tensor(sd, "inner.puzzle_emb.weights");
  m.num_puzzle_identifiers = puzzle ? puzzle->size(0) : 1;
  const torch::Tensor* pos = find_tensor(sd, "inner.embed_pos.embedding_weight");
  if (!pos)
    HRM_THROW(ConfigError, "the dataset ", data_dir, " (its train/dataset.json) is not there, and ", checkpoint,
              " (rotary positions) does not record the sequence length: pass --data DIR, the dataset it was trained on");
  HRMConfig a = arch;
  m.seq_len = pos->size(0) - a.puzzle_emb_len();
  return m;
}

}  // namespace

Solver::Solver(const SolverOptions& o) : impl_(std::make_unique<Impl>()) {
  Impl& s = *impl_;
  s.checkpoint = o.checkpoint;
  if (!fs::is_regular_file(o.checkpoint)) HRM_THROW(Error, "checkpoint '", o.checkpoint, "' is not a file");
  const fs::path run_dir = fs::path(o.checkpoint).parent_path().empty() ? fs::path(".") : fs::path(o.checkpoint).parent_path();
  const fs::path cfg = run_dir / "all_config.yaml";
  if (!fs::is_regular_file(cfg))
    HRM_THROW(ConfigError, "no ", cfg.string(), " beside the checkpoint (it holds the architecture; `hrm train` writes it)");
  train::ConfigBuilder builder;
  builder.merge_file(cfg.string());
  builder.set("device", o.device, "--device");
  builder.set("cuda_graphs", "false", "hrm solve");  // the run's training setting; --set cuda_graphs=true still applies
  for (const auto& ov : o.overrides) builder.merge_override(ov);
  if (!o.data_dir.empty()) builder.set("data_path", o.data_dir, "--data");
  s.config = builder.build();
  s.config.ema = false;
  // Sized for the rows solve runs at once, not the training batch: create_model's memory check counts them.
  s.config.global_batch_size = Solver::kBatchRows;
  s.device = train::run_device(s.config);
  note_slow_cpu_dtype(std::cerr, s.device, s.config.arch.forward_dtype, "--set arch.forward_dtype=float32");

  const io::StateDict sd = io::load_torch_file(o.checkpoint);
  const fs::path data_dir = s.config.data_path;
  if (fs::is_regular_file(data_dir / "train" / "dataset.json")) {
    s.meta = data::read_metadata(data_dir / "train");
    if (fs::is_regular_file(data_dir / "identifiers.json")) s.identifiers = data::read_identifiers(data_dir);
  } else {
    s.meta = metadata_from_checkpoint(sd, s.config.arch, o.checkpoint, data_dir.string());
  }
  s.model = train::create_model(s.config, s.meta, s.device);
  io::LoadOptions load;
  load.resize_puzzle_emb = o.resize_puzzle_emb;
  io::load_state_dict(*s.model, sd, o.checkpoint, load);
  s.model->eval();
  s.graph = std::make_unique<train::EvalStepGraph>(s.config.cuda_graphs);
}

Solver::~Solver() = default;

int64_t Solver::seq_len() const { return impl_->meta.seq_len; }
int64_t Solver::vocab_size() const { return impl_->meta.vocab_size; }
int64_t Solver::num_puzzle_identifiers() const { return impl_->meta.num_puzzle_identifiers; }
int Solver::halt_max_steps() const { return impl_->model->model->config.halt_max_steps; }
const std::vector<std::string>& Solver::identifiers() const { return impl_->identifiers; }

int32_t Solver::identifier_of(const std::string& name) const {
  const auto& ids = impl_->identifiers;
  const auto it = std::find(ids.begin(), ids.end(), name);
  if (it == ids.end() || it - ids.begin() >= impl_->meta.num_puzzle_identifiers) return 0;
  return static_cast<int32_t>(it - ids.begin());
}

void Solver::check_fits(int64_t seq_len, int64_t vocab_size, const std::string& what) const {
  if (seq_len == impl_->meta.seq_len && vocab_size == impl_->meta.vocab_size) return;
  HRM_THROW(ConfigError, impl_->checkpoint, " was trained on seq_len ", impl_->meta.seq_len, " and vocab ",
            impl_->meta.vocab_size, " (", kind_name(kind_of(impl_->meta.seq_len, impl_->meta.vocab_size)),
            "); this ", what, " needs seq_len ", seq_len, " and vocab ", vocab_size);
}

std::vector<ModelAnswer> Solver::run(const std::vector<std::vector<int32_t>>& inputs, const std::vector<int32_t>& ids,
                                     Halting halting, int64_t batch_size) {
  Impl& s = *impl_;
  HRM_CHECK(inputs.size() == ids.size(), "Solver::run: ", inputs.size(), " rows, ", ids.size(), " identifiers");
  const int64_t L = s.meta.seq_len;
  for (size_t r = 0; r < inputs.size(); ++r) {
    if (static_cast<int64_t>(inputs[r].size()) != L)
      HRM_THROW(ConfigError, "puzzle ", r + 1, ": ", inputs[r].size(), " tokens, the model reads ", L);
    for (int32_t t : inputs[r])
      if (t < 0 || t >= s.meta.vocab_size)
        HRM_THROW(ConfigError, "puzzle ", r + 1, ": token ", t, " outside the model's vocabulary 0..", s.meta.vocab_size - 1);
    if (ids[r] < 0 || ids[r] >= s.meta.num_puzzle_identifiers)
      HRM_THROW(ConfigError, "puzzle ", r + 1, ": identifier ", ids[r], " outside 0..", s.meta.num_puzzle_identifiers - 1);
  }
  c10::InferenceMode inference;
  const int max_steps = halt_max_steps();
  std::vector<ModelAnswer> answers(inputs.size());
  for (size_t first = 0; first < inputs.size(); first += static_cast<size_t>(batch_size)) {
    const int64_t n = std::min<int64_t>(batch_size, static_cast<int64_t>(inputs.size() - first));
    torch::Tensor in = torch::empty({n, L}, torch::kInt32);
    torch::Tensor pid = torch::empty({n}, torch::kInt32);
    for (int64_t r = 0; r < n; ++r) {
      std::copy(inputs[first + r].begin(), inputs[first + r].end(), in.data_ptr<int32_t>() + r * L);
      pid.data_ptr<int32_t>()[r] = ids[first + r];
    }
    const Batch batch{in.to(s.device), torch::zeros({n, L}, torch::kInt32).to(s.device), pid.to(s.device)};
    Carry carry = s.model->model->initial_carry(batch);
    std::vector<bool> done(static_cast<size_t>(n), false);
    int64_t remaining = n;
    for (int step = 1; step <= max_steps && remaining > 0; ++step) {
      ModelOutputs out;
      if (s.graph->enabled()) {  // through the loss head (its labels are zeros here; the loss is not read)
        LossHeadOutput o = s.graph->forward(s.model, carry, batch);
        carry = o.new_carry;
        out = o.outputs;
      } else {
        std::tie(carry, out) = s.model->model->forward(carry, batch);
      }
      const torch::Tensor preds = out.logits.argmax(-1).to(torch::kInt32).cpu().contiguous();
      const torch::Tensor qh = out.q_halt_logits.to(torch::kFloat32).cpu().contiguous();
      const torch::Tensor qc = out.q_continue_logits.to(torch::kFloat32).cpu().contiguous();
      for (int64_t r = 0; r < n; ++r) {
        const float h = qh.data_ptr<float>()[r], c = qc.data_ptr<float>()[r];
        if (done[r] || !(step == max_steps || (halting == Halting::kQ && h > c))) continue;
        ModelAnswer& a = answers[first + r];
        a.tokens.assign(preds.data_ptr<int32_t>() + r * L, preds.data_ptr<int32_t>() + (r + 1) * L);
        a.steps = step;
        a.q_halt_logit = h;
        a.q_continue_logit = c;
        done[r] = true;
        --remaining;
      }
    }
  }
  return answers;
}

ArcSolveResult solve_arc(Solver& solver, const arc::Task& task, int num_aug, Halting halting, uint64_t seed) {
  solver.check_fits(arc::kSeqLen, arc::kVocabSize, "ARC task");
  ArcSolveResult res;
  // The identity first, under the task's own identifier when the dataset has it.
  res.augmentations.push_back(arc::Augmentation{});
  res.identifiers.push_back(solver.identifier_of(task.id));
  res.known_task = res.identifiers[0] != 0;
  if (res.known_task) {
    for (size_t i = 0; i < solver.identifiers().size() && static_cast<int>(res.augmentations.size()) <= num_aug; ++i) {
      const arc::PuzzleName pn = arc::parse_puzzle_name(solver.identifiers()[i]);
      if (!pn.augmented || pn.task_id != task.id) continue;
      const int32_t id = solver.identifier_of(solver.identifiers()[i]);
      if (id == 0) continue;
      res.augmentations.push_back(pn.aug);
      res.identifiers.push_back(id);
    }
  } else {
    Rng rng(seed);
    for (const arc::Augmentation& a : arc::draw_distinct_augmentations(task, num_aug, rng)) {
      res.augmentations.push_back(a);
      res.identifiers.push_back(0);
    }
  }

  std::vector<std::vector<int32_t>> rows;
  std::vector<int32_t> ids;
  for (size_t a = 0; a < res.augmentations.size(); ++a)
    for (const arc::Pair& p : task.test) {
      rows.push_back(arc_tokens(arc::apply(p.input, res.augmentations[a])));
      ids.push_back(res.identifiers[a]);
    }
  const std::vector<ModelAnswer> answers = solver.run(rows, ids, halting);

  const size_t tests = task.test.size();
  for (size_t j = 0; j < tests; ++j) {
    std::vector<arc::Grid> grids;
    std::vector<double> conf;
    double steps = 0;
    for (size_t a = 0; a < res.augmentations.size(); ++a) {
      const ModelAnswer& m = answers[a * tests + j];
      grids.push_back(arc::invert(arc::crop(m.tokens.data()), res.augmentations[a]));
      conf.push_back(arc::vote_confidence(static_cast<float>(m.q_halt_logit)));  // as hrm arc-score votes
      steps += m.steps;
    }
    ArcTestAnswer t;
    t.ranked = arc::vote(grids, conf);
    t.attempt_1 = t.ranked.at(0).grid;
    t.attempt_2 = t.ranked.size() > 1 ? t.ranked[1].grid : t.attempt_1;
    t.runs = static_cast<int64_t>(grids.size());
    t.mean_steps = steps / static_cast<double>(grids.size());
    res.tests.push_back(std::move(t));
  }
  return res;
}

}  // namespace hrm::answer
