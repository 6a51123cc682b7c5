// state_dict.h: a module's state dict (names -> tensors) and loading one into a module.
// Mirrors torch.nn.Module.state_dict() / load_state_dict(strict=True) as used by pretrain.py and
// evaluate.py of sapientinc/HRM@42410da (evaluate.py strips the `_orig_mod.` prefix of compiled models).
// Differs: values are copied into the module's tensors, converted to their dtype and device (the
// reference uses assign=True and so keeps the file's dtype); every mismatch is reported in one error;
// the puzzle-embedding table can be resized (an option the reference does not have).
#pragma once

#include <string>

#include <torch/torch.h>

#include "io/torch_file.h"

namespace hrm::io {

struct LoadOptions {
  // A `model.inner.puzzle_emb.weights` table with another row count (another dataset's number of
  // puzzle identifiers) is resized: new rows are the mean of the file's rows, extra rows are dropped.
  bool resize_puzzle_emb = false;
};

// Copies `sd` into the module's parameters and buffers (all registered buffers are persistent in our
// model). Keys may carry the `_orig_mod.` prefix. Any mismatch -> ONE hrm::FormatError naming
// `source_name` and listing every missing, unexpected and mis-shaped key (with both shapes); nothing
// is copied then.
void load_state_dict(torch::nn::Module& module, const StateDict& sd, const std::string& source_name,
                     const LoadOptions& opts = {});

// The module's tensors in PyTorch's state_dict order: per module, its own parameters, then its own
// buffers, then each child (recursively) in registration order. Tensors are detached and share memory.
StateDict state_dict(const torch::nn::Module& module);

}  // namespace hrm::io
