// test_progress.cpp: tests src/train/progress.cpp: tqdm-style durations, plain status lines with
// step, rate, ETA, loss and accuracy when not on a terminal, and metrics.jsonl lines (trimmed to
// the resumed checkpoint's step on resume), and an evaluation's own bar.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/atomic_file.h"
#include "train/progress.h"
#include "train/tiny_task.h"

namespace hrm::train {
namespace {

TEST(Progress, FormatDurationAsTqdm) {
  EXPECT_EQ(format_duration(7), "0:07");
  EXPECT_EQ(format_duration(245), "4:05");
  EXPECT_EQ(format_duration(3723), "1:02:03");
  EXPECT_EQ(format_duration(-1), "?");
}

TEST(Progress, PlainLinesShowStepRateEtaLossAndAccuracy) {
  std::ostringstream out;
  Progress p(out, 1000, 0, /*tty=*/false);
  p.step(1);
  EXPECT_EQ(out.str(), "") << "no redraws when not on a terminal";
  p.metrics(120, {{"train/lm_loss", 1.23456}, {"train/accuracy", 0.5}, {"train/exact_accuracy", 0.25}});
  const std::string line = out.str();
  EXPECT_EQ(line.rfind("step 120/1000 12% | ", 0), 0u) << line;
  EXPECT_NE(line.find(" it/s | ETA "), std::string::npos) << line;
  EXPECT_NE(line.find("| loss 1.2346 acc 0.500 exact 0.250\n"), std::string::npos) << line;
  p.message("Epoch 2");
  EXPECT_NE(out.str().find("\nEpoch 2\n"), std::string::npos);
}

TEST(Progress, TerminalBarIsRedrawnInPlace) {
  std::ostringstream out;
  Progress p(out, 10, 0, /*tty=*/true);
  p.metrics(5, {{"train/lm_loss", 2.0}});
  EXPECT_EQ(out.str().rfind("\r[############............] step 5/10 50%", 0), 0u) << out.str();
  p.finish();
  EXPECT_EQ(out.str().back(), '\n');
}

// A long evaluation shows its own bar on a terminal (the training bar comes back after it); in a log
// it adds a line only once a minute, so a short one adds none.
TEST(Progress, EvaluationHasItsOwnBarOnATerminalAndClearsIt) {
  std::ostringstream out;
  Progress p(out, 10, 0, /*tty=*/true);
  p.metrics(5, {{"train/lm_loss", 2.0}});
  out.str("");
  p.evaluation(0, 8);
  p.evaluation(3, 8);
  p.evaluation(8, 8);  // the last is drawn however soon after the one before
  const std::string eval = out.str();
  EXPECT_EQ(eval.rfind("\r[........................] evaluating: batch 0/8 0% | 0.00 batches/s | ETA ?", 0), 0u) << eval;
  EXPECT_NE(eval.find("\r[########################] evaluating: batch 8/8 100% | "), std::string::npos) << eval;
  out.str("");
  p.end_evaluation();
  EXPECT_EQ(out.str().rfind("\r\033[K\r[############............] step 5/10 50%", 0), 0u) << out.str();

  std::ostringstream log;
  Progress plain(log, 10, 0, /*tty=*/false);
  for (int64_t done = 0; done <= 8; ++done) plain.evaluation(done, 8);
  plain.end_evaluation();
  EXPECT_EQ(log.str(), "");
  EXPECT_EQ(plain.evaluation_status(2, 8).rfind("evaluating: batch 2/8 25% | ", 0), 0u) << plain.evaluation_status(2, 8);
}

TEST(MetricsLog, WritesJsonLinesAndTrimsOnResume) {
  testing::TempDir dir("metrics_log");
  {
    MetricsLog log(dir.path.string(), std::nullopt);
    log.write(1, {{"train/lm_loss", 2.5}});
    log.write(2, {{"train/lm_loss", std::nan("")}});
    log.write(3, {{"train/lm_loss", 1.5}});
  }
  EXPECT_EQ(read_file((dir.path / "metrics.jsonl").string()),
            "{\"step\":1,\"train/lm_loss\":2.5}\n{\"step\":2,\"train/lm_loss\":null}\n{\"step\":3,\"train/lm_loss\":1.5}\n");
  MetricsLog resumed(dir.path.string(), 2);
  resumed.write(3, {{"x", 1.0}});
  EXPECT_EQ(read_file((dir.path / "metrics.jsonl").string()),
            "{\"step\":1,\"train/lm_loss\":2.5}\n{\"step\":2,\"train/lm_loss\":null}\n{\"step\":3,\"x\":1.0}\n");
}

}  // namespace
}  // namespace hrm::train
