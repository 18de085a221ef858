/*
 * train_log.hpp — what training reports: metrics.jsonl lines and the progress display.
 *
 * One record per logged step: step (iterations done), epoch (fractional), d_loss, g_loss,
 * d_real = mean D(x), d_fake = mean D(G(z)) in the D step, value = V(D,G), g_fake = mean
 * D(G(z)) in the G step, images_per_s (real images consumed per second since the last
 * record), skipped_g/skipped_d (updates skipped for non-finite values), time_s (seconds
 * from the log's start to the step, on the backend's read-back clock: when the device
 * finished the step, not when the host read it back).
 * On a terminal, a progress line redrawn in place (with ETA); otherwise plain lines.
 */
#pragma once

#include <memory>
#include <ostream>
#include <string>

#include "engine/io/atomic_file.hpp"
#include "engine/backend.hpp"

namespace gan {

class TrainLog {
 public:
  TrainLog(const std::string& metrics_path, std::ostream& out, bool terminal,
           int64_t iterations_per_epoch, int64_t total_iterations, int64_t start_iteration,
           int images_per_iteration);
  // Records the metrics/counters read back after c.iteration iterations, which the backend
  // finished `seconds` after the log's start (Backend::download_seconds after a mark_clock
  // at the start).
  void record(const StepMetrics& m, const StepCounters& c, double seconds);
  void message(const std::string& line);  // a line of its own (ends the progress line)
  void finish();

 private:
  AppendFile metrics_;
  std::ostream& out_;
  bool terminal_;
  bool line_open_ = false;
  int64_t per_epoch_, total_, start_, last_iteration_;
  int images_per_iteration_;
  double last_seconds_ = 0;
};

}  // namespace gan
