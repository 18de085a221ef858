/*
 * test_resume.cpp — continuing a training run from a checkpoint, in process (run_train) and
 * through the real gan_cuda binary, on a small slice of the bundled digits:
 *   - a checkpoint taken in the middle of epoch 2 of a --d-steps 2 run continues to a final
 *     checkpoint byte-identical to the uninterrupted run's (the resumed epoch starts at
 *     iteration batch_cursor / k, and its permutation is the saved epoch's);
 *   - a non-finite step after resuming stops with exit status 1, says that the last good
 *     checkpoint was left as it was, and leaves it byte-identical.
 * The mid-epoch checkpoint is made by a Trainer in this process from the run's own epoch-1
 * checkpoint, so it lies at a chosen step (a signal would land at a random one).
 */
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "apps/app.hpp"
#include "engine/io/atomic_file.hpp"
#include "engine/checkpoint.hpp"
#include "apps/cli_options.hpp"
#include "engine/io/idx.hpp"
#include "engine/trainer.hpp"
#include "kernels/cpu/cpu_backend.hpp"
#include "tests/support/process_runner.hpp"
#include "tests/support/test_util.hpp"

namespace {

using namespace gan;
using namespace gan::test;

constexpr int kImages = 256, kBatch = 16, kSteps = 2;
constexpr int kPerEpoch = kImages / (kBatch * kSteps);  // 8 iterations

// The first kImages training digits as raw IDX files in `dir`.
void write_small_data(const std::string& dir) {
  const Dataset d = first_images(load_mnist(GAN_SOURCE_DIR "/data/mnist", Split::Train), kImages);
  std::filesystem::create_directories(dir);
  write_idx(dir + "/train-images-idx3-ubyte",
            {uint32_t(d.count), uint32_t(d.rows), uint32_t(d.cols)}, d.images.data());
  write_idx(dir + "/train-labels-idx1-ubyte", {uint32_t(d.count)}, d.labels.data());
}

std::vector<std::string> run_args(const std::string& data, const std::string& out, int epochs,
                                  std::vector<std::string> extra = {}) {
  std::vector<std::string> a = {"--device",     "cpu",    "--data",        data,
                                "--out",        out,      "--epochs",      std::to_string(epochs),
                                "--batch-size", std::to_string(kBatch),    "--d-steps",
                                std::to_string(kSteps),   "--z-dim",       "8",
                                "--g-widths",   "16,24",  "--d-widths",    "24,16",
                                "--log-every",  "3",      "--sample-every", "100",
                                "--seed",       "21"};
  a.insert(a.end(), extra.begin(), extra.end());
  return a;
}

// `gan_cuda train <args>` in this process: run_train's exit status (exceptions propagate).
int train_here(const std::vector<std::string>& args, std::string* said = nullptr) {
  std::vector<const char*> argv = {"gan_cuda", "train"};
  for (const std::string& a : args) argv.push_back(a.c_str());
  const CliCommand cmd = parse_cli(static_cast<int>(argv.size()), argv.data(), "unused");
  REQUIRE(cmd.kind == CliCommand::Kind::Train);
  std::ostringstream out;
  const int status = run_train(cmd.train, out);
  if (said) *said = out.str();
  return status;
}

// Replaces the epoch-boundary checkpoint `path` by the state `iterations` iterations later,
// taken by a Trainer from that checkpoint on the same data.
void advance_checkpoint(const std::string& path, const std::string& data_dir, int iterations) {
  const Checkpoint ck = load_checkpoint(path);
  REQUIRE(ck.state.counters.batch_cursor == 0);
  auto be = make_cpu_backend();
  Trainer t(*be, ck.config);
  t.set_data(load_mnist(data_dir, Split::Train));
  t.set_state(ck.state);
  for (int i = 0; i < iterations; ++i) t.run_iteration();
  save_checkpoint(path, ck.config, t.state());
}

std::vector<int64_t> metric_steps(const std::string& path) {
  std::vector<int64_t> steps;
  std::ifstream f(path);
  for (std::string line; std::getline(f, line);)
    steps.push_back(nlohmann::json::parse(line)["step"].get<int64_t>());
  return steps;
}

TEST_CASE("resume: --d-steps 2 stopped mid-epoch in epoch 2 continues bit-exactly (in process)") {
  TempDir tmp("resume_here");
  const std::string data = tmp / "data";
  write_small_data(data);
  REQUIRE(train_here(run_args(data, tmp / "ref", 3)) == 0);
  const std::vector<uint8_t> ref = read_file(tmp / "ref/checkpoint.safetensors");

  const std::string ckpt = tmp / "run/checkpoint.safetensors";
  REQUIRE(train_here(run_args(data, tmp / "run", 1)) == 0);
  advance_checkpoint(ckpt, data, 3);  // epoch 2, iteration 3 of 8: batch cursor 6
  const Checkpoint mid = load_checkpoint(ckpt);
  REQUIRE(mid.state.epoch == 1);
  REQUIRE(mid.state.counters.batch_cursor == 3 * kSteps);
  REQUIRE(mid.state.counters.iteration == kPerEpoch + 3);

  std::string said;
  REQUIRE(train_here(run_args(data, tmp / "run", 3, {"--resume", ckpt}), &said) == 0);
  INFO(said);
  CHECK(said.find("epochs 2..3") != std::string::npos);
  CHECK(said.find("done: 3 epochs, " + std::to_string(3 * kPerEpoch) + " steps") !=
        std::string::npos);
  const Checkpoint end = load_checkpoint(ckpt);
  CHECK(end.state.counters.iteration == 3 * kPerEpoch);
  CHECK(end.state.counters.adam_step[1] == 3 * kPerEpoch * kSteps);
  CHECK(read_file(ckpt) == ref);
}

TEST_CASE("resume: --d-steps 2 stopped mid-epoch in epoch 2 continues bit-exactly (binary)") {
  TempDir tmp("resume_bin");
  const std::string data = tmp / "data";
  write_small_data(data);
  const ProcessResult r = run_gan(run_args(data, tmp / "ref", 3));
  INFO(r.out, r.err);
  REQUIRE(r.status == 0);
  const std::vector<uint8_t> ref = read_file(tmp / "ref/checkpoint.safetensors");

  const std::string ckpt = tmp / "run/checkpoint.safetensors";
  REQUIRE(run_gan(run_args(data, tmp / "run", 1)).status == 0);
  advance_checkpoint(ckpt, data, 5);  // epoch 2, iteration 5 of 8: batch cursor 10
  REQUIRE(load_checkpoint(ckpt).state.counters.batch_cursor == 5 * kSteps);

  const ProcessResult c = run_gan(run_args(data, tmp / "run", 3, {"--resume", ckpt}));
  INFO(c.out, c.err);
  REQUIRE(c.status == 0);
  CHECK(read_file(ckpt) == ref);
  // the records of the continued run follow on from the first epoch's, up to the end
  const std::vector<int64_t> want = metric_steps(tmp / "ref/metrics.jsonl");
  const std::vector<int64_t> got = metric_steps(tmp / "run/metrics.jsonl");
  REQUIRE(!got.empty());
  CHECK(got.back() == 3 * kPerEpoch);
  CHECK(got.back() == want.back());
}

TEST_CASE("resume: a non-finite step after resuming exits 1 and leaves the last checkpoint") {
  TempDir tmp("resume_nan");
  const std::string data = tmp / "data";
  write_small_data(data);
  const std::string out = tmp / "run", ckpt = out + "/checkpoint.safetensors";
  // An absurd learning rate with --nan-policy skip: the run finishes, skipping the updates
  // that went non-finite, and its checkpoint holds finite (huge) weights.
  const ProcessResult first =
      run_gan(run_args(data, out, 1, {"--lr", "1e30", "--nan-policy", "skip"}));
  INFO(first.out, first.err);
  REQUIRE(first.status == 0);
  const std::vector<uint8_t> good = read_file(ckpt);
  const Checkpoint ck = load_checkpoint(ckpt);
  REQUIRE(ck.state.counters.skipped[0] + ck.state.counters.skipped[1] > 0);

  // Continued with --nan-policy abort (a flag that may change on resume): the first new
  // non-finite step stops the run before the epoch's checkpoint.
  const ProcessResult r = run_gan(run_args(data, out, 2, {"--resume", ckpt, "--nan-policy",
                                                          "abort"}));
  INFO(r.out, r.err);
  CHECK(r.status == 1);
  CHECK(r.err.find("gan_cuda: error: non-finite ") == 0);
  const size_t at = r.err.find(" at step ");
  REQUIRE(at != std::string::npos);
  const int64_t step = std::stoll(r.err.substr(at + 9));
  CHECK(step > kPerEpoch);  // a step of the resumed epoch
  CHECK(step <= 2 * kPerEpoch);
  CHECK(r.err.find("(epoch 2)") != std::string::npos);
  CHECK(r.err.find("The last good checkpoint " + ckpt + " was left as it was.") !=
        std::string::npos);
  CHECK(r.err.find("No checkpoint was written") == std::string::npos);
  CHECK(read_file(ckpt) == good);
}

}  // namespace
