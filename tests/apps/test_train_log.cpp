/*
 * test_train_log.cpp — TrainLog on its own: the metrics.jsonl record of a step (every field,
 * images/s over the steps since the previous record), the progress line's ETA in minutes and
 * seconds or hours and minutes (rounded to the second, "?" when unknown or absurd), and the
 * terminal's redrawn line against plain lines.
 */
#include <doctest/doctest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "apps/train_log.hpp"
#include "tests/support/process_runner.hpp"

namespace {

using gan::StepCounters;
using gan::StepMetrics;
using gan::TrainLog;

StepCounters at(int64_t iteration) {
  StepCounters c;
  c.iteration = iteration;
  return c;
}

std::vector<nlohmann::json> records(const std::string& path) {
  std::ifstream f(path);
  std::vector<nlohmann::json> out;
  for (std::string line; std::getline(f, line);) out.push_back(nlohmann::json::parse(line));
  return out;
}

// The ETA printed for one record at `iteration` of `total`, `seconds` after a start at 0.
std::string eta_for(int64_t iteration, int64_t total, double seconds) {
  gan::test::TempDir tmp("train_log");
  std::ostringstream out;
  TrainLog log(tmp / "metrics.jsonl", out, false, 100, total, 0, 128);
  log.record(StepMetrics{}, at(iteration), seconds);
  const std::string line = out.str();
  const size_t p = line.find("ETA ");
  REQUIRE(p != std::string::npos);
  return line.substr(p + 4, line.size() - p - 5);  // without the newline
}

}  // namespace

TEST_CASE("train log: a record holds every field, images/s over the steps since the last") {
  gan::test::TempDir tmp("train_log");
  std::ostringstream out;
  TrainLog log(tmp / "metrics.jsonl", out, false, 50, 500, 100, 256);
  StepMetrics m;
  m.d_loss = 1.25f;
  m.g_loss = 0.75f;
  m.d_real = 0.625f;
  m.d_fake = 0.375f;
  m.value = -1.25f;
  m.g_fake = 0.5f;
  StepCounters c = at(150);
  c.skipped[0] = 2;
  c.skipped[1] = 3;
  log.record(m, c, 4.0);         // 50 steps of 256 images in 4 s
  log.record(m, at(175), 6.0);   // 25 steps in the next 2 s
  log.record(m, at(175), 6.0);   // no time passed: no rate
  const std::vector<nlohmann::json> r = records(tmp / "metrics.jsonl");
  REQUIRE(r.size() == 3);
  CHECK(r[0]["step"] == 150);
  CHECK(r[0]["epoch"].get<double>() == doctest::Approx(3.0));
  CHECK(r[0]["d_loss"].get<double>() == 1.25);
  CHECK(r[0]["g_loss"].get<double>() == 0.75);
  CHECK(r[0]["d_real"].get<double>() == 0.625);
  CHECK(r[0]["d_fake"].get<double>() == 0.375);
  CHECK(r[0]["value"].get<double>() == -1.25);
  CHECK(r[0]["g_fake"].get<double>() == 0.5);
  CHECK(r[0]["skipped_g"] == 2);
  CHECK(r[0]["skipped_d"] == 3);
  CHECK(r[0]["time_s"].get<double>() == 4.0);
  CHECK(r[0]["images_per_s"].get<double>() == doctest::Approx(50.0 * 256 / 4.0));
  CHECK(r[1]["images_per_s"].get<double>() == doctest::Approx(25.0 * 256 / 2.0));
  CHECK(r[1]["epoch"].get<double>() == doctest::Approx(3.5));
  CHECK(r[2]["images_per_s"].get<double>() == 0.0);
  // Plain lines, one per record: step, losses, rate, and the ETA from the rate since the
  // log's start (50 steps in 4 s, 350 to go: 28 s).
  const std::string text = out.str();
  CHECK(text.find("\r") == std::string::npos);
  CHECK(text.find("epoch 3.00 step 150/500  D 1.2500  G 0.7500  D(x) 0.625  D(G(z)) 0.375"
                  "  3200 img/s  ETA 0m28s\n") == 0);
}

TEST_CASE("train log: the ETA in minutes and seconds, hours and minutes, or ? when unknown") {
  CHECK(eta_for(1, 2, 59.4) == "0m59s");
  CHECK(eta_for(1, 2, 59.5) == "1m00s");  // rounded to the nearest second
  CHECK(eta_for(50, 100, 100.0) == "1m40s");
  CHECK(eta_for(1, 2, 3599.4) == "59m59s");
  CHECK(eta_for(1, 2, 3600.0) == "1h00m");
  CHECK(eta_for(1, 1000, 10.0) == "2h46m");  // 9,990 s
  CHECK(eta_for(1, 2, 1e7) == "2777h46m");
  CHECK(eta_for(1, 2, 1.1e7) == "?");  // past 1e7 s: a clock gone wrong, not a forecast
  CHECK(eta_for(0, 2, 5.0) == "?");    // no step done since the start: no rate yet
}

TEST_CASE("train log: a terminal gets one line redrawn in place, ended before a message") {
  gan::test::TempDir tmp("train_log");
  std::ostringstream out;
  TrainLog log(tmp / "metrics.jsonl", out, true, 10, 100, 0, 64);
  log.record(StepMetrics{}, at(10), 1.0);
  log.record(StepMetrics{}, at(20), 2.0);
  log.message("warning: something");
  log.message("warning: more");  // already on a line of its own: no blank line
  log.record(StepMetrics{}, at(30), 3.0);
  log.finish();
  log.finish();  // a second finish adds nothing
  const std::string s = out.str();
  const std::string redraw = "\r\x1b[2K";
  CHECK(s.find(redraw + "epoch 1.00 step 10/100") == 0);
  CHECK(s.find(redraw + "epoch 2.00 step 20/100") != std::string::npos);
  CHECK(s.find("ETA 0m08s\nwarning: something\nwarning: more\n" + redraw +
               "epoch 3.00 step 30/100") != std::string::npos);
  CHECK(s.size() - s.rfind("ETA 0m07s\n") == std::string("ETA 0m07s\n").size());
  CHECK(records(tmp / "metrics.jsonl").size() == 3);
}
