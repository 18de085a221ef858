/*
 * test_cli.cpp — every refusal of bad flags, data and checkpoints: a clear message, exit
 * status 2, and nothing written.
 */
#include <doctest/doctest.h>

#include <stdlib.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "engine/io/atomic_file.hpp"
#include "apps/cli_options.hpp"
#include "engine/base/error.hpp"
#include "tests/support/process_runner.hpp"

namespace {

using namespace gan;
using namespace gan::test;

void expect_refusal(const std::vector<std::string>& args, const std::string& message) {
  const ProcessResult r = run_gan(args);
  INFO("args: ", [&] { std::string s; for (const auto& a : args) s += a + " "; return s; }());
  INFO("stderr: ", r.err);
  CHECK(r.status == 2);
  CHECK(r.err.find("gan_cuda: error: ") == 0);
  CHECK(r.err.find(message) != std::string::npos);
}

// The small model's flags with `base` flags and then `extra` flags overriding defaults.
std::vector<std::string> with(std::vector<std::string> base, std::vector<std::string> extra) {
  base.insert(base.end(), extra.begin(), extra.end());
  return small_model_flags(base);
}

TEST_CASE("bad flags are refused with a message naming the flag, and nothing is written") {
  TempDir tmp("cli");
  const std::vector<std::string> base = with({}, {"--out", tmp / "run"});
  expect_refusal(with(base, {"--batch-size", "1"}), "--batch-size");
  expect_refusal(with(base, {"--batch-size", "abc"}), "--batch-size");
  expect_refusal(with(base, {"--g-loss", "wasserstein"}), "--g-loss");
  expect_refusal(with(base, {"--epochs", "0"}), "--epochs");
  expect_refusal(with(base, {"--lr", "-1"}), "--lr");
  expect_refusal(with(base, {"--beta1", "1.5"}), "--beta1");
  expect_refusal(with(base, {"--d-steps", "0"}), "--d-steps");
  expect_refusal(with(base, {"--z-dim", "0"}), "--z-dim");
  expect_refusal(with(base, {"--g-widths", "32,0"}), "generator width");
  expect_refusal(with(base, {"--device", "tpu"}), "--device");
  expect_refusal(with(base, {"--nan-policy", "ignore"}), "--nan-policy");
  expect_refusal(with(base, {"--profile-steps", "9:3"}), "--profile-steps");
  expect_refusal(with(base, {"--kernel", "dense_forward"}), "--kernel");
  expect_refusal(with(base, {"--kernel", "no_such_op=fused"}), "no_such_op");
  expect_refusal(with(base, {"--kernel", "adam=no_such_variant"}), "no_such_variant");
  expect_refusal(with(base, {"--tf32"}), "--tf32");
  expect_refusal(with(base, {"--no-such-flag"}), "--no-such-flag");
  expect_refusal(with(base, {"--data", tmp / "missing"}), "missing");
  CHECK_FALSE(std::filesystem::exists(tmp / "run"));
}

TEST_CASE("malformed data is refused naming the file, before anything is written") {
  TempDir tmp("baddata");
  std::filesystem::create_directories(tmp / "data");
  for (const char* name : {"train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"})
    std::filesystem::copy_file(std::string(GAN_SOURCE_DIR) + "/data/mnist/" + name,
                               tmp / ("data/" + std::string(name)));
  write_file_atomic(tmp / "data/train-labels-idx1-ubyte.gz", std::string("not gzip, not idx"));
  expect_refusal(with({}, {"--data", tmp / "data", "--out", tmp / "run"}),
                 "train-labels-idx1-ubyte.gz");
  CHECK_FALSE(std::filesystem::exists(tmp / "run"));
}

TEST_CASE("runs and checkpoints are protected: bad checkpoints are refused") {
  TempDir tmp("ckcli");
  const std::string run = tmp / "run";
  REQUIRE(run_gan(with({}, {"--out", run, "--epochs", "1", "--g-widths", "16",
                                             "--d-widths", "16"}))
              .status == 0);
  const std::string ck = run + "/checkpoint.safetensors";
  const auto before = read_file(ck);

  // a second fresh run into the same directory would overwrite it
  expect_refusal(with({}, {"--out", run, "--epochs", "2"}), "already holds a run");
  // resuming with a different model flag
  expect_refusal(with({}, {"--out", run, "--epochs", "2", "--g-widths", "16",
                                            "--d-widths", "16", "--resume", ck, "--batch-size",
                                            "32"}),
                 "--batch-size differs");
  // corrupt, truncated, foreign and missing checkpoints
  write_file_atomic(tmp / "garbage.safetensors", std::string("\x05\0\0\0\0\0\0\0{\"a\"", 13));
  const std::string truncated = tmp / "truncated.safetensors";
  write_file_atomic(truncated, before.data(), before.size() / 2);
  for (const std::string& bad : {tmp / "garbage.safetensors", truncated, tmp / "missing.safetensors"}) {
    expect_refusal(with({}, {"--out", run, "--epochs", "2", "--resume", bad}), bad);
    expect_refusal({"sample", "--checkpoint", bad, "--out", tmp / "s.png", "--device", "cpu"}, bad);
  }
  expect_refusal({"sample", "--checkpoint", ck, "--out", tmp / "s.jpg", "--device", "cpu"}, ".png");
  expect_refusal({"sample", "--checkpoint", ck, "--out", tmp / "s.png", "--n", "0"}, "--n");
  expect_refusal({"sample", "--out", tmp / "s.png"}, "--checkpoint");
  CHECK_FALSE(std::filesystem::exists(tmp / "s.png"));
  CHECK(before == read_file(ck));
}

TEST_CASE("--help prints usage and exits 0: kernels lists the ops") {
  const ProcessResult h = run_gan({"--help"});
  CHECK(h.status == 0);
  CHECK(h.out.find("--epochs") != std::string::npos);
  const ProcessResult s = run_gan({"sample", "--help"});
  CHECK(s.status == 0);
  CHECK(s.out.find("--checkpoint") != std::string::npos);
  const ProcessResult k = run_gan({"kernels", "--device", "cpu"});
  CHECK(k.status == 0);
  for (const char* op : {"dense_forward", "dense_backward", "d_head", "adam"})
    CHECK(k.out.find(op) != std::string::npos);
}

// Sets an environment variable (inherited by the children run_gan starts) for its lifetime.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    had_ = std::getenv(name) != nullptr;
    ::setenv(name, value, 1);
  }
  ~ScopedEnv() {
    if (had_)
      ::setenv(name_.c_str(), old_.c_str(), 1);
    else
      ::unsetenv(name_.c_str());
  }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  std::string name_, old_;
  bool had_ = false;
};

size_t count_of(const std::string& text, const std::string& part) {
  size_t n = 0;
  for (size_t at = text.find(part); at != std::string::npos; at = text.find(part, at + 1)) ++n;
  return n;
}

TEST_CASE("--device auto says in one line that it runs on the CPU when no GPU is visible") {
  // An empty CUDA_VISIBLE_DEVICES hides every GPU, so this holds on machines with one too.
  const ScopedEnv hide("CUDA_VISIBLE_DEVICES", "");
  const ProcessResult k = run_gan({"kernels"});
  INFO(k.out, k.err);
  REQUIRE(k.status == 0);
  CHECK(k.out.find("backend: cpu\n") != std::string::npos);
  // the line ends with why: "(cudaErrorNoDevice (...))" or "(no NVIDIA driver is installed)"
  const std::string said = "no CUDA device found: running on the CPU backend (";
  CHECK(count_of(k.out, said) == 1);
  const size_t end = k.out.find('\n', k.out.find(said));
  CHECK((end != std::string::npos && k.out[end - 1] == ')'));
  CHECK(count_of(k.out + k.err, "CPU") == 1);  // said once, on one line
  // --device cpu is a choice, not a fallback: nothing to say
  const ProcessResult cpu = run_gan({"kernels", "--device", "cpu"});
  CHECK(cpu.status == 0);
  CHECK(cpu.out.find("backend: cpu\n") != std::string::npos);
  CHECK(cpu.out.find("no CUDA device found") == std::string::npos);
  // --device cuda without a GPU is bad input
  const ProcessResult c = run_gan({"kernels", "--device", "cuda"});
  CHECK(c.status == 2);
  CHECK(c.err.find("gan_cuda: error: --device cuda: ") == 0);
  CHECK(c.out.find("backend:") == std::string::npos);
}

TEST_CASE("parse_cli: defaults, subcommands and explicit flags") {
  const char* argv1[] = {"gan_cuda"};
  const CliCommand a = parse_cli(1, argv1, "DATA");
  CHECK(a.kind == CliCommand::Kind::Train);
  CHECK(a.train.data == "DATA");
  CHECK(a.train.epochs == 50);
  CHECK(a.train.config.batch_size == 128);
  CHECK(a.train.config.spec.z_dim == 64);
  // The default recipe of docs/quality.md.
  CHECK(a.train.config.adam_g.lr == 7e-5f);
  CHECK(a.train.config.adam_d.lr == 7e-5f);
  CHECK(a.train.config.adam_d.beta1 == doctest::Approx(0.5));
  for (Net n : {Net::G, Net::D}) CHECK(a.train.config.adam(n).beta2 == 0.99f);
  CHECK(a.train.config.real_label == 0.9f);
  CHECK(a.train.config.g_ema == 0.999f);
  CHECK(a.train.config.d_dropout == 0.0f);
  CHECK(a.train.explicit_flags.empty());
  const char* argv2[] = {"gan_cuda", "train", "--lr", "0.001", "--kernel", "adam=fused",
                         "--profile-steps", "3:7", "--g-loss", "minimax"};
  const CliCommand b = parse_cli(10, argv2, "DATA");
  CHECK(b.train.config.adam_g.lr == doctest::Approx(0.001));
  CHECK(b.train.config.adam_d.lr == doctest::Approx(0.001));
  CHECK(b.train.explicit_flags.count("--lr") == 1);
  CHECK(b.train.kernels.size() == 1);
  CHECK(b.train.profile_first == 3);
  CHECK(b.train.profile_last == 7);
  CHECK(b.train.config.g_loss == GLoss::Minimax);
  CHECK_THROWS_AS(parse_step_range("3"), InputError);
  CHECK_THROWS_AS(parse_step_range("a:b"), InputError);
  CHECK_THROWS_AS(parse_kernel_choice("=x"), InputError);
}

}  // namespace
