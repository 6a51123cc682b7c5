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
};

struct VerifyReport {
  std::vector<std::string> lines;  // human-readable, in order
  int checked = 0, failed = 0, missing = 0;
  bool ok() const { return checked > 0 && failed == 0 && missing == 0; }
};

VerifyReport verify_fixture(const std::string& dir, const VerifyOptions& opts = {});

// Tolerances stated in a fixture README: {values, gradients}; defaults when the README has none.
std::pair<Tolerance, Tolerance> fixture_tolerances(const std::string& readme_text);

}  // namespace hrm
