/*
 * train_log.cpp — metrics.jsonl records and progress lines.
 */
#include "apps/train_log.hpp"

#include <cstdio>
#include <nlohmann/json.hpp>

namespace gan {

namespace {

std::string format_duration(double seconds) {
  if (!(seconds >= 0) || seconds > 1e7) return "?";
  const long s = static_cast<long>(seconds + 0.5);
  char buf[32];
  if (s >= 3600)
    std::snprintf(buf, sizeof buf, "%ldh%02ldm", s / 3600, s / 60 % 60);
  else
    std::snprintf(buf, sizeof buf, "%ldm%02lds", s / 60, s % 60);
  return buf;
}

}  // namespace

TrainLog::TrainLog(const std::string& metrics_path, std::ostream& out, bool terminal,
                   int64_t iterations_per_epoch, int64_t total_iterations, int64_t start_iteration,
                   int images_per_iteration)
    : metrics_(metrics_path),
      out_(out),
      terminal_(terminal),
      per_epoch_(iterations_per_epoch),
      total_(total_iterations),
      start_(start_iteration),
      last_iteration_(start_iteration),
      images_per_iteration_(images_per_iteration) {}

void TrainLog::record(const StepMetrics& m, const StepCounters& c, double seconds) {
  const double dt = seconds - last_seconds_;
  const int64_t it = c.iteration;
  const double ips = dt > 0 ? static_cast<double>(it - last_iteration_) * images_per_iteration_ / dt
                            : 0.0;
  last_seconds_ = seconds;
  last_iteration_ = it;
  const double epoch = per_epoch_ > 0 ? static_cast<double>(it) / per_epoch_ : 0.0;
  nlohmann::json j;
  j["step"] = it;
  j["epoch"] = epoch;
  j["d_loss"] = m.d_loss;
  j["g_loss"] = m.g_loss;
  j["d_real"] = m.d_real;
  j["d_fake"] = m.d_fake;
  j["value"] = m.value;
  j["g_fake"] = m.g_fake;
  j["images_per_s"] = ips;
  j["skipped_g"] = c.skipped[0];
  j["skipped_d"] = c.skipped[1];
  j["time_s"] = seconds;
  metrics_.write(j.dump() + "\n");

  const double done = static_cast<double>(it - start_);
  const double eta = done > 0 ? seconds / done * static_cast<double>(total_ - it) : -1;
  char line[256];
  std::snprintf(line, sizeof line,
                "epoch %.2f step %lld/%lld  D %.4f  G %.4f  D(x) %.3f  D(G(z)) %.3f  %.0f img/s"
                "  ETA %s",
                epoch, static_cast<long long>(it), static_cast<long long>(total_), m.d_loss,
                m.g_loss, m.d_real, m.d_fake, ips, format_duration(eta).c_str());
  if (terminal_) {
    out_ << "\r\x1b[2K" << line << std::flush;
    line_open_ = true;
  } else {
    out_ << line << "\n" << std::flush;
  }
}

void TrainLog::message(const std::string& line) {
  if (line_open_) out_ << "\n";
  line_open_ = false;
  out_ << line << "\n" << std::flush;
}

void TrainLog::finish() {
  if (line_open_) out_ << "\n" << std::flush;
  line_open_ = false;
}

}  // namespace gan
