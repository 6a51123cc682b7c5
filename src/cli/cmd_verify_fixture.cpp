// cmd_verify_fixture.cpp: `hrm verify-fixture DIR...` recomputes reference fixtures and compares.
#include <CLI/CLI.hpp>

#include <iostream>

#include "cli/commands.h"
#include "core/check.h"
#include "train/verify_fixture.h"

namespace hrm::cli {

void register_verify_fixture(CLI::App& app) {
  auto* cmd = app.add_subcommand("verify-fixture",
                                 "Recompute a reference fixture folder (config.json, weights.pt, batch.pt, ...) and "
                                 "compare every tensor; exits non-zero on any mismatch or missing piece");
  auto dirs = std::make_shared<std::vector<std::string>>();
  auto device = std::make_shared<std::string>("cpu");
  auto quiet = std::make_shared<bool>(false);
  auto opts = std::make_shared<VerifyOptions>();
  cmd->add_option("dirs", *dirs, "fixture folders")->required()->check(CLI::ExistingDirectory);
  cmd->add_option("--device", *device, "cpu or cuda[:N]")->capture_default_str();
  cmd->add_option("--forward-dtype", opts->forward_dtype,
                  "recompute in this forward_dtype instead of the fixture's (e.g. bfloat16 against float32 goldens: "
                  "implies --rel-l2 0.3 unless given)")
      ->check(CLI::IsMember({"float32", "bfloat16", "float16"}));
  cmd->add_option("--rel-l2", opts->rel_l2,
                  "normwise mode: compare the evaluation trace by relative L2 error with this tolerance (halting "
                  "exact, accuracy metrics and the train pieces left out); for reduced precision or bfloat16 "
                  "goldens on another device")
      ->check(CLI::PositiveNumber);
  cmd->add_flag("--quiet", *quiet, "print only failures and the summary");
  cmd->callback([=] {
    int failed = 0;
    for (const auto& dir : *dirs) {
      VerifyOptions o = *opts;
      o.device = torch::Device(*device);
      VerifyReport report;
      try {
        report = verify_fixture(dir, o);
      } catch (const hrm::Error& e) {  // a damaged folder: say so and go on to the next one
        if (dirs->size() == 1) throw;
        std::cout << dir << ": cannot be checked: " << e.what() << "\n";
        ++failed;
        continue;
      }
      for (const auto& line : report.lines)
        if (!*quiet || line.find("FAIL") != std::string::npos || line.rfind("MISSING", 0) == 0)
          std::cout << line << "\n";
      std::cout << dir << ": " << report.checked << " checked, " << report.failed << " failed, " << report.missing
                << " missing: " << (report.ok() ? "OK" : "MISMATCH") << "\n";
      if (!report.ok()) ++failed;
    }
    if (failed) throw hrm::Error(std::to_string(failed) + " fixture folder(s) did not match the reference");
  });
}

}  // namespace hrm::cli
