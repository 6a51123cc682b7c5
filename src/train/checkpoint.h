// checkpoint.h: what `hrm train` writes at each evaluation, and resuming from it.
// Mirrors save_train_state in pretrain.py of sapientinc/HRM@42410da, which writes
// torch.save(model.state_dict(), checkpoint_path/step_N) and nothing else ("FIXME: Only saved model").
// Here, in the run directory:
// - `step_N`: the model state dict in the reference's file format, keys prefixed `_orig_mod.` as a
//   torch.compile'd model (the reference's default) saves them. The reference's evaluate.py loads
//   this both compiled (keys match) and with DISABLE_COMPILE (it strips the prefix); hrm's loader
//   accepts both forms. With EMA on, these are the averaged weights.
// - `train_state.pt` (same file format, str -> Tensor): everything else a run needs to continue
//   exactly: the trained weights, AdamATan2 moments and step counts, the EMA shadow, step and
//   iteration counters, the exploration generator, the sampler position, and the ACT carry.
// train_state.pt is also written when a signal stops the run between evaluations (train_loop.h).
// Both files are written atomically (temporary file, then rename), step_N first: an interrupted
// write leaves the previous state intact.
#pragma once

#include <string>
#include <vector>

#include "data/puzzle_dataset.h"
#include "io/state_dict.h"
#include "io/torch_file.h"
#include "train/train_loop.h"

namespace hrm::train {

std::string model_checkpoint_path(const std::string& run_dir, int64_t step);  // run_dir/step_N
std::string train_state_path(const std::string& run_dir);                     // run_dir/train_state.pt
// The step_N checkpoints in run_dir, by step (empty when there is none or no run_dir).
std::vector<std::string> checkpoint_names(const std::string& run_dir);

// The model's state dict (loss head: `model.inner.*`) with the `_orig_mod.` prefix.
io::StateDict model_checkpoint(ACTLossHead& model);
void save_model_checkpoint(const std::string& path, ACTLossHead& model);
// Loads a reference-format checkpoint (with or without `_orig_mod.`) into the model; strict.
void load_model_checkpoint(const std::string& path, ACTLossHead& model, const io::LoadOptions& opts = {});

io::StateDict train_state_dict(const TrainState& state, const data::SamplerState& sampler);
void save_train_state(const std::string& run_dir, const TrainState& state, const data::SamplerState& sampler);
// Restores into a state built by init_train_state with the same config; returns the sampler position.
// Throws FormatError naming the file and key when something is missing or mis-shaped.
data::SamplerState load_train_state(const std::string& path, TrainState& state);
// The error load_train_state gives for a missing `path`, early (before the model is built).
void require_train_state(const std::string& path);

}  // namespace hrm::train
