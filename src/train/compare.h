// compare.h: tensor comparison with evidence (llm.c's check_tensor, ggml's nmse), for golden checks.
#pragma once

#include <torch/types.h>

#include <string>
#include <vector>

namespace hrm {

struct Tolerance {
  double atol = 0, rtol = 0;  // elementwise: pass when |got - want| <= atol + rtol * |want| everywhere
  // When > 0, normwise instead: pass when ||got - want||_2 <= rel_l2 * ||want||_2. For a reduced-precision
  // run against float32 goldens, where single elements near zero have no meaningful relative error.
  double rel_l2 = 0;
};

struct CompareResult {
  std::string name;
  double max_abs = 0, max_rel = 0;  // largest |got - want| and |got - want| / |want| (|want| > 0)
  double rel_l2 = 0;                // ||got - want||_2 / ||want||_2 (0 when both are zero)
  Tolerance tol;
  bool pass = false;
  std::string detail;  // on failure: first mismatch index and the first values side by side
};

// Floating tensors compare with `tol` in float64; integer and bool tensors must be equal.
CompareResult compare_tensors(const std::string& name, const torch::Tensor& got, const torch::Tensor& want,
                              Tolerance tol);

// One line per result: name, max abs, max rel, relative L2, tolerance, PASS/FAIL (+ detail on failure).
std::string format_result(const CompareResult& r);

}  // namespace hrm
