// commands.h: one register_<cmd>() per src/cli/cmd_<cmd>.cpp; main.cpp only dispatches.
// A subcommand exists in --help only when its file is built and registered here.
#pragma once

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
}  // namespace hrm::cli
