// test_report.cpp: tests of src/answer/report.cpp: curves from a metrics log, the evaluation table,
// the dataset sample of the browser, the JSON island that cannot close its <script>, and the page
// rendered in headless Chromium (grids drawn by its script, wrong cells marked, a non-blank
// screenshot).
#include <gtest/gtest.h>

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>

#include "answer/chromium.h"
#include "answer/report.h"
#include "core/atomic_file.h"
#include "core/check.h"
#include "data/dataset.h"
#include "test_paths.h"
#include "test_support.h"

namespace hrm::answer {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using hrm::testing::kDatasetFixtures;

std::vector<json> metrics() {
  std::vector<json> m{{{"step", 0}, {"num_params", 132994.0}}};  // as `hrm train` starts its log: a fact, not a curve
  for (int s = 1; s <= 6; ++s) m.push_back({{"step", s}, {"train/lm_loss", 3.0 / s}, {"train/accuracy", 0.1 * s}});
  m.push_back({{"step", 6}, {"all/exact_accuracy", 0.25}, {"all/lm_loss", 0.75}});
  return m;
}

// A Sudoku answer with two wrong cells, from the fixture's first test row.
AnswerView sudoku_answer() {
  const data::Dataset ds = data::Dataset::open(kDatasetFixtures / "sudoku-small", "test");
  AnswerView v;
  v.title = "row 0 </script><b>";  // must stay text
  v.input.resize(81), v.label.resize(81);
  ds.set("all").input_row(0, v.input.data());
  ds.set("all").label_row(0, v.label.data());
  v.pred = v.label;
  v.pred[3] = v.pred[3] == 2 ? 3 : 2;
  v.pred[40] = v.pred[40] == 2 ? 3 : 2;
  v.confidence = 0.75;
  return v;
}

ReportData sample_report() {
  ReportData r;
  r.title = "HRM report: test";
  r.run_dir = "/runs/x";
  r.config_yaml = "arch:\n  hidden_size: 32\n";
  r.metrics = metrics();
  r.outputs_path = "/runs/x/step_6_all_preds.0";
  r.answers_kind = Kind::kSudoku;
  r.answers_seq_len = 81;
  r.answers = {sudoku_answer()};
  r.answers_summary = "0 of 1 rows right";
  r.dataset = browse_dataset((kDatasetFixtures / "sudoku-small").string(), BrowseLimits{3, 2, 2});
  return r;
}

TEST(AnswerReport, CurvesFollowTheMetricsLog) {
  const auto curves = curves_from_metrics(metrics());
  // In order of first appearance (a line's keys sorted): training curves, then evaluation ones.
  ASSERT_EQ(curves.size(), 4u);
  EXPECT_EQ(curves[1].name, "train/lm_loss");
  ASSERT_EQ(curves[1].points.size(), 6u);
  EXPECT_EQ(curves[1].points[5], (std::pair<double, double>{6, 0.5}));
  EXPECT_EQ(curves[2].name, "all/exact_accuracy");
  const std::string svg = svg_curve(curves[1]);
  EXPECT_EQ(svg.rfind("<svg", 0), 0u);
  EXPECT_NE(svg.find("<polyline"), std::string::npos);
  EXPECT_NE(svg.find("train/lm_loss"), std::string::npos);
  EXPECT_EQ(testing::count_of(svg, "<circle"), 6u);
  EXPECT_NE(svg_curve(Curve{"nan", {{1, std::nan("")}}}).find("no finite values"), std::string::npos);
  // A constant curve is labelled with its value, not with an invented range around it (was "5e-10").
  const std::string flat = svg_curve(Curve{"flat", {{1, 0.0}, {2, 0.0}, {3, 0.0}}});
  EXPECT_EQ(flat.find("e-10"), std::string::npos) << flat;
  EXPECT_NE(flat.find(">0</text>"), std::string::npos) << flat;
}

// A line JSON cannot parse (NaN written by another tool) was "not a JSON object": the parser says why.
TEST(AnswerReport, AMetricsLineThatIsNotJsonNamesItsLineAndTheParsersReason) {
  const fs::path f = fs::temp_directory_path() / ("hrm_metrics_nan_" + std::to_string(::getpid()) + ".jsonl");
  const auto error_reading = [&](const std::string& content) -> std::string {
    write_file_atomic(f.string(), content);
    try {
      read_metrics_log(f.string());
    } catch (const FormatError& e) {
      return e.what();
    }
    return "(no error)";
  };
  const std::string nan = error_reading("{\"step\": 1}\n{\"step\": 2, \"train/lm_loss\": NaN}\n{\"step\": 3}\n");
  EXPECT_NE(nan.find(f.string() + ":2: not JSON: "), std::string::npos) << nan;
  const std::string array = error_reading("{\"step\": 1}\n[1, 2]\n");
  EXPECT_NE(array.find(f.string() + ":2: not a JSON object"), std::string::npos) << array;
  fs::remove(f);
}

TEST(AnswerReport, DatasetSampleTakesEvenlySpacedGroupsWithTheirNames) {
  const json d = browse_dataset((kDatasetFixtures / "arc-small").string(), BrowseLimits{2, 3, 2});
  EXPECT_EQ(d["kind"], "arc");
  EXPECT_EQ(d["seq_len"], 900);
  ASSERT_EQ(d["splits"].size(), 2u);
  const json& train = d["splits"][0];
  EXPECT_EQ(train["name"], "train");
  EXPECT_EQ(train["groups_total"], 7);
  ASSERT_EQ(train["groups"].size(), 2u);
  EXPECT_EQ(train["groups"][1]["index"], 3);  // 1 * 7 / 2
  const json& p = train["groups"][0]["puzzles"];
  ASSERT_EQ(p.size(), 3u);  // of 5 in the group
  EXPECT_EQ(train["groups"][0]["puzzles_total"], 5);
  EXPECT_EQ(p[0]["examples"].size(), 2u);
  EXPECT_EQ(p[0]["examples"][0]["input"].size(), 900u);
  const auto ids = data::read_identifiers((kDatasetFixtures / "arc-small").string());
  EXPECT_EQ(p[1]["name"], ids.at(p[1]["identifier"].get<size_t>()));
  EXPECT_THROW(browse_dataset((kDatasetFixtures / "arc-small" / "train").string(), {}), FormatError);
}

TEST(AnswerReport, PageHoldsEverySectionAndItsDataCannotCloseTheScript) {
  const std::string h = render_report(sample_report());
  for (const char* s : {"<section id=\"curves\">", "<section id=\"eval\">", "<table id=\"eval-metrics\">",
                        "<section id=\"answers\">", "<section id=\"browser\">", "id=\"hrm-data\"", "all_config.yaml"})
    EXPECT_NE(h.find(s), std::string::npos) << s;
  EXPECT_EQ(testing::count_of(h, "<svg"), 4u);
  EXPECT_EQ(testing::count_of(h, "</script>"), 2u);  // the JSON island's and the script's own
  EXPECT_EQ(h.find("http://"), h.find("http://www.w3.org/2000/svg"));  // nothing fetched
  EXPECT_EQ(h.find("https://"), std::string::npos);
  EXPECT_NE(h.find("<td>0.25</td>"), std::string::npos);
  EXPECT_NE(h.find("<span id=\"num-params\">132994</span> parameters"), std::string::npos);
  EXPECT_EQ(h.find("<th>num_params</th>"), std::string::npos);
}

// metrics.jsonl is the run's, but may have been edited or written by other tools: a line whose step
// is not a number is left out (it once reached the table unescaped: markup of the file's choosing),
// and NaN values (written as null) are drawn as gaps and shown as NaN, not dropped.
TEST(AnswerReport, MetricsOfOtherToolsCannotAddMarkupAndNanValuesAreShown) {
  std::vector<json> m = metrics();
  m.push_back({{"step", "<img src=x onerror=alert(1)>"}, {"all/accuracy", 0.5}});
  m.push_back({{"step", 7}, {"train/lm_loss", nullptr}});
  m.push_back({{"step", 8}, {"all/exact_accuracy", nullptr}, {"all/q_halt_loss", nullptr}});
  ReportData r = sample_report();
  r.metrics = m;
  const std::string h = render_report(r);
  EXPECT_EQ(h.find("<img src=x"), std::string::npos);
  EXPECT_NE(h.find("<tr><td>8</td><td>NaN</td>"), std::string::npos) << h.substr(h.find("eval-metrics"), 600);
  const auto curves = curves_from_metrics(m);
  const auto q = std::find_if(curves.begin(), curves.end(), [](const Curve& c) { return c.name == "all/q_halt_loss"; });
  ASSERT_NE(q, curves.end());  // a curve of NaN only: "no finite values", not missing
  EXPECT_NE(svg_curve(*q).find("no finite values"), std::string::npos);
}

TEST(AnswerReport, ChromiumDrawsTheGridsAndMarksWrongCells) {
  const std::string chromium = testing::find_chromium();
  if (chromium.empty()) GTEST_SKIP() << "no chromium on PATH (Debian package `chromium`; scripts/setup.sh installs it)";
  const fs::path dir = fs::temp_directory_path() / ("hrm_report_test_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const std::string html = (dir / "report.html").string();
  ReportData r = sample_report();
  r.answers.push_back(sudoku_answer());
  r.answers.back().confidence = std::nan("");  // a diverged model's q_halt: no confidence shown, the page still drawn
  write_file_atomic(html, render_report(r));

  const std::string dom = testing::chromium_dump_dom(chromium, html);
  ASSERT_NE(dom.find("data-rendered=\"yes\""), std::string::npos) << "the script did not finish:\n" << dom.substr(0, 2000);
  // Two answer cards (input, expected, model) and the browser's first group (2 puzzles of 1 example:
  // input and label each): 2 * 3 + 2 * 2 Sudoku grids of 81 cells.
  EXPECT_EQ(testing::count_of(dom, "class=\"grid sudoku\""), 10u);
  // Marked cells: their class list ends in "wrong" (after "given" or the box rules).
  EXPECT_EQ(testing::count_of(dom, "wrong\"") - testing::count_of(dom, "badge wrong\""), 4u);
  EXPECT_EQ(testing::count_of(dom, "class=\"badge wrong\""), 2u);
  EXPECT_EQ(testing::count_of(dom, "confidence 0.750"), 1u);  // the NaN one shows none
  EXPECT_EQ(dom.find("confidence NaN"), std::string::npos);
  EXPECT_NE(dom.find("row 0 &lt;/script&gt;&lt;b&gt;"), std::string::npos);
  EXPECT_NE(dom.find("group 0 of "), std::string::npos);

  const std::string png = (dir / "shot.png").string();
  ASSERT_TRUE(testing::chromium_screenshot(chromium, html, png, 1200, 1600));
  const testing::PngInfo info = testing::decode_png(png);
  ASSERT_TRUE(info.error.empty()) << info.error;
  EXPECT_EQ(info.width, 1200u);
  EXPECT_EQ(info.height, 1600u);
  EXPECT_GT(info.distinct_colours, 8u);  // text, curves, grid lines, the marked cells: not a blank page
  for (const auto& e : fs::directory_iterator(dir)) fs::remove(e.path());
  fs::remove(dir);
}

}  // namespace
}  // namespace hrm::answer
