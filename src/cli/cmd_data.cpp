// cmd_data.cpp: `hrm data ...`, the group of dataset builders and tools (the reference's
// dataset/build_*_dataset.py scripts as subcommands). Each subcommand lives in cmd_data_<name>.cpp.
#include <CLI/CLI.hpp>

#include "cli/commands.h"
#include "cli/data_commands.h"

namespace hrm::cli {

void register_data(CLI::App& app) {
  CLI::App* data = app.add_subcommand("data", "Build, import and inspect puzzle datasets (the reference's format)");
  data->require_subcommand(1);
  register_data_info(*data);
  register_data_maze(*data);
  register_data_sudoku(*data);
  register_data_arc(*data);
}

}  // namespace hrm::cli
