/*
 * test_training_options_cli.cpp — the command line of the training options of issue 9:
 * --lr sets both networks and --lr-g / --lr-d win over it; every new flag's refusal; a run
 * with every option writes a checkpoint whose average `sample` uses by default, whose raw
 * weights and BatchNorm modes the flags select; --resume refuses a changed training option
 * and accepts a changed sampling option; every training flag is refused on --resume when it
 * is set above or below the checkpoint's value, and accepted at that value; --lr-decay-epochs
 * ends with the run's last epoch, and --resume refuses to train past it.
 */
#include <doctest/doctest.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "engine/io/atomic_file.hpp"
#include "engine/checkpoint.hpp"
#include "apps/cli_options.hpp"
#include "engine/base/error.hpp"
#include "engine/io/idx.hpp"
#include "engine/io/safetensors.hpp"
#include "tests/support/process_runner.hpp"
#include "tests/support/test_util.hpp"

namespace {

using namespace gan;
using namespace gan::test;

// 320 random 28x28 images with labels in `dir`: ten iterations of batch 32 per epoch.
void write_random_data(const std::string& dir) {
  const Dataset data = random_dataset(320, 28, 28, 8);
  std::filesystem::create_directories(dir);
  write_idx(dir + "/train-images-idx3-ubyte", {320, 28, 28}, data.images.data());
  write_idx(dir + "/train-labels-idx1-ubyte", {320}, data.labels.data());
}

CliCommand parse(std::vector<std::string> args) {
  args.insert(args.begin(), "gan_cuda");
  std::vector<const char*> argv;
  for (const std::string& a : args) argv.push_back(a.c_str());
  return parse_cli(static_cast<int>(argv.size()), argv.data(), "DATA");
}

TEST_CASE("options CLI: --lr sets both networks, --lr-g and --lr-d win over it") {
  const TrainConfig d = parse({}).train.config;
  CHECK(d.adam_g.lr == 7e-5f);  // the default recipe (TrainConfig)
  CHECK(d.adam_d.lr == 7e-5f);
  const TrainConfig a = parse({"--lr", "1e-3"}).train.config;
  CHECK(a.adam_g.lr == 1e-3f);
  CHECK(a.adam_d.lr == 1e-3f);
  const TrainConfig b = parse({"--lr-d", "4e-4", "--lr", "1e-3"}).train.config;
  CHECK(b.adam_g.lr == 1e-3f);
  CHECK(b.adam_d.lr == 4e-4f);
  const CliCommand c = parse({"train", "--lr-g", "3e-5", "--beta1", "0.9", "--beta2", "0.95"});
  CHECK(c.train.config.adam_g.lr == 3e-5f);
  CHECK(c.train.config.adam_d.lr == 7e-5f);
  for (Net n : {Net::G, Net::D}) {
    CHECK(c.train.config.adam(n).beta1 == 0.9f);
    CHECK(c.train.config.adam(n).beta2 == 0.95f);
  }
  CHECK(c.train.explicit_flags.count("--lr-g") == 1);
  const TrainConfig o = parse({"--bn-momentum", "0.01", "--d-dropout", "0.5", "--real-label",
                               "0.9", "--g-ema", "0.999", "--sample-bn", "train",
                               "--sample-bn-batch", "256"})
                            .train.config;
  CHECK(o.spec.bn_momentum == 0.01f);
  CHECK(o.d_dropout == 0.5f);
  CHECK(o.real_label == 0.9f);
  CHECK(o.g_ema == 0.999f);
  CHECK(o.sample_bn == SampleBn::Train);
  CHECK(o.sample_bn_batch == 256);
  // The default decay: the last 20% of --epochs (50 by default), rounded down.
  CHECK(o.lr_decay_start == 40);
  CHECK(o.lr_decay_end == 50);
  const CliCommand seven = parse({"--epochs", "7"});
  CHECK(seven.train.config.lr_decay_start == 6);
  CHECK(seven.train.config.lr_decay_end == 7);
  CHECK(seven.train.explicit_flags.count("--lr-decay-epochs") == 0);
  CHECK_FALSE(parse({"--epochs", "4"}).train.config.has_lr_decay());
  CHECK(default_lr_decay_epochs(kMaxEpochs) == kMaxEpochs / 5);
  const CliCommand decay = parse({"--epochs", "50", "--lr-decay-epochs", "10"});
  CHECK(decay.train.config.lr_decay_start == 40);
  CHECK(decay.train.config.lr_decay_end == 50);
  CHECK(decay.train.explicit_flags.count("--lr-decay-epochs") == 1);
  const TrainConfig whole = parse({"--epochs", "7", "--lr-decay-epochs", "7"}).train.config;
  CHECK(whole.lr_decay_start == 0);
  CHECK(whole.lr_decay_end == 7);
  CHECK_FALSE(parse({"--lr-decay-epochs", "0"}).train.config.has_lr_decay());
  CHECK_THROWS_WITH_AS(parse({"--epochs", "5", "--lr-decay-epochs", "6"}),
                       doctest::Contains("--lr-decay-epochs 6 is longer than the run"),
                       InputError);
  const CliCommand s = parse({"sample", "--checkpoint", "c", "--out", "x.png", "--weights", "raw",
                              "--sample-bn", "train", "--sample-bn-batch", "32"});
  CHECK(s.sample.generator.weights == "raw");
  CHECK(s.sample.generator.bn == "train");
  CHECK(s.sample.generator.bn_batch == 32);
  const CliCommand e = parse({"eval", "--checkpoint", "c", "--weights", "ema"});
  CHECK(e.eval.generator.weights == "ema");
  CHECK(e.eval.generator.bn.empty());
  for (const std::vector<std::string>& bad :
       std::vector<std::vector<std::string>>{{"--lr-g", "0"}, {"--lr-d", "-1"},
                                             {"--bn-momentum", "1.5"}, {"--d-dropout", "0.95"},
                                             {"--d-dropout", "-0.1"}, {"--real-label", "0.4"},
                                             {"--real-label", "1.1"}, {"--g-ema", "1"},
                                             {"--sample-bn", "batch"}, {"--sample-bn-batch", "1"},
                                             {"--sample-weights", "avg"},
                                             {"--lr-decay-epochs", "-1"}}) {
    CAPTURE(bad[0]);
    CHECK_THROWS_WITH_AS(parse(bad), doctest::Contains(bad[0].c_str()), InputError);
  }
  CHECK_THROWS_AS(parse({"sample", "--checkpoint", "c", "--out", "x.png", "--weights", "mean"}),
                  InputError);
  CHECK_THROWS_WITH_AS(parse({"eval", "--images", "x.idx", "--sample-bn", "train"}),
                       doctest::Contains("do not apply to --images"), InputError);
}

TEST_CASE("options CLI: a run with every option, sampled both ways, resumed") {
  TempDir tmp("options_cli");
  write_random_data(tmp / "data");
  const std::string out = tmp / "run", ck = out + "/checkpoint.safetensors";
  const std::vector<std::string> options = {
      "--data", tmp / "data", "--batch-size", "32", "--lr-g", "1e-3", "--lr-d", "3e-4",
      "--bn-momentum", "0.2", "--d-dropout", "0.3", "--real-label", "0.9", "--g-ema", "0.9",
      "--sample-bn", "train", "--sample-bn-batch", "16", "--out", out};
  std::vector<std::string> args = small_model_flags(options);
  args.insert(args.end(), {"--epochs", "1"});
  const ProcessResult r = run_gan(args);
  INFO(r.out, r.err);
  REQUIRE(r.status == 0);
  CHECK(std::filesystem::exists(out + "/samples/epoch_001.png"));
  const Checkpoint c = load_checkpoint(ck);
  CHECK(c.config.adam_g.lr == 1e-3f);
  CHECK(c.config.adam_d.lr == 3e-4f);
  CHECK(c.config.spec.bn_momentum == 0.2f);
  CHECK(c.config.d_dropout == 0.3f);
  CHECK(c.config.real_label == 0.9f);
  CHECK(c.config.g_ema == 0.9f);
  CHECK(c.config.sample_bn == SampleBn::Train);
  CHECK(c.config.sample_bn_batch == 16);
  CHECK(c.state.ema_params.size() == c.state.params[0].size());
  CHECK(SafetensorsFile::read(ck).has("G_ema.net.1.running_mean"));

  auto sample = [&](const std::string& name, std::vector<std::string> extra) {
    std::vector<std::string> a = {"sample", "--checkpoint", ck, "--n", "20", "--device", "cpu",
                                  "--out", tmp / name};
    a.insert(a.end(), extra.begin(), extra.end());
    const ProcessResult s = run_gan(a);
    INFO(s.err);
    CHECK(s.status == 0);
    return s.out;
  };
  CHECK(sample("d.idx", {}).find("weights ema, BatchNorm train (chunks of 16)") !=
        std::string::npos);
  CHECK(sample("r.idx", {"--weights", "raw", "--sample-bn", "eval"})
            .find("weights raw, BatchNorm eval") != std::string::npos);
  sample("e.idx", {"--weights", "ema"});
  CHECK(read_file(tmp / "d.idx") == read_file(tmp / "e.idx"));
  CHECK(read_file(tmp / "d.idx") != read_file(tmp / "r.idx"));

  // --resume: a training option must not change; a sampling option may.
  std::vector<std::string> again = small_model_flags(
      {"--data", tmp / "data", "--batch-size", "32", "--out", out, "--resume", ck});
  again.insert(again.end(), {"--epochs", "2"});
  std::vector<std::string> changed = again;
  changed.insert(changed.end(), {"--g-ema", "0.5"});
  const ProcessResult refused = run_gan(changed);
  CHECK(refused.status == 2);
  CHECK(refused.err.find("--g-ema differs") != std::string::npos);
  // continues to `epochs` with `sampling` flags; the checkpoint it leaves
  auto resume_to = [&](int epochs, const std::vector<std::string>& sampling) {
    std::vector<std::string> a = again;
    a.back() = std::to_string(epochs);  // --epochs
    a.insert(a.end(), sampling.begin(), sampling.end());
    const ProcessResult r = run_gan(a);
    INFO(r.err);
    CHECK(r.status == 0);
    const Checkpoint c = load_checkpoint(ck);
    CHECK(c.state.epoch == epochs);
    CHECK(c.config.g_ema == 0.9f);
    return c;
  };
  const Checkpoint c2 = resume_to(2, {"--sample-bn", "eval"});
  CHECK(c2.config.sample_bn == SampleBn::Eval);
  CHECK(c2.config.sample_bn_batch == 16);  // a sampling flag not given keeps the checkpoint's
  const Checkpoint c3 = resume_to(3, {"--sample-bn", "train", "--sample-bn-batch", "8"});
  CHECK(c3.config.sample_bn == SampleBn::Train);
  CHECK(c3.config.sample_bn_batch == 8);
}

TEST_CASE("options CLI: --lr-decay-epochs decays over the last epochs, --resume keeps its end") {
  TempDir tmp("decay_cli");
  write_random_data(tmp / "data");
  const std::string out = tmp / "run", ck = out + "/checkpoint.safetensors";
  auto train = [&](std::vector<std::string> extra) {
    std::vector<std::string> a =
        small_model_flags({"--data", tmp / "data", "--batch-size", "32", "--out", out});
    a.insert(a.end(), extra.begin(), extra.end());
    return run_gan(a);
  };
  const ProcessResult r = train({"--epochs", "3", "--lr-decay-epochs", "2"});
  INFO(r.out, r.err);
  REQUIRE(r.status == 0);
  CHECK(r.out.find("learning rates fall linearly to 0 over epochs 2..3") != std::string::npos);
  const Checkpoint c = load_checkpoint(ck);
  CHECK(c.config.lr_decay_start == 1);
  CHECK(c.config.lr_decay_end == 3);
  const std::vector<uint8_t> before = read_file(ck);
  // Past the end the rates are 0: refused, and nothing is written.
  const ProcessResult past = train({"--resume", ck, "--epochs", "4"});
  CHECK(past.status == 2);
  CHECK(past.err.find("decays both learning rates to 0 at the end of epoch 3") !=
        std::string::npos);
  CHECK(past.err.find("resume with --epochs 3 or less") != std::string::npos);
  // Another decay is another run.
  const ProcessResult other = train({"--resume", ck, "--epochs", "3", "--lr-decay-epochs", "1"});
  CHECK(other.status == 2);
  CHECK(other.err.find("--lr-decay-epochs differs from the value " + ck) != std::string::npos);
  CHECK(read_file(ck) == before);
  // The same decay given again is accepted (here: nothing left to do; and without a
  // metrics.jsonl there are no records past the checkpoint to drop).
  std::filesystem::remove(out + "/metrics.jsonl");
  const ProcessResult same = train({"--resume", ck, "--epochs", "3", "--lr-decay-epochs", "2"});
  INFO(same.out, same.err);
  CHECK(same.status == 0);
  CHECK(same.out.find("nothing to do") != std::string::npos);
  CHECK(same.out.find("dropped") == std::string::npos);
}

TEST_CASE("--resume refuses each training flag set above or below the checkpoint's value") {
  TempDir tmp("differs");
  write_random_data(tmp / "data");
  const std::string out = tmp / "run", ck = out + "/checkpoint.safetensors";
  // every training option away from its default, so that both directions exist
  const std::vector<std::string> trained = {
      "--data", tmp / "data", "--out", out, "--batch-size", "32", "--z-dim", "8",
      "--g-widths", "16", "--d-widths", "16", "--lr-g", "1e-3", "--lr-d", "3e-4",
      "--beta1", "0.6", "--beta2", "0.99", "--bn-momentum", "0.2", "--d-dropout", "0.3",
      "--real-label", "0.8", "--g-ema", "0.9", "--g-loss", "minimax", "--d-steps", "2",
      "--seed", "3"};
  std::vector<std::string> first = small_model_flags(trained);
  first.insert(first.end(), {"--epochs", "1"});
  REQUIRE(run_gan(first).status == 0);
  const std::vector<uint8_t> before = read_file(ck);

  const std::vector<std::pair<std::string, std::vector<std::string>>> others = {
      {"--batch-size", {"16", "64"}},
      {"--z-dim", {"4", "16"}},
      {"--g-widths", {"8", "32", "16,16"}},
      {"--d-widths", {"8", "32", "16,16"}},
      {"--lr", {"1e-3", "3e-4"}},  // equal to one network's rate, not to the other's
      {"--lr-g", {"9e-4", "2e-3"}},
      {"--lr-d", {"2e-4", "4e-4"}},
      {"--beta1", {"0.5", "0.7"}},
      {"--beta2", {"0.9", "0.999"}},
      {"--bn-momentum", {"0.1", "0.3"}},
      {"--d-dropout", {"0.2", "0.4"}},
      {"--real-label", {"0.7", "0.9"}},
      {"--g-ema", {"0.5", "0.99"}},
      {"--g-loss", {"non-saturating"}},
      {"--d-steps", {"1", "3"}},
      {"--seed", {"2", "4"}}};
  for (const auto& [flag, values] : others)
    for (const std::string& value : values) {
      CAPTURE(flag);
      CAPTURE(value);
      std::vector<std::string> o;
      for (size_t i = 0; i < trained.size(); i += 2)  // --lr-g and --lr-d would win over --lr
        if (flag != "--lr" || (trained[i] != "--lr-g" && trained[i] != "--lr-d"))
          o.insert(o.end(), {trained[i], trained[i + 1]});
      o.insert(o.end(), {flag, value, "--resume", ck, "--epochs", "2"});
      const ProcessResult r = run_gan(small_model_flags(o));
      INFO(r.err);
      CHECK(r.status == 2);
      CHECK(r.err.find(flag + " differs from the value " + ck) != std::string::npos);
    }
  CHECK(read_file(ck) == before);
  // every flag given again with the checkpoint's value is accepted
  std::vector<std::string> same = trained;
  same.insert(same.end(), {"--resume", ck, "--epochs", "2"});
  const ProcessResult ok = run_gan(small_model_flags(same));
  INFO(ok.err);
  CHECK(ok.status == 0);
  CHECK(load_checkpoint(ck).state.epoch == 2);
}

}  // namespace
