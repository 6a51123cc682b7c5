// cmd_solve.cpp: `hrm solve --checkpoint RUN_DIR/step_N PUZZLE`: a trained model answers a raw
// puzzle. PUZZLE is a Sudoku string of 81 characters (or 16 or 36 for the 4x4 and 6x6 Sudoku of
// `hrm data sudoku --size`), or a file of them, one per line; a maze as text
// (a file of side lines over "# SGo"), or an ARC task JSON (two attempts per test input by
// test-time augmentation and voting); for a task of one's own (docs/DATASETS.md), rows of token ids.
// Prints the answers with the ACT segments used and the model's confidence (sigmoid of q_halt);
// --json writes the same for programs.
// The reference has no such command (its users ask for one); answer/solve.h does the work.
#include <CLI/CLI.hpp>

#include <unistd.h>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <charconv>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>

#include "answer/puzzle_text.h"
#include "answer/solve.h"
#include "cli/commands.h"
#include "cli/validators.h"
#include "core/atomic_file.h"
#include "core/check.h"
#include "data/arc_scoring.h"
#include "data/maze.h"
#include "data/mini_sudoku.h"
#include "data/render_text.h"

namespace fs = std::filesystem;
using nlohmann::ordered_json;

namespace hrm::cli {
namespace {

struct SolveArgs {
  std::string puzzle, kind = "auto", halting = "max", json_out;
  answer::SolverOptions solver;
  int num_aug = 8;
  uint64_t seed = 0;
};

// The side of a Sudoku written as one line ('.' or '0' blank): 9, 6 or 4 (81, 36 or 16 cells of
// digits up to the side); 0 when the text is not one.
int sudoku_side(const std::string& s) {
  for (int side : {9, 6, 4}) {
    if (s.size() != static_cast<size_t>(side * side)) continue;
    for (char c : s)
      if (!(c == '.' || (c >= '0' && c <= '0' + side))) return 0;
    return side;
  }
  return 0;
}
bool is_sudoku_text(const std::string& s) { return sudoku_side(s) > 0; }

std::string trimmed(const std::string& s) {
  const size_t b = s.find_first_not_of(" \t"), e = s.find_last_not_of(" \t");
  return b == std::string::npos ? std::string() : s.substr(b, e - b + 1);
}

// Why a text of a Sudoku's length is not one: its first character that is no digit of the side.
std::string sudoku_text_error(const std::string& s) {
  for (int side : {9, 6, 4}) {
    if (s.size() != static_cast<size_t>(side * side)) continue;
    for (size_t i = 0; i < s.size(); ++i)
      if (!(s[i] == '.' || (s[i] >= '0' && s[i] <= '0' + side)))
        return fmt::format("a {0}x{0} Sudoku of {1} characters, but character {2} is '{3}' (expected 1-{0}, or . or 0 for a blank)",
                           side, s.size(), i + 1, s[i]);
  }
  return "neither a file nor a Sudoku of 81, 36 or 16 characters";
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    out.push_back(line);
  }
  return out;
}

// sudoku | maze | arc from the puzzle itself, so that a checkpoint of another kind is caught; a file
// that is neither clearly (no Sudoku first line, characters outside a maze's) goes to the parser of
// the checkpoint's kind, which names the bad line.
std::string detect_kind(const std::string& puzzle, answer::Kind checkpoint_kind) {
  if (!fs::is_regular_file(puzzle)) {
    if (is_sudoku_text(trimmed(puzzle))) return "sudoku";
    HRM_THROW(ConfigError, "puzzle '", puzzle.substr(0, 100), "' is ", sudoku_text_error(trimmed(puzzle)),
              " (a row of token ids? pass --kind tokens)");
  }
  if (fs::path(puzzle).extension() == ".json") return "arc";
  // A Sudoku file may have '#' comment lines; a maze's rows often start with '#' (a wall): the first
  // line that does not start with '#' says Sudoku, or every line is of a maze's characters.
  bool any = false, maze_characters = true, first = true;
  for (const std::string& line : lines_of(read_text_file(puzzle))) {
    const std::string t = trimmed(line);
    if (t.empty()) continue;
    any = true;
    maze_characters = maze_characters && t.find_first_not_of("# SGo") == std::string::npos;
    if (t[0] == '#' || !first) continue;
    first = false;
    if (is_sudoku_text(std::string(sudoku::split_list_line(t).cells))) return "sudoku";
  }
  if (!any) HRM_THROW(FormatError, puzzle, ": empty");
  if (maze_characters) return "maze";
  return checkpoint_kind == answer::Kind::kMaze ? "maze" : "sudoku";
}

ordered_json grid_json(const arc::Grid& g) {
  ordered_json rows = ordered_json::array();
  for (int r = 0; r < g.rows; ++r) {
    ordered_json row = ordered_json::array();
    for (int c = 0; c < g.cols; ++c) row.push_back(int(g.at(r, c)));
    rows.push_back(std::move(row));
  }
  return rows;
}

struct SudokuLine {
  std::string text, where, line;  // text: the cells; line: all of it, comment included
};

// The puzzle argument's Sudoku lines ('#' comments and blank lines of a file skipped; what follows a
// line's cells after a blank, ':', ';', '|' or '#' is a comment, as in `hrm data sudoku`'s lists).
std::vector<SudokuLine> sudoku_lines(const std::string& puzzle) {
  if (!fs::is_regular_file(puzzle)) return {{trimmed(puzzle), "puzzle", trimmed(puzzle)}};
  std::vector<SudokuLine> out;
  int line_no = 0;
  for (const std::string& line : lines_of(read_text_file(puzzle))) {
    ++line_no;
    const std::string t = trimmed(line);
    if (!t.empty() && t[0] != '#')
      out.push_back({std::string(sudoku::split_list_line(t).cells), puzzle + ":" + std::to_string(line_no), t});
  }
  return out;
}

// One Sudoku answer: its line on stdout (the drawing below it) and its entry in j["puzzles"].
void report_sudoku(size_t i, const answer::ModelAnswer& a, int halt_max_steps, bool valid, const std::string& drawing,
                   const std::string& puzzle, const std::string& answer, ordered_json& j) {
  std::printf("puzzle %zu: %d steps of %d, confidence %.3f, %s\n%s\n", i + 1, a.steps, halt_max_steps, a.confidence(),
              valid ? "a valid solution" : "NOT a valid solution", drawing.c_str());
  j["puzzles"].push_back({{"puzzle", puzzle},
                          {"answer", answer},
                          {"steps", a.steps},
                          {"confidence", a.confidence()},
                          {"q_halt_logit", a.q_halt_logit},
                          {"q_continue_logit", a.q_continue_logit},
                          {"valid", valid}});
}

// 4x4 and 6x6 Sudoku (data/mini_sudoku.h): token = digit + 1, blank 1, vocab side + 2; drawn with
// render_text as `hrm eval show=N` draws them.
void solve_mini_sudoku(answer::Solver& solver, const std::vector<SudokuLine>& lines, int side, answer::Halting halting,
                       ordered_json& j) {
  const data::MiniSudokuShape shape = data::mini_sudoku_shape(side);
  solver.check_fits(shape.cells(), side + 2, std::to_string(side) + "x" + std::to_string(side) + " Sudoku");
  std::vector<data::MiniGrid> puzzles;
  std::vector<std::vector<int32_t>> rows;
  for (const SudokuLine& l : lines) {
    data::MiniGrid g(static_cast<size_t>(shape.cells()));
    for (size_t i = 0; i < g.size(); ++i) g[i] = static_cast<uint8_t>(l.text[i] == '.' ? 0 : l.text[i] - '0');
    if (data::count_solutions(shape, g, 1) == 0)
      HRM_THROW(FormatError, l.where, ": the ", side, "x", side, " Sudoku '", l.text, "' has no solution");
    std::vector<int32_t> t(g.size());
    for (size_t i = 0; i < g.size(); ++i) t[i] = g[i] + 1;
    puzzles.push_back(std::move(g));
    rows.push_back(std::move(t));
  }
  const auto answers = solver.run(rows, std::vector<int32_t>(rows.size(), 0), halting);
  data::DatasetMetadata meta;
  meta.seq_len = shape.cells();
  meta.vocab_size = side + 2;
  j["puzzles"] = ordered_json::array();
  for (size_t i = 0; i < puzzles.size(); ++i) {
    const std::vector<int32_t>& t = answers[i].tokens;
    data::MiniGrid g(puzzles[i].size());
    bool agrees = true;
    for (size_t c = 0; c < g.size(); ++c) {
      g[c] = static_cast<uint8_t>(t[c] >= 2 && t[c] <= side + 1 ? t[c] - 1 : 0);
      agrees = agrees && g[c] != 0 && (puzzles[i][c] == 0 || puzzles[i][c] == g[c]);
    }
    // A full grid has one solution (itself) exactly when it obeys the rules.
    const bool valid = agrees && data::count_solutions(shape, g, 1) == 1;
    std::string answer;
    for (uint8_t d : g) answer.push_back(d == 0 ? '.' : static_cast<char>('0' + d));
    report_sudoku(i, answers[i], solver.halt_max_steps(), valid,
                  data::render_side_by_side(meta, {{"puzzle", rows[i], {}}, {"answer", t, {}}}), lines[i].text, answer, j);
  }
}

void solve_sudoku(answer::Solver& solver, const SolveArgs& a, answer::Halting halting, ordered_json& j) {
  const std::vector<SudokuLine> lines = sudoku_lines(a.puzzle);
  if (lines.empty()) HRM_THROW(FormatError, a.puzzle, ": no Sudoku in the file");
  const int first_side = sudoku_side(lines[0].text);
  const int side = first_side ? first_side : 9;  // not a Sudoku line: parse_grid below names the problem
  for (const SudokuLine& l : lines)
    if (sudoku_side(l.text) != side && (side != 9 || sudoku_side(l.text) != 0))
      HRM_THROW(FormatError, l.where, ": expected a ", side, "x", side, " Sudoku like the first one (", side * side,
                " characters of '.' or digits 0..", side, "), got '", l.line.substr(0, 100), "'");
  if (side != 9) return solve_mini_sudoku(solver, lines, side, halting, j);
  solver.check_fits(sudoku::kCells, 11, "Sudoku");
  std::vector<sudoku::Grid> puzzles;
  for (const SudokuLine& l : lines) puzzles.push_back(sudoku::parse_grid(l.text, l.where));
  std::vector<std::vector<int32_t>> rows;
  for (const auto& p : puzzles) rows.push_back(answer::sudoku_tokens(p));
  const auto answers = solver.run(rows, std::vector<int32_t>(rows.size(), 0), halting);
  j["puzzles"] = ordered_json::array();
  for (size_t i = 0; i < puzzles.size(); ++i) {
    const sudoku::Grid g = answer::sudoku_from_tokens(answers[i].tokens.data());
    const bool valid = sudoku::is_solution(g) && sudoku::agrees(puzzles[i], g);
    report_sudoku(i, answers[i], solver.halt_max_steps(), valid, answer::sudoku_render(g),
                  sudoku::to_string(puzzles[i], '.'), sudoku::to_string(g, '.'), j);
  }
}

void solve_maze(answer::Solver& solver, const SolveArgs& a, answer::Halting halting, ordered_json& j) {
  const std::string grid = answer::parse_maze_text(read_text_file(a.puzzle), a.puzzle);
  solver.check_fits(static_cast<int64_t>(grid.size()), data::maze::kVocabSize, "maze");
  const auto answers = solver.run({answer::maze_tokens(grid, a.puzzle)}, {0}, halting);
  const std::string drawn = answer::maze_from_tokens(answers[0].tokens.data(), static_cast<int64_t>(grid.size()));
  // The answer is right when it is the maze with exactly a shortest S-G path marked.
  data::maze::MazeRecord rec{"", grid, drawn, "", 1};
  std::string problem;
  int64_t length = -1;
  try {
    length = data::maze::check_maze(rec, data::maze::grid_side(grid), "answer");
  } catch (const FormatError& e) {
    problem = e.what();
  }
  std::printf("%d steps of %d, confidence %.3f, %s\n%s", answers[0].steps, solver.halt_max_steps(), answers[0].confidence(),
              problem.empty() ? ("a shortest path of " + std::to_string(length) + " moves").c_str()
                              : ("NOT a shortest path: " + problem).c_str(),
              answer::maze_render(drawn).c_str());
  j["puzzles"] = ordered_json::array();
  j["puzzles"].push_back({{"maze", grid},
                          {"answer", drawn},
                          {"steps", answers[0].steps},
                          {"confidence", answers[0].confidence()},
                          {"q_halt_logit", answers[0].q_halt_logit},
                          {"q_continue_logit", answers[0].q_continue_logit},
                          {"valid", problem.empty()},
                          {"problem", problem}});
}

void solve_arc_task(answer::Solver& solver, const SolveArgs& a, answer::Halting halting, ordered_json& j) {
  const arc::Task task = arc::load_task(a.puzzle, arc::TestOutputs::kOptional);  // a new task has no test outputs
  const answer::ArcSolveResult r = answer::solve_arc(solver, task, a.num_aug, halting, a.seed);
  std::printf("task %s: %zu augmented runs per test input (%s)\n", task.id.c_str(), r.augmentations.size(),
              r.known_task ? "the task's trained puzzle identifiers" : "unknown task: the blank identifier");
  j["task_id"] = task.id;
  j["known_task"] = r.known_task;
  j["runs"] = r.augmentations.size();
  j["tests"] = ordered_json::array();
  for (size_t t = 0; t < r.tests.size(); ++t) {
    const auto& ta = r.tests[t];
    const arc::Grid& label = task.test[t].output;
    const bool has_label = label.rows * label.cols > 0;
    const bool right1 = has_label && ta.attempt_1 == label, right2 = has_label && ta.attempt_2 == label;
    std::printf("test %zu: %zu distinct answers, mean %.1f steps\n", t + 1, ta.ranked.size(), ta.mean_steps);
    for (int k = 0; k < 2; ++k) {
      const auto& cand = ta.ranked[std::min<size_t>(static_cast<size_t>(k), ta.ranked.size() - 1)];
      std::printf("attempt_%d (%lld votes, confidence %.3f)%s:\n%s", k + 1, static_cast<long long>(cand.votes), cand.mean_q,
                  has_label ? ((k == 0 ? right1 : right2) ? " right" : " wrong") : "",
                  answer::arc_render(k == 0 ? ta.attempt_1 : ta.attempt_2).c_str());
    }
    ordered_json cands = ordered_json::array();
    for (size_t c = 0; c < ta.ranked.size() && c < 10; ++c)
      cands.push_back({{"grid", grid_json(ta.ranked[c].grid)}, {"votes", ta.ranked[c].votes}, {"confidence", ta.ranked[c].mean_q}});
    ordered_json tj = {{"attempt_1", grid_json(ta.attempt_1)}, {"attempt_2", grid_json(ta.attempt_2)},
                       {"mean_steps", ta.mean_steps}, {"candidates", cands}};
    if (has_label) tj["correct"] = right1 || right2;
    j["tests"].push_back(std::move(tj));
  }
  // The ARC Prize submission entry of this task, for programs that collect them (an empty crop is
  // [[0]] there, as in arc-score's submission.json; [] above).
  ordered_json sub = ordered_json::array();
  for (const auto& ta : r.tests)
    sub.push_back({{"attempt_1", arc::submission_grid(ta.attempt_1)}, {"attempt_2", arc::submission_grid(ta.attempt_2)}});
  j["submission"] = {{task.id, sub}};
}

// ---- a task of one's own: rows of token ids ----

// Token ids separated by blanks or commas: exactly seq_len of them, each in 0..vocab-1 (or -100 in an
// expected answer: a position not compared, as the datasets' ignored labels).
std::vector<int32_t> parse_token_row(const std::string& text, const std::string& where, const char* what,
                                     int64_t seq_len, int64_t vocab, bool allow_ignored) {
  std::string s = text;
  std::replace(s.begin(), s.end(), ',', ' ');
  std::istringstream in(s);
  std::vector<int32_t> out;
  for (std::string t; in >> t;) {
    int32_t v = 0;
    const auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), v);
    if (ec != std::errc() || end != t.data() + t.size())
      HRM_THROW(FormatError, where, ": token ", out.size() + 1, " of ", what, " is '", t.substr(0, 40),
                "', expected an integer token id 0..", vocab - 1);
    if ((v < 0 || v >= vocab) && !(allow_ignored && v == -100))
      HRM_THROW(FormatError, where, ": token ", out.size() + 1, " of ", what, " is ", v, ", outside the vocabulary 0..",
                vocab - 1, allow_ignored ? " (or -100: not compared)" : "");
    out.push_back(v);
  }
  if (static_cast<int64_t>(out.size()) != seq_len)
    HRM_THROW(FormatError, where, ": ", what, " has ", out.size(), " tokens; the checkpoint reads rows of seq_len ", seq_len);
  return out;
}

std::string token_text(const std::vector<int32_t>& t) {
  std::string out;
  for (size_t i = 0; i < t.size(); ++i) out += (i ? " " : "") + std::to_string(t[i]);
  return out;
}

// PUZZLE as rows: one inline, or a file's lines ('#' lines and blank ones skipped); after '|', the
// expected answer, optional.
void solve_token_rows(answer::Solver& solver, const SolveArgs& a, answer::Halting halting, ordered_json& j) {
  std::vector<std::string> lines, wheres;
  if (fs::is_regular_file(a.puzzle)) {
    int line_no = 0;
    for (const std::string& line : lines_of(read_text_file(a.puzzle))) {
      ++line_no;
      const std::string t = trimmed(line);
      if (t.empty() || t[0] == '#') continue;
      lines.push_back(t);
      wheres.push_back(a.puzzle + ":" + std::to_string(line_no));
    }
    if (lines.empty()) HRM_THROW(FormatError, a.puzzle, ": no row of tokens in the file");
  } else {
    // A row holds ids, blanks, commas, '|' and '-' only: anything else is a file name that does not exist.
    if (a.puzzle.find_first_not_of("0123456789 \t,|-") != std::string::npos)
      HRM_THROW(FormatError, "puzzle '", a.puzzle.substr(0, 100), "': no such file, and not a row of token ids");
    lines.push_back(trimmed(a.puzzle));
    wheres.push_back("puzzle");
  }
  std::vector<std::vector<int32_t>> rows, expected;
  for (size_t i = 0; i < lines.size(); ++i) {
    const size_t bar = lines[i].find('|');
    rows.push_back(parse_token_row(lines[i].substr(0, bar), wheres[i], "the row", solver.seq_len(), solver.vocab_size(), false));
    expected.push_back(bar == std::string::npos ? std::vector<int32_t>()
                                                : parse_token_row(lines[i].substr(bar + 1), wheres[i], "the expected answer",
                                                                  solver.seq_len(), solver.vocab_size(), true));
  }
  // Identifier 0: the blank one of hrm's builders and the reference's.
  const auto answers = solver.run(rows, std::vector<int32_t>(rows.size(), 0), halting);
  j["puzzles"] = ordered_json::array();
  int64_t compared = 0, right = 0;
  for (size_t i = 0; i < rows.size(); ++i) {
    const answer::ModelAnswer& ans = answers[i];
    ordered_json pj = {{"input", rows[i]},
                       {"answer", ans.tokens},
                       {"steps", ans.steps},
                       {"confidence", ans.confidence()},
                       {"q_halt_logit", ans.q_halt_logit},
                       {"q_continue_logit", ans.q_continue_logit}};
    std::string verdict;
    if (!expected[i].empty()) {
      int64_t differ = 0;
      for (size_t k = 0; k < ans.tokens.size(); ++k) differ += expected[i][k] != -100 && expected[i][k] != ans.tokens[k];
      ++compared;
      right += differ == 0;
      verdict = differ == 0 ? ", right" : fmt::format(", WRONG ({} of {} tokens differ)", differ, ans.tokens.size());
      pj["expected"] = expected[i];
      pj["right"] = differ == 0;
    }
    std::printf("row %zu: %d steps of %d, confidence %.3f%s\n  input:  %s\n  answer: %s\n", i + 1, ans.steps,
                solver.halt_max_steps(), ans.confidence(), verdict.c_str(), token_text(rows[i]).c_str(),
                token_text(ans.tokens).c_str());
    j["puzzles"].push_back(std::move(pj));
  }
  if (compared > 0) std::printf("%lld of %lld rows right\n", static_cast<long long>(right), static_cast<long long>(compared));
}

// While alive, what is printed to stdout goes to stderr: with --json -, stdout carries the JSON alone.
struct StdoutToStderr {
  int saved = -1;
  explicit StdoutToStderr(bool on) {
    if (!on) return;
    std::fflush(stdout);
    saved = ::dup(1);
    if (saved >= 0) ::dup2(2, 1);
  }
  ~StdoutToStderr() {
    if (saved < 0) return;
    std::fflush(stdout);
    ::dup2(saved, 1);
    ::close(saved);
  }
};

// What --json writes: one object with the solve's header keys (a run's metrics.jsonl, one object per
// line, does not parse as one document).
bool is_solve_json(const std::string& content) {
  const auto j = ordered_json::parse(content, nullptr, /*allow_exceptions=*/false);
  return j.is_object() && j.contains("kind") && j.contains("checkpoint") && j.contains("halting");
}

void run_solve(SolveArgs a) {
  if (a.halting != "max" && a.halting != "q")
    HRM_THROW(ConfigError, "--halt must be max (halt_max_steps, as the reference evaluates) or q (q_halt > q_continue), got '",
              a.halting, "'");
  if (!a.json_out.empty() && a.json_out != "-") check_replaceable(a.json_out, is_solve_json, "a JSON file of hrm solve's answers");
  if (a.kind != "auto" && a.kind != "sudoku" && a.kind != "maze" && a.kind != "arc" && a.kind != "tokens")
    HRM_THROW(ConfigError, "--kind must be auto, sudoku, maze, arc or tokens, got '", a.kind, "'");
  const answer::Halting halting = a.halting == "q" ? answer::Halting::kQ : answer::Halting::kMaxSteps;
  ordered_json j;
  {
    const StdoutToStderr readable_to_stderr(a.json_out == "-");
    answer::Solver solver(a.solver);
    // A checkpoint of a task of one's own reads token rows; otherwise the puzzle says what it is, so
    // that a puzzle of another kind than the checkpoint's is caught (Solver::check_fits).
    const answer::Kind checkpoint_kind = answer::kind_of(solver.seq_len(), solver.vocab_size());
    const bool own_task = checkpoint_kind == answer::Kind::kOther;
    const std::string kind = a.kind != "auto" ? a.kind : own_task ? "tokens" : detect_kind(a.puzzle, checkpoint_kind);
    j = {{"kind", kind}, {"checkpoint", a.solver.checkpoint}, {"halting", a.halting}, {"halt_max_steps", solver.halt_max_steps()}};
    if (kind == "sudoku") solve_sudoku(solver, a, halting, j);
    if (kind == "maze") solve_maze(solver, a, halting, j);
    if (kind == "arc") solve_arc_task(solver, a, halting, j);
    if (kind == "tokens") solve_token_rows(solver, a, halting, j);
  }
  std::fflush(stdout);
  if (!a.json_out.empty()) {
    // replace: a path or task name that is not UTF-8 (JSON's encoding) would otherwise fail here,
    // after the solve, with nothing written.
    if (a.json_out == "-")
      std::cout << j.dump(-1, ' ', false, ordered_json::error_handler_t::replace) << std::endl;
    else
      write_file_atomic(a.json_out, j.dump(2, ' ', false, ordered_json::error_handler_t::replace) + "\n");
  }
}

}  // namespace

void register_solve(CLI::App& app) {
  auto a = std::make_shared<SolveArgs>();
  auto* cmd = app.add_subcommand(
      "solve",
      "Answer a puzzle with a trained checkpoint (CPU by default): a Sudoku of 81 (or 36, 16) characters or a file of them, a maze "
      "text file, or an ARC task JSON (two attempts per test input by augmentation and voting); for a task of one's own, "
      "rows of token ids. Prints the answer, the ACT steps used and the confidence sigmoid(q_halt).");
  cmd->add_option("puzzle", a->puzzle,
                  "Sudoku string, or a file: Sudokus one per line, a maze, an ARC task .json; or token ids (blanks or "
                  "commas between them, seq_len of them, optionally '| EXPECTED ids' after), inline or a file of such rows")
      ->required();
  cmd->add_option("--checkpoint", a->solver.checkpoint, "RUN_DIR/step_N (RUN_DIR/all_config.yaml is read)")->required();
  cmd->add_option("--data", a->solver.data_dir, "the dataset it was trained on (default: data_path of all_config.yaml)");
  cmd->add_option("--device", a->solver.device, "cpu (default), cuda or cuda:N");
  cmd->add_option("--kind", a->kind,
                  "auto (default: tokens for a checkpoint of a task of one's own, else from the puzzle), sudoku, maze, arc "
                  "or tokens");
  cmd->add_option("--halt", a->halting,
                  "max: run halt_max_steps segments, as the reference evaluates (default); q: stop a puzzle at the "
                  "first segment where q_halt > q_continue");
  cmd->add_option("--num-aug", a->num_aug, "ARC: augmented copies voted besides the original (default 8)")
      ->check(CLI::Range(0, arc::kMaxAugmentations));
  cmd->add_option("--seed", a->seed, "ARC: seed of the augmentations drawn for a task the dataset lacks")
      ->check(non_negative());
  cmd->add_option("--json", a->json_out,
                  "also write the answers as JSON to this file ('-': stdout, with the readable answers moved to stderr)");
  cmd->add_option("--set", a->solver.overrides, "an all_config.yaml override key=value (repeatable)");
  cmd->add_flag("--resize-puzzle-emb", a->solver.resize_puzzle_emb,
                "load a checkpoint whose puzzle-embedding table has another row count than the dataset's identifiers "
                "(added rows = the mean of the old ones)");
  cmd->callback([a] { run_solve(*a); });
}

}  // namespace hrm::cli
