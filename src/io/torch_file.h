// torch_file.h: read and write PyTorch checkpoint files (the zip format of torch.save, PyTorch >= 1.6).
// Mirrors torch.save(model.state_dict(), path) in pretrain.py (save_train_state) and torch.load in
// evaluate.py of sapientinc/HRM@42410da (both go through torch/serialization.py).
// Differs: only a dict or collections.OrderedDict of str -> Tensor is read or written (no other Python
// objects); loaded tensors are CPU, contiguous and own their memory (Python keeps storage views and
// sharing); the OrderedDict's `_metadata` (per-module state-dict versions) is neither read nor
// written; the legacy non-zip format is rejected.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <torch/torch.h>

namespace hrm::io {

using StateDict = std::vector<std::pair<std::string, torch::Tensor>>;  // in file order

// Loads a torch.save file holding a dict or OrderedDict of str -> Tensor (fixtures, checkpoints of
// PyTorch 1.13 and 2.x). Throws hrm::Error when the file cannot be opened, hrm::FormatError (naming
// the file and, inside data.pkl, the opcode and byte offset) when its content is not such a dict.
StateDict load_torch_file(const std::string& path);

// One record of the archive by name ("data/0"); throws hrm::FormatError where it cannot.
using RecordReader = std::function<std::string(const std::string& name)>;

// load_torch_file after the zip layer: data.pkl, with its storages read through `read_record`, to a
// state dict; errors name `path`. Separate so that the fuzzer (fuzz/fuzz_torch_file.cpp) reaches it
// without building zip archives.
StateDict decode_state_dict(std::string_view data_pkl, const std::string& path, const RecordReader& read_record);

// Writes `tensors` as torch.save writes an OrderedDict state dict (protocol-2 data.pkl, records
// archive/data/<n>, archive/version), readable by torch.load of PyTorch 1.13 and of 2.x with
// weights_only=True. Tensors that share a storage share it in the file, as with torch.save.
// Atomic: a temporary file in the same directory, renamed over `path` once complete.
void save_torch_file(const std::string& path, const StateDict& tensors);

}  // namespace hrm::io
