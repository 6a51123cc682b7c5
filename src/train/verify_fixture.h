// verify_fixture.h: recompute a reference fixture and compare (`hrm verify-fixture DIR`).
// A fixture folder holds config.json, weights.pt, batch.pt and any of eval_trace.pt, train_step.pt,
// losses.pt, optim_step.pt, train_loop.pt (format: ../shared/fixtures/hrm-tiny/README.md). Every
// piece present is recomputed; tolerances come from the folder's README ("atol X rtol Y" for
// values, then for gradients), so a new fixture is checked without code changes.
#pragma once

#include <string>
#include <vector>

#include <torch/types.h>

#include "train/compare.h"

namespace hrm {

struct VerifyOptions {
  torch::Device device = torch::kCPU;
  // Recompute in this forward_dtype instead of the fixture's (empty: the fixture's).
  std::string forward_dtype;
  // Normwise mode (> 0), for results that cannot match elementwise: a reduced-precision forward against
  // float32 goldens, or bfloat16 on another device than the goldens'. The evaluation trace's float
  // values are compared by relative L2 error (||got - want|| <= rel_l2 ||want||); its halting and
  // step counts must still be equal; what follows seq_is_correct is left out (the accuracies,
  // q_halt_loss and the total loss: an argmax tie one rounding apart flips them), and so are
  // train_step and train_loop (their Q targets and gradients follow those flips). losses.pt and optim_step.pt keep the README's tolerances (no forward pass in them).
  // 0 with a forward_dtype other than the fixture's: reduced_precision_rel_l2(forward_dtype).
  double rel_l2 = 0;
};

// The normwise tolerance of a reduced-precision forward against float32 goldens.
double reduced_precision_rel_l2(const std::string& forward_dtype);

struct VerifyReport {
  std::vector<std::string> lines;  // human-readable, in order
  int checked = 0, failed = 0, missing = 0;
  bool ok() const { return checked > 0 && failed == 0 && missing == 0; }
};

VerifyReport verify_fixture(const std::string& dir, const VerifyOptions& opts = {});

// Tolerances stated in a fixture README: {values, gradients}; defaults when the README has none.
std::pair<Tolerance, Tolerance> fixture_tolerances(const std::string& readme_text);

}  // namespace hrm
