// commands.h: one register_<cmd>() per src/cli/cmd_<cmd>.cpp; main.cpp only dispatches.
// A subcommand exists in --help only when its file is built and registered here.
#pragma once

#include <string>
#include <vector>

namespace CLI {
class App;
}

namespace hrm::cli {
void register_verify_fixture(CLI::App& app);
void register_bench(CLI::App& app);
void register_data(CLI::App& app);
void register_train(CLI::App& app);
void register_eval(CLI::App& app);
void register_arc_score(CLI::App& app);
void register_solve(CLI::App& app);
void register_report(CLI::App& app);
void register_launch(CLI::App& app);

// `hrm launch [options] -- train ...`, as torchrun's users write it: the `--` right after launch's
// options is dropped from `args` (argv without the program), since CLI11's prefix_command would
// pass what follows it to hrm's own parser. A `--` anywhere else is left alone.
void drop_dashes_before_launched_command(const CLI::App& app, std::vector<std::string>& args);
}  // namespace hrm::cli
