// saved_outputs.h: the evaluation outputs `hrm eval` and `hrm train` save (step_N_all_preds.0, a
// torch.save'd dict of tensors, see train_loop.cpp evaluate), as plain arrays for ARC scoring and
// the report.
// Reads the reference's files as well (evaluate.py saves the same keys): the answer tokens are the
// argmax of "logits", or a "preds" tensor of tokens where a file holds one instead.
// The header has no torch so that its users compile without libtorch's headers.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace hrm::answer {

struct SavedOutputs {
  std::vector<std::string> files;  // read, in rank order
  int64_t rows = 0, seq_len = 0;
  int64_t vocab_size = 0;  // the logits' last dimension; 0 when only "preds" was saved
  // Each empty when the file does not hold it; otherwise [rows, seq_len] or [rows].
  std::vector<int32_t> inputs, labels, puzzle_identifiers;
  std::vector<int32_t> preds;  // "preds", else argmax of "logits"
  std::vector<float> q_halt_logits, q_continue_logits;
};

// The files of one evaluation: `path`, and for `..._all_preds.0` every other rank's `.1`, `.2`, ...
// beside it (while they exist), in rank order.
std::vector<std::string> rank_output_files(const std::string& path);

// FormatError naming the file and key when a tensor has the wrong rank or row count. For
// `..._all_preds.0`, the files of the other ranks of a data-parallel evaluation (`.1`, `.2`, ...
// while they exist) are appended in rank order: each rank saved its slice of every test batch, so
// the rows are all there but not in the test split's order (arc_scoring matches them by input).
SavedOutputs load_saved_outputs(const std::string& path);

// The newest RUN_DIR/step_N_all_preds.0 (largest N); empty when there is none.
std::string latest_saved_outputs(const std::string& run_dir);

}  // namespace hrm::answer
