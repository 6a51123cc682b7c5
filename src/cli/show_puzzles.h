// show_puzzles.h: the solved and failed test puzzles of an evaluation, drawn as text (input,
// the model's answer with wrong cells marked, the label), for `hrm eval show=N` and the demo.
#pragma once

#include <iosfwd>
#include <string>

#include "data/dataset.h"

namespace hrm::cli {

// Reads the evaluation outputs file (step_N_all_preds.0: inputs, labels, logits) and prints up to
// `n` solved and `n` failed puzzles, and how many of each there are. Padding rows (no label) are
// skipped. FormatError when the file lacks one of those outputs.
void show_puzzles(const std::string& preds_path, const data::DatasetMetadata& metadata, int n, std::ostream& out);

}  // namespace hrm::cli
