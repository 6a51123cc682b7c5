// verify_optim.h: recomputes a fixture's optim_step.pt with hrm's optimizers (for `hrm verify-fixture`
// and the golden tests). No reference counterpart: the fixture README (optim_step.pt section) defines
// the procedure: from weights.pt, apply AdamATan2 with grad_<k>.* of train_step.pt and sparse sign-SGD
// with grad_<k>.model.inner.puzzle_emb.local_weights / local_ids_<k>, for k = 1, 2, ...
#pragma once

#include <torch/torch.h>

#include <string>
#include <vector>

namespace hrm::optim {

// Tolerance of every float32 group (parameters, moments, puzzle embeddings): |got - want| <= atol +
// rtol*|want| element-wise. Values are O(0.01..1) and one step moves them by ~lr, so float32 rounding
// of the same formula (the package's fused kernel vs. separate tensor ops) differs by ~1 ulp: 1e-7
// absolute at |want| <~ 1 plus 1e-5 relative leaves ~10x margin while a wrong formula (e.g. the bias
// correction moved inside atan2) is off by ~1e-4.
constexpr double kOptimAtol = 1e-7;
constexpr double kOptimRtol = 1e-5;

// Recomputes optim_step.pt from weights.pt and train_step.pt of fixture_dir on `device`; appends one
// line per tensor group and step (name, max abs err, max rel err, tolerance, PASS/FAIL, worst tensor
// and flat index; relative errors are taken against max(|expected|, atol)) to
// `report`; returns true when all pass. Missing files or keys throw hrm::FormatError naming them.
bool verify_optim_step(const std::string& fixture_dir, std::vector<std::string>& report,
                       torch::Device device = torch::kCPU);

}  // namespace hrm::optim
