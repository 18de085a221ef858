/*
 * test_app_e2e.cpp — the real gan_cuda binary on the first 10,000 bundled MNIST digits: a small model
 * trains, writes metrics, samples and a checkpoint that reloads; same seed gives the same
 * bytes; --epochs 1 then --resume to 2 equals --epochs 2; `sample` writes PNG and IDX; a
 * non-finite loss stops a fresh run (tests/engine/test_resume.cpp: one after resuming).
 */
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "engine/io/atomic_file.hpp"
#include "engine/checkpoint.hpp"
#include "engine/io/idx.hpp"
#include "tests/support/process_runner.hpp"

namespace {

using namespace gan;
using namespace gan::test;

std::vector<std::string> train_args(const std::string& out, int epochs,
                                    std::vector<std::string> extra = {},
                                    const std::string& seed = "11") {
  std::vector<std::string> a = {"--out", out, "--epochs", std::to_string(epochs), "--seed", seed};
  a.insert(a.end(), extra.begin(), extra.end());
  return small_model_flags(a);
}

TEST_CASE("a small model trains end to end on the first 10,000 bundled digits") {
  TempDir tmp("e2e");
  const std::string out = tmp / "run";
  // Real label 1 (the default recipe smooths it to 0.9), so that the D loss is exactly -V.
  const ProcessResult r = run_gan(train_args(out, 1, {"--real-label", "1"}));
  INFO(r.out, r.err);
  REQUIRE(r.status == 0);
  CHECK(r.out.find("running on the CPU") == std::string::npos);  // --device cpu was explicit

  std::ifstream metrics(out + "/metrics.jsonl");
  int lines = 0;
  int64_t last_step = 0;
  double last_time = 0;
  for (std::string line; std::getline(metrics, line); ++lines) {
    const auto j = nlohmann::json::parse(line);
    for (const char* key : {"d_loss", "g_loss", "value"}) CHECK(std::isfinite(j[key].get<double>()));
    for (const char* key : {"d_real", "d_fake", "g_fake"}) {
      CHECK(j[key].get<double>() > 0.0);
      CHECK(j[key].get<double>() < 1.0);
    }
    CHECK(j["value"].get<double>() == doctest::Approx(-j["d_loss"].get<double>()));
    // one clock: the rate is the record's images over the time since the previous record
    const double t = j["time_s"].get<double>();
    CHECK(t > last_time);
    CHECK(j["images_per_s"].get<double>() ==
          doctest::Approx(double(j["step"].get<int64_t>() - last_step) * 64 / (t - last_time)));
    CHECK(j["step"].get<int64_t>() > last_step);
    last_step = j["step"].get<int64_t>();
    last_time = t;
  }
  CHECK(lines >= 7);  // 156 iterations, a record every 20 and one at the epoch's end
  CHECK(last_step == 10000 / 64);

  const auto png = read_file(out + "/samples/epoch_001.png");
  REQUIRE(png.size() > 8);
  CHECK(png[1] == 'P');
  CHECK(png[2] == 'N');
  CHECK(png[3] == 'G');

  const Checkpoint ck = load_checkpoint(out + "/checkpoint.safetensors");
  CHECK(ck.has_optimizer);
  CHECK(ck.config.batch_size == 64);
  CHECK(ck.config.spec.g_widths == std::vector<int>{32, 64});
  CHECK(ck.state.epoch == 1);
  CHECK(ck.state.counters.iteration == 156);
  CHECK(ck.state.counters.adam_step[0] == 156);

  SUBCASE("sample writes a PNG grid and IDX files that the IDX reader opens") {
    const ProcessResult s1 = run_gan({"sample", "--checkpoint", out + "/checkpoint.safetensors",
                                      "--n", "10", "--out", tmp / "s.png", "--device", "cpu"});
    INFO(s1.err);
    CHECK(s1.status == 0);
    CHECK(std::filesystem::file_size(tmp / "s.png") > 100);
    for (const char* name : {"s.idx", "s.idx.gz"}) {
      const ProcessResult s2 = run_gan({"sample", "--checkpoint", out + "/checkpoint.safetensors",
                                        "--n", "10", "--out", tmp / name, "--device", "cpu",
                                        "--seed", "5"});
      REQUIRE(s2.status == 0);
      const IdxArray a = read_idx(tmp / name, 3);
      CHECK(a.dims == std::vector<uint32_t>{10, 28, 28});
    }
    CHECK(read_idx(tmp / "s.idx", 3).data == read_idx(tmp / "s.idx.gz", 3).data);
  }
}

TEST_CASE("same seed and flags give a bit-identical run: --epochs 1 + --resume to 2 equals 2") {
  TempDir tmp("determinism");
  const std::vector<std::string> shrink = {"--g-widths", "16", "--d-widths", "16"};
  REQUIRE(run_gan(train_args(tmp / "a", 2, shrink)).status == 0);
  REQUIRE(run_gan(train_args(tmp / "b", 2, shrink)).status == 0);
  const auto a = read_file(tmp / "a/checkpoint.safetensors");
  CHECK(a == read_file(tmp / "b/checkpoint.safetensors"));

  REQUIRE(run_gan(train_args(tmp / "c", 1, shrink)).status == 0);
  std::vector<std::string> resume_flags = shrink;
  resume_flags.insert(resume_flags.end(), {"--resume", tmp / "c/checkpoint.safetensors"});
  const std::vector<std::string> resume = train_args(tmp / "c", 2, resume_flags);
  const ProcessResult r = run_gan(resume);
  INFO(r.err);
  REQUIRE(r.status == 0);
  CHECK(a == read_file(tmp / "c/checkpoint.safetensors"));

  // nothing left to do: says so and leaves the checkpoint alone
  const ProcessResult again = run_gan(resume);
  CHECK(again.status == 0);
  CHECK(again.out.find("nothing to do") != std::string::npos);
  CHECK(a == read_file(tmp / "c/checkpoint.safetensors"));

  // another seed, other weights
  REQUIRE(run_gan(train_args(tmp / "d", 1, shrink, "12")).status == 0);
  CHECK(load_checkpoint(tmp / "d/checkpoint.safetensors").state.params[0] !=
        load_checkpoint(tmp / "c/checkpoint.safetensors").state.params[0]);
}

TEST_CASE("a non-finite loss stops a fresh run: exit 1, the step named, no checkpoint written") {
  TempDir tmp("nan");
  const std::string out = tmp / "run";
  REQUIRE(run_gan(train_args(out, 1)).status == 0);
  const auto good = read_file(out + "/checkpoint.safetensors");
  // an absurd learning rate after resuming: rejected as differing from the checkpoint ...
  const ProcessResult differs =
      run_gan(train_args(out, 2, {"--resume", out + "/checkpoint.safetensors", "--lr", "1e30"}));
  CHECK(differs.status == 2);
  CHECK(differs.err.find("--lr differs") != std::string::npos);
  // ... so blow up a fresh run instead and check the message and the exit status
  const ProcessResult r = run_gan(train_args(tmp / "fresh", 1, {"--lr", "1e30"}));
  CHECK(r.status == 1);
  CHECK(r.err.find("non-finite") != std::string::npos);
  CHECK(r.err.find("at step ") != std::string::npos);
  CHECK(r.err.find("No checkpoint was written.") != std::string::npos);
  CHECK_FALSE(std::filesystem::exists(tmp / "fresh/checkpoint.safetensors"));
  CHECK(good == read_file(out + "/checkpoint.safetensors"));  // the refused resume wrote nothing
  // with --nan-policy skip it finishes and counts the skipped updates
  const ProcessResult s = run_gan(train_args(tmp / "skip", 1, {"--lr", "1e30", "--nan-policy", "skip"}));
  CHECK(s.status == 0);
  std::ifstream metrics(tmp / "skip/metrics.jsonl");
  std::string line, last;
  while (std::getline(metrics, line)) last = line;
  const auto j = nlohmann::json::parse(last);
  CHECK(j["skipped_g"].get<int64_t>() + j["skipped_d"].get<int64_t>() > 0);
}

}  // namespace

TEST_CASE("CPU backend flags: --threads N and --kernel OP=reference train, any thread count gives the same bytes") {
  TempDir tmp("cpu_variants");
  const std::vector<std::string> shrink = {"--g-widths", "16", "--d-widths", "16"};
  auto with = [&](const std::string& out, std::vector<std::string> extra) {
    std::vector<std::string> a = train_args(tmp / out, 1, shrink);
    a.insert(a.end(), extra.begin(), extra.end());  // after: repeated --kernel flags stay
    return a;
  };
  REQUIRE(run_gan(with("t3a", {"--threads", "3"})).status == 0);
  REQUIRE(run_gan(with("t3b", {"--threads", "3"})).status == 0);
  const auto t3 = read_file(tmp / "t3a/checkpoint.safetensors");
  CHECK(t3 == read_file(tmp / "t3b/checkpoint.safetensors"));
  REQUIRE(run_gan(with("t1", {"--threads", "1"})).status == 0);
  CHECK(t3 == read_file(tmp / "t1/checkpoint.safetensors"));  // any thread count, the same bytes

  const ProcessResult ref = run_gan(with("ref", {"--kernel", "dense_forward=reference", "--kernel",
                                                 "dense_backward=reference", "--kernel",
                                                 "adam=reference", "--kernel",
                                                 "check_finite=reference"}));
  INFO(ref.err);
  REQUIRE(ref.status == 0);
  // One epoch (156 Adam steps) from the same weights: Adam moves a parameter by at most ~lr
  // (2e-4) per step, so rounding differences leave fast and reference within 156 * 2 lr.
  const TrainState a = load_checkpoint(tmp / "ref/checkpoint.safetensors").state;
  const TrainState b = load_checkpoint(tmp / "t1/checkpoint.safetensors").state;
  for (int q = 0; q < 2; ++q) {
    REQUIRE(a.params[q].size() == b.params[q].size());
    double worst = 0;
    for (size_t i = 0; i < a.params[q].size(); ++i)
      worst = std::max(worst, double(std::abs(a.params[q][i] - b.params[q][i])));
    CHECK(worst <= 156 * 2 * 2e-4);
    CHECK(a.params[q] != b.params[q]);  // different arithmetic, really run
  }

  CHECK(run_gan(with("bad1", {"--threads", "0"})).status == 2);
  CHECK(run_gan(with("bad2", {"--kernel", "gemm=avx1024"})).status == 2);
  CHECK(run_gan(with("bad3", {"--kernel", "dense_forward=fused"})).status == 2);
}
