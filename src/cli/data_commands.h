// data_commands.h: the subcommands of `hrm data`, one register_data_<name>() per cmd_data_<name>.cpp.
// cmd_data.cpp creates the `data` group and calls those whose files exist.
#pragma once

namespace CLI {
class App;
}

namespace hrm::cli {
void register_data_info(CLI::App& data);
void register_data_maze(CLI::App& data);
void register_data_sudoku(CLI::App& data);
void register_data_arc(CLI::App& data);
}  // namespace hrm::cli
