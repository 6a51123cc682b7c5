// compare.cpp: see compare.h.
#include "train/compare.h"

#include <torch/torch.h>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <limits>

namespace hrm {

CompareResult compare_tensors(const std::string& name, const torch::Tensor& got_in, const torch::Tensor& want_in,
                              Tolerance tol) {
  CompareResult r;
  r.name = name;
  r.tol = tol;
  if (!got_in.defined() || !want_in.defined()) {
    r.detail = got_in.defined() ? "missing in the fixture" : "not computed";
    return r;
  }
  auto got = got_in.detach().to(torch::kCPU);
  auto want = want_in.detach().to(torch::kCPU);
  if (got.sizes() != want.sizes()) {
    r.detail = fmt::format("shape {} != expected {}", fmt::join(got.sizes(), "x"), fmt::join(want.sizes(), "x"));
    return r;
  }
  const bool exact = !want.is_floating_point();
  if (exact) r.tol = Tolerance{0, 0, 0};
  auto g = got.to(torch::kFloat64).flatten(), w = want.to(torch::kFloat64).flatten();
  auto diff = (g - w).abs();
  const auto both_nan = g.isnan() & w.isnan();  // NaN where the golden has NaN is a match
  if (g.numel() == 0) {
    r.pass = true;
    return r;
  }
  r.max_abs = diff.max().item<double>();
  auto rel = diff / w.abs();
  rel = torch::where(w.abs() > 0, rel, torch::zeros_like(rel));
  r.max_rel = rel.max().item<double>();
  // Normwise over the golden's finite elements; its NaN and infinities must be matched exactly.
  const auto finite = torch::isfinite(w);
  const double want_norm = w.masked_fill(~finite, 0).norm().item<double>();
  const double diff_norm = diff.masked_fill(~finite, 0).norm().item<double>();  // NaN where got is not finite
  r.rel_l2 = diff_norm == 0 ? 0.0 : want_norm > 0 ? diff_norm / want_norm : std::numeric_limits<double>::infinity();
  if (r.tol.rel_l2 > 0) {  // normwise
    const bool specials_match = ((g == w) | both_nan | finite).all().item<bool>();
    r.pass = specials_match && r.rel_l2 <= r.tol.rel_l2;  // a NaN rel_l2 fails the <=
    if (!r.pass)
      r.detail = specials_match ? fmt::format("||got - want|| = {:.4g}, ||want|| = {:.4g}", diff_norm, want_norm)
                                : std::string("a NaN or infinity of the golden is not matched");
    return r;
  }
  auto bad = (diff > r.tol.atol + r.tol.rtol * w.abs()) | (g.isnan() != w.isnan());
  r.pass = !bad.any().item<bool>();
  if (!r.pass) {
    const int64_t first = bad.nonzero()[0][0].item<int64_t>();
    std::string side;
    for (int64_t i = first; i < std::min<int64_t>(first + 5, g.numel()); ++i)
      side += fmt::format(" [{}] {:.8g} vs {:.8g};", i, g[i].item<double>(), w[i].item<double>());
    r.detail = fmt::format("first mismatch at flat index {}:{}", first, side);
  }
  return r;
}

std::string format_result(const CompareResult& r) {
  const std::string tol = r.tol.rel_l2 > 0 ? fmt::format("tol(rel_l2 {:.0e})", r.tol.rel_l2)
                                            : fmt::format("tol(atol {:.0e}, rtol {:.0e})", r.tol.atol, r.tol.rtol);
  std::string s = fmt::format("{:<58} max_abs {:<11.3e} max_rel {:<11.3e} rel_l2 {:<11.3e} {}  {}", r.name, r.max_abs,
                              r.max_rel, r.rel_l2, tol, r.pass ? "PASS" : "FAIL");
  if (!r.pass && !r.detail.empty()) s += "\n    " + r.detail;
  return s;
}

}  // namespace hrm
