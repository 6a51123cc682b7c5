// progress.cpp: see progress.h (pretrain.py's tqdm bar and wandb.log).
#include "train/progress.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <ostream>
#include <sstream>

#include "core/atomic_file.h"
#include "core/check.h"

namespace fs = std::filesystem;

namespace hrm::train {
namespace {

std::optional<double> find(const MetricValues& m, const std::string& name) {
  for (const auto& [k, v] : m)
    if (k == name) return v;
  return std::nullopt;
}

std::string fixed(double v, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

// "[#########...............] " for done of total.
std::string bar(int64_t done, int64_t total) {
  constexpr int kWidth = 24;
  const int filled = total > 0 ? static_cast<int>(kWidth * std::min(done, total) / total) : 0;
  return "[" + std::string(static_cast<size_t>(filled), '#') + std::string(static_cast<size_t>(kWidth - filled), '.') + "] ";
}

}  // namespace

std::string format_duration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "?";
  const int64_t s = static_cast<int64_t>(std::llround(seconds));
  char buf[48];
  if (s >= 3600)
    std::snprintf(buf, sizeof buf, "%lld:%02lld:%02lld", static_cast<long long>(s / 3600),
                  static_cast<long long>(s / 60 % 60), static_cast<long long>(s % 60));
  else
    std::snprintf(buf, sizeof buf, "%lld:%02lld", static_cast<long long>(s / 60), static_cast<long long>(s % 60));
  return buf;
}

Progress::Progress(std::ostream& out, int64_t total_steps, int64_t start_step, bool tty)
    : out_(out), total_(total_steps), start_(start_step), tty_(tty), t0_(std::chrono::steady_clock::now()),
      last_draw_(t0_), last_step_(start_step) {}

std::string Progress::status(int64_t step) const {
  const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0_).count();
  const int64_t done = step - start_;
  const double rate = elapsed > 0 && done > 0 ? done / elapsed : 0.0;
  const int64_t shown = std::min(step, total_);
  std::ostringstream os;
  os << "step " << shown << "/" << total_;
  if (total_ > 0) os << " " << (100 * shown / total_) << "%";
  os << " | " << (rate >= 10 ? fixed(rate, 1) : fixed(rate, 2)) << " it/s";
  os << " | ETA " << (rate > 0 ? format_duration((total_ - shown) / rate) : std::string("?"));
  if (loss_) os << " | loss " << fixed(*loss_, 4);
  if (acc_) os << " acc " << fixed(*acc_, 3);
  if (exact_) os << " exact " << fixed(*exact_, 3);
  return os.str();
}

void Progress::redraw(int64_t step, bool force) {
  const auto now = std::chrono::steady_clock::now();
  if (!force && drawn_ && now - last_draw_ < std::chrono::milliseconds(100)) return;
  last_draw_ = now;
  drawn_ = true;
  out_ << "\r" << bar(step, total_) << status(step) << "\033[K" << std::flush;
}

void Progress::step(int64_t step) {
  last_step_ = step;
  if (tty_) redraw(step, false);
}

void Progress::metrics(int64_t step, const MetricValues& m) {
  last_step_ = step;
  if (auto v = find(m, "train/lm_loss")) loss_ = v;
  if (auto v = find(m, "train/accuracy")) acc_ = v;
  if (auto v = find(m, "train/exact_accuracy")) exact_ = v;
  if (tty_)
    redraw(step, true);
  else
    out_ << status(step) << "\n" << std::flush;
}

void Progress::message(const std::string& text) {
  if (tty_ && drawn_) out_ << "\r\033[K";
  out_ << text << "\n" << std::flush;
  if (tty_ && drawn_) redraw(last_step_, true);
}

void Progress::finish() {
  if (tty_ && drawn_) {
    redraw(last_step_, true);
    out_ << "\n" << std::flush;
    drawn_ = false;
  }
}

std::string Progress::evaluation_status(int64_t done, int64_t total) const {
  const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - eval_t0_).count();
  const double rate = elapsed > 0 && done > 0 ? done / elapsed : 0.0;
  std::ostringstream os;
  os << "evaluating: batch " << done << "/" << total;
  if (total > 0) os << " " << (100 * done / total) << "%";
  os << " | " << (rate >= 10 ? fixed(rate, 1) : fixed(rate, 2)) << " batches/s";
  os << " | ETA " << (rate > 0 ? format_duration((total - done) / rate) : std::string("?"));
  return os.str();
}

void Progress::evaluation(int64_t done, int64_t total) {
  const auto now = std::chrono::steady_clock::now();
  if (done == 0) eval_t0_ = eval_last_line_ = now;
  if (!tty_) {
    if (now - eval_last_line_ < std::chrono::minutes(1)) return;
    eval_last_line_ = now;
    out_ << evaluation_status(done, total) << "\n" << std::flush;
    return;
  }
  if (eval_drawn_ && done < total && now - last_draw_ < std::chrono::milliseconds(100)) return;
  last_draw_ = now;
  eval_drawn_ = true;
  out_ << "\r" << bar(done, total) << evaluation_status(done, total) << "\033[K" << std::flush;
}

void Progress::end_evaluation() {
  if (!tty_ || !eval_drawn_) return;
  eval_drawn_ = false;
  out_ << "\r\033[K" << std::flush;
  if (drawn_) redraw(last_step_, true);
}

MetricsLog::MetricsLog(const std::string& dir, std::optional<int64_t> keep_up_to_step)
    : path_((fs::path(dir) / "metrics.jsonl").string()) {
  fs::create_directories(dir);
  if (!keep_up_to_step) {
    write_file_atomic(path_, "");
  } else if (fs::exists(path_)) {
    std::istringstream in(read_file(path_));
    std::string line, kept;
    while (std::getline(in, line)) {
      if (line.empty()) continue;
      nlohmann::json j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
      if (!j.is_object()) continue;  // cut by a kill while appending (and joined by the next append)
      if (j.contains("step") && j["step"].is_number_integer() && j["step"].get<int64_t>() > *keep_up_to_step) continue;
      kept += line + "\n";
    }
    write_file_atomic(path_, kept);
  }
}

void MetricsLog::write(int64_t step, const MetricValues& m) {
  nlohmann::ordered_json j = nlohmann::ordered_json::object();
  j["step"] = step;
  for (const auto& [k, v] : m) j[k] = std::isfinite(v) ? nlohmann::ordered_json(v) : nlohmann::ordered_json(nullptr);
  std::ofstream out(path_, std::ios::app);
  if (!out) HRM_THROW(Error, "cannot append to ", path_);
  out << j.dump() << "\n";
  out.flush();
}

}  // namespace hrm::train
