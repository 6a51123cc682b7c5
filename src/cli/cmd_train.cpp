// cmd_train.cpp: `hrm train [--config FILE] key=value ...`, the reference's `python pretrain.py
// key=value ...` (Hydra overrides, arch keys as arch.key=value). See src/train/train_loop.h.
#include <CLI/CLI.hpp>

#include <iostream>
#include <memory>

#include "cli/commands.h"
#include "train/pretrain_config.h"
#include "train/train_loop.h"

namespace hrm::cli {

void register_train(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "train",
      "Train an HRM on a puzzle dataset (the reference's pretrain.py). Overrides are key=value and "
      "arch.key=value, e.g.: hrm train data_path=data/sudoku-extreme-1k-aug-1000 epochs=20000 "
      "eval_interval=2000 lr=1e-4 arch.L_cycles=8. resume=DIR continues a run from its last evaluation.");
  auto config_file = std::make_shared<std::string>();
  auto overrides = std::make_shared<std::vector<std::string>>();
  cmd->add_option("--config", *config_file,
                  "a cfg_pretrain.yaml-style file (default: the built-in values of configs/cfg_pretrain.yaml)")
      ->check(CLI::ExistingFile);
  cmd->add_option("overrides", *overrides, "key=value ...");
  cmd->footer("Keys and defaults (configs/cfg_pretrain.yaml, configs/arch/hrm_v1.yaml):\n" +
              train::to_yaml(train::PretrainConfig{}));
  cmd->callback([=] {
    const train::PretrainConfig config = train::load_pretrain_config(
        config_file->empty() ? std::nullopt : std::optional<std::string>(*config_file), *overrides);
    train::run_pretrain(config, std::cout);
  });
}

}  // namespace hrm::cli
