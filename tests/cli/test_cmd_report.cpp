// test_cmd_report.cpp: tests of `hrm report` (src/cli/cmd_report.cpp) through the built binary: the
// report of a tiny Sudoku run (curves of its metrics log, its evaluation, answers from its saved
// outputs, the dataset of its config) rendered in headless Chromium, a dataset-only report, and
// the error without inputs.
#include <gtest/gtest.h>

#include <fstream>

#include "answer/chromium.h"
#include "cli/answer_runs.h"
#include "core/atomic_file.h"

namespace hrm::testing {
namespace {

using train::testing::TempDir;

TEST(CmdReport, RunReportShowsCurvesEvaluationAnswersAndTheDataset) {
  const AnswerRun& run = answer_run("sudoku-small");
  TempDir dir("report_run");
  const std::string html = (dir.path / "r.html").string();
  const auto r = run_hrm({"report", "--run", run.dir.string(), "--out", html, "--samples", "4"});
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find(" 4 answers, dataset "), std::string::npos) << r.output;
  const std::string page = read_file(html);
  for (const char* s : {"<svg", "train/lm_loss", "all/exact_accuracy", "<table id=\"eval-metrics\">", "_all_preds.0</code>",
                        "rows right", "id=\"browser-split\""})
    EXPECT_NE(page.find(s), std::string::npos) << s;

  const std::string chromium = find_chromium();
  if (chromium.empty()) GTEST_SKIP() << "no chromium on PATH (Debian package `chromium`; scripts/setup.sh installs it)";
  const std::string dom = chromium_dump_dom(chromium, html);
  ASSERT_NE(dom.find("data-rendered=\"yes\""), std::string::npos) << dom.substr(0, 2000);
  EXPECT_EQ(count_of(dom, "class=\"card answer\""), 4u);
  EXPECT_GE(count_of(dom, "class=\"grid sudoku\""), 4u * 3u + 1u);  // input, expected, model; and the browser
  const std::string png = (dir.path / "shot.png").string();
  ASSERT_TRUE(chromium_screenshot(chromium, html, png, 1000, 1400));
  const PngInfo info = decode_png(png);
  ASSERT_TRUE(info.error.empty()) << info.error;
  EXPECT_GT(info.distinct_colours, 8u);
}

// A run appending to metrics.jsonl (or killed while it did) leaves a last line without its newline:
// the report leaves it out; --out never replaces a file that is not a report.
TEST(CmdReport, UnfinishedLastMetricsLineIsLeftOutAndOtherFilesAreNotReplaced) {
  const AnswerRun& run = answer_run("sudoku-small");
  TempDir dir("report_live");
  const fs::path copy = dir.path / "run";
  fs::create_directories(copy);
  for (const char* f : {"all_config.yaml", "metrics.jsonl"}) fs::copy_file(run.dir / f, copy / f);
  { std::ofstream(copy / "metrics.jsonl", std::ios::app) << "{\"step\": 99, \"train/lm_"; }
  const auto r = run_hrm({"report", "--run", copy.string()});
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("note: the last line of " + (copy / "metrics.jsonl").string() + " is unfinished"), std::string::npos)
      << r.output;
  fs::remove(copy / "metrics.jsonl");  // a run without its log: the report says what it lacks
  const auto n = run_hrm({"report", "--run", copy.string()});
  EXPECT_EQ(n.status, 0) << n.output;
  EXPECT_NE(n.output.find("is not there: the report has no training curves"), std::string::npos) << n.output;
  const std::string data = (dir.path / "not_html.npy").string();
  write_file_atomic(data, "\x93NUMPY...");
  const auto c = run_hrm({"report", "--run", copy.string(), "--out", data});
  EXPECT_NE(c.status, 0);
  EXPECT_NE(c.output.find("exists and is not an HTML report"), std::string::npos) << c.output;
  EXPECT_EQ(read_file(data), "\x93NUMPY...");
}

TEST(CmdReport, DatasetOnlyReportBrowsesAnArcDataset) {
  TempDir dir("report_data");
  const std::string html = (dir.path / "d.html").string();
  const auto r = run_hrm({"report", "--data", fixture_dataset("arc-small").string(), "--out", html, "--groups", "3"});
  ASSERT_EQ(r.status, 0) << r.output;
  const std::string page = read_file(html);
  EXPECT_NE(page.find("arc, seq_len 900, vocab 12"), std::string::npos);
  EXPECT_NE(page.find("No metrics log."), std::string::npos);
  EXPECT_NE(page.find("\"31d5ba1a\""), std::string::npos);  // the names of the identifiers
  const std::string chromium = find_chromium();
  if (chromium.empty()) GTEST_SKIP() << "no chromium on PATH";
  const std::string dom = chromium_dump_dom(chromium, html);
  EXPECT_GT(count_of(dom, "class=\"grid arc\""), 2u);
  EXPECT_NE(dom.find("background-color: rgb("), std::string::npos);  // ARC colours drawn
}

TEST(CmdReport, NeedsARunOrADataset) {
  const auto r = run_hrm({"report"});
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.output.find("give --run RUN_DIR, --data DATASET_DIR or both"), std::string::npos) << r.output;
}

TEST(CmdReport, ADatasetGivenAsTheRunIsNamedAndNothingIsWrittenInIt) {
  const std::string data = std::string(HRM_SHARED_DIR) + "/fixtures/datasets/sudoku-small";
  TempDir dir("report_dataset_as_run");
  const auto r = run_hrm({"report", "--run", data, "--out", (dir.path / "r.html").string()});
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_NE(r.output.find("is not a run folder"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("hrm report --data " + data), std::string::npos) << r.output;
  EXPECT_FALSE(std::filesystem::exists(dir.path / "r.html"));
}

}  // namespace
}  // namespace hrm::testing
