/*
 * test_eval_command.cpp — the evaluation through the real gan_cuda binary on a small data
 * directory cut from the bundled digits: --eval-every records and the progress GIF during
 * training, train-classifier, eval with and without --classifier, and the refusals of bad or
 * mismatched checkpoints, classifiers and flags (exit status 2, the file named). Also the
 * parsing of the new commands and flags.
 */
#include <doctest/doctest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "engine/io/atomic_file.hpp"
#include "engine/eval/classifier_file.hpp"
#include "apps/cli_options.hpp"
#include "engine/base/error.hpp"
#include "engine/io/idx.hpp"
#include "tests/support/process_runner.hpp"

namespace {

using namespace gan;
using namespace gan::test;

// <dir> with the first `n_train` training and `n_test` test digits of the bundled data,
// cropped to side x side pixels (top-left) when side < 28.
void write_small_data(const std::string& dir, int n_train, int n_test, int side = 28) {
  std::filesystem::create_directories(dir);
  for (Split split : {Split::Train, Split::Test}) {
    const Dataset d = load_mnist(GAN_SOURCE_DIR "/data/mnist", split);
    const int n = split == Split::Train ? n_train : n_test;
    std::vector<uint8_t> images;
    for (int i = 0; i < n; ++i)
      for (int y = 0; y < side; ++y)
        for (int x = 0; x < side; ++x) images.push_back(d.images[size_t(i) * 784 + y * 28 + x]);
    const std::string prefix = dir + (split == Split::Train ? "/train" : "/t10k");
    write_idx(prefix + "-images-idx3-ubyte", {uint32_t(n), uint32_t(side), uint32_t(side)},
              images.data());
    write_idx(prefix + "-labels-idx1-ubyte", {uint32_t(n)}, d.labels.data());
  }
}

std::string text(const std::string& path) {
  const std::vector<uint8_t> b = read_file(path);
  return std::string(b.begin(), b.end());
}

TEST_CASE("eval end to end: training with --eval-every, train-classifier, eval, refusals") {
  TempDir tmp("evalapp");
  const std::string data = tmp / "data", run = tmp / "run";
  write_small_data(data, 640, 300);

  // ---- training with evaluations and the progress GIF ----------------------------
  const ProcessResult t = run_gan(small_model_flags(
      {"--data", data, "--out", run, "--epochs", "3", "--seed", "3", "--eval-every", "2",
       "--eval-samples", "120"}));
  INFO(t.out, t.err);
  REQUIRE(t.status == 0);
  CHECK(t.out.find("no --classifier given: training one") != std::string::npos);
  // every second epoch, and the last
  CHECK(t.out.find("eval after epoch 1") == std::string::npos);
  CHECK(t.out.find("eval after epoch 2") != std::string::npos);
  CHECK(t.out.find("eval after epoch 3") != std::string::npos);
  std::ifstream metrics(run + "/metrics.jsonl");
  int evals = 0;
  for (std::string line; std::getline(metrics, line);) {
    const nlohmann::json j = nlohmann::json::parse(line);
    if (!j.contains("eval")) continue;
    ++evals;
    const int epoch = evals + 1;  // epochs 2 and 3
    CHECK(j["epoch"].get<double>() == doctest::Approx(epoch));
    CHECK(j["step"].get<int64_t>() == epoch * (640 / 64));
    const nlohmann::json& e = j["eval"];
    CHECK(e["samples"] == 120);
    CHECK(std::isfinite(e["parzen"]["log_likelihood"].get<double>()));
    CHECK(e["parzen"]["test_images"] == 300);  // every test image, each at a held-out sigma
    // the class histogram counts every sample once; covered and KL are computed from it
    const std::vector<int64_t> hist = e["classes"]["histogram"].get<std::vector<int64_t>>();
    REQUIRE(hist.size() == 10u);
    int64_t total = 0;
    int covered = 0;
    double kl = 0.0;
    for (int64_t h : hist) {
      total += h;
      covered += h > 0;
      const double p = double(h) / 120.0;
      if (h > 0) kl += p * std::log(p * 10.0);
    }
    CHECK(total == 120);
    CHECK(e["classes"]["covered"].get<int>() == covered);
    CHECK(e["classes"]["kl_to_uniform"].get<double>() == doctest::Approx(kl).epsilon(1e-6));
    // precision and recall are fractions of the samples and test images; the Frechet
    // distance is a squared distance between two Gaussians
    for (const char* key : {"precision", "recall"}) {
      CAPTURE(key);
      CHECK(e[key].get<double>() >= 0.0);
      CHECK(e[key].get<double>() <= 1.0);
    }
    CHECK(e["frechet_distance"].get<double>() > 0.0);
    CHECK(std::isfinite(e["frechet_distance"].get<double>()));
  }
  CHECK(evals == 2);
  const std::string gif = text(run + "/samples/progress.gif");
  CHECK(gif.rfind("GIF89a", 0) == 0);

  // ---- train-classifier ------------------------------------------------------------
  const std::string clf = tmp / "clf.safetensors";
  const ProcessResult c = run_gan({"train-classifier", "--data", data, "--epochs", "2", "--out",
                                   clf, "--device", "cpu"});
  INFO(c.out, c.err);
  REQUIRE(c.status == 0);
  CHECK(c.out.find("test accuracy") != std::string::npos);
  const ClassifierFile cf = load_classifier(clf);
  CHECK(std::stod(cf.test_accuracy) > 0.5);
  CHECK(nlohmann::json::parse(cf.training)["epochs"] == 2);

  // ---- eval ------------------------------------------------------------------------
  const std::string ckpt = run + "/checkpoint.safetensors";
  const ProcessResult e = run_gan({"eval", "--checkpoint", ckpt, "--data", data, "--classifier",
                                   clf, "--samples", "100", "--device", "cpu"});
  INFO(e.out, e.err);
  REQUIRE(e.status == 0);
  CHECK(e.out.find("Parzen log-likelihood") != std::string::npos);
  CHECK(e.out.find("Parzen sigma: 2-fold cross-fitting on the 300 test images") !=
        std::string::npos);
  const nlohmann::json j = nlohmann::json::parse(text(run + "/checkpoint.eval.json"));
  CHECK(j["classifier"] == clf);
  CHECK(j["epoch"] == 3);  // the checkpoint of the last epoch
  CHECK(j["metrics"]["samples"] == 100);
  CHECK(j["metrics"]["classifier_test_accuracy"].get<double>() ==
        doctest::Approx(std::stod(cf.test_accuracy)).epsilon(1e-3));
  // Same inputs, same numbers (the timing aside), into --out.
  const ProcessResult e2 = run_gan({"eval", "--checkpoint", ckpt, "--data", data, "--classifier",
                                    clf, "--samples", "100", "--device", "cpu", "--out",
                                    tmp / "again.json"});
  REQUIRE(e2.status == 0);
  nlohmann::json j2 = nlohmann::json::parse(text(tmp / "again.json"));
  nlohmann::json j1 = j;
  j1["metrics"].erase("seconds");
  j2["metrics"].erase("seconds");
  CHECK(j1 == j2);

  // ---- refusals: status 2, the offending file named ---------------------------------
  auto refused = [&](std::vector<std::string> args, const std::string& what) {
    args.insert(args.begin(), "eval");
    for (const char* f : {"--device", "cpu", "--samples", "50"}) args.push_back(f);
    const ProcessResult r = run_gan(args);
    INFO(r.out, r.err);
    CHECK(r.status == 2);
    CHECK(r.err.find(what) != std::string::npos);
  };
  write_file_atomic(tmp / "junk.safetensors", std::string("junk"));
  refused({"--checkpoint", tmp / "junk.safetensors", "--data", data}, tmp / "junk.safetensors");
  refused({"--checkpoint", tmp / "none.safetensors", "--data", data}, tmp / "none.safetensors");
  refused({"--checkpoint", ckpt, "--data", data, "--classifier", ckpt},
          ckpt + ": not a gan_cuda classifier");
  refused({"--checkpoint", ckpt, "--data", data, "--classifier", tmp / "junk.safetensors"},
          tmp / "junk.safetensors");
  write_small_data(tmp / "small", 64, 20, 14);
  refused({"--checkpoint", ckpt, "--data", tmp / "small"}, ckpt + ": a generator of 28x28");
  refused({"--checkpoint", ckpt, "--data", data, "--samples", "3"}, "--samples");
  refused({"--checkpoint", clf, "--data", data}, clf + ": not a gan_cuda checkpoint");
}

TEST_CASE("eval --images scores an image set as it is: the test digits against themselves, "
          "the training digits as memorised, and its refusals") {
  TempDir tmp("evalimages");
  const std::string data = tmp / "data";
  write_small_data(data, 640, 300);
  const std::string clf = tmp / "clf.safetensors";
  REQUIRE(run_gan({"train-classifier", "--data", data, "--epochs", "1", "--out", clf, "--device",
                   "cpu"}).status == 0);
  auto eval = [&](const std::string& images, std::vector<std::string> extra) {
    std::vector<std::string> a = {"eval", "--images", images, "--data", data, "--classifier", clf,
                                  "--device", "cpu"};
    a.insert(a.end(), extra.begin(), extra.end());
    return run_gan(a);
  };
  // The test split itself: every image (no --samples), the JSON beside the file.
  const std::string test_images = data + "/t10k-images-idx3-ubyte";
  const ProcessResult t = eval(test_images, {});
  INFO(t.out, t.err);
  REQUIRE(t.status == 0);
  CHECK(t.out.find("300 images") != std::string::npos);
  const nlohmann::json j = nlohmann::json::parse(text(test_images + ".eval.json"));
  CHECK(j["images"] == test_images);
  CHECK_FALSE(j.contains("checkpoint"));
  const nlohmann::json& m = j["metrics"];
  CHECK(m["samples"] == 300);
  CHECK(m["precision"].get<double>() == 1.0);
  CHECK(m["recall"].get<double>() == 1.0);
  CHECK(m["frechet_distance"].get<double>() < 1e-6);
  CHECK(m["nearest_train"]["ratio"].get<double>() == doctest::Approx(1.0).epsilon(1e-6));

  // The first 200 training images: each is its own nearest training image.
  const ProcessResult r = eval(data + "/train-images-idx3-ubyte",
                               {"--samples", "200", "--out", tmp / "train.json"});
  INFO(r.out, r.err);
  REQUIRE(r.status == 0);
  const nlohmann::json jt = nlohmann::json::parse(text(tmp / "train.json"));
  CHECK(jt["metrics"]["samples"] == 200);
  CHECK(jt["metrics"]["nearest_train"]["samples_median"].get<double>() < 0.01);  // 0 but rounding
  CHECK(jt["metrics"]["nearest_train"]["test_median"].get<double>() > 1.0);

  // Refusals: status 2 and the reason.
  auto refused = [&](const std::vector<std::string>& args, const std::string& what) {
    const ProcessResult e = run_gan(args);
    INFO(e.out, e.err);
    CHECK(e.status == 2);
    CHECK(e.err.find(what) != std::string::npos);
  };
  refused({"eval", "--data", data}, "eval needs --checkpoint FILE or --images FILE");
  refused({"eval", "--images", test_images, "--checkpoint", tmp / "c.safetensors"}, "excludes");
  const ProcessResult more = eval(test_images, {"--samples", "301"});
  CHECK(more.status == 2);
  CHECK(more.err.find(test_images + " holds 300 images, fewer than --samples 301") !=
        std::string::npos);
  write_small_data(tmp / "small", 64, 20, 14);
  const ProcessResult small = eval(tmp / "small/t10k-images-idx3-ubyte", {});
  CHECK(small.status == 2);
  CHECK(small.err.find("14x14 images, but the data's are 28x28") != std::string::npos);
  const ProcessResult labels = eval(data + "/t10k-labels-idx1-ubyte", {});
  CHECK(labels.status == 2);
  CHECK(labels.err.find("t10k-labels-idx1-ubyte") != std::string::npos);
}

TEST_CASE("eval without --classifier trains one on the fly and says so") {
  TempDir tmp("evalfly");
  const std::string data = tmp / "data";
  write_small_data(data, 320, 100);
  const ProcessResult t = run_gan(small_model_flags({"--data", data, "--out", tmp / "run",
                                                     "--epochs", "1"}));
  REQUIRE(t.status == 0);
  const ProcessResult e = run_gan({"eval", "--checkpoint", tmp / "run/checkpoint.safetensors",
                                   "--data", data, "--samples", "60", "--device", "cpu",
                                   "--out", tmp / "e.json"});
  INFO(e.out, e.err);
  REQUIRE(e.status == 0);
  CHECK(e.out.find("no --classifier given: training one on the 320 training images") !=
        std::string::npos);
  const nlohmann::json j = nlohmann::json::parse(text(tmp / "e.json"));
  CHECK(j["classifier"].get<std::string>().rfind("trained on the fly", 0) == 0);
}

TEST_CASE("parse_cli: eval, train-classifier and the evaluation flags of training") {
  const char* a1[] = {"gan_cuda", "eval", "--checkpoint", "c.safetensors"};
  const CliCommand e = parse_cli(4, a1, "DATA");
  CHECK(e.kind == CliCommand::Kind::Eval);
  CHECK(e.eval.checkpoint == "c.safetensors");
  CHECK(e.eval.data == "DATA");
  CHECK(e.eval.samples == 10000);
  CHECK(e.eval.classifier.empty());
  CHECK(e.eval.out.empty());
  const char* a2[] = {"gan_cuda", "eval"};
  CHECK_THROWS_AS(parse_cli(2, a2, "DATA"), InputError);  // --checkpoint is required
  const char* a3[] = {"gan_cuda", "train-classifier", "--epochs", "3", "--out", "x.st"};
  const CliCommand c = parse_cli(6, a3, "DATA");
  CHECK(c.kind == CliCommand::Kind::TrainClassifier);
  CHECK(c.train_classifier.epochs == 3);
  CHECK(c.train_classifier.out == "x.st");
  CHECK(c.train_classifier.data == "DATA");
  const char* a4[] = {"gan_cuda", "--eval-every", "5", "--eval-samples", "500", "--classifier",
                      "k.st"};
  const CliCommand t = parse_cli(7, a4, "DATA");
  CHECK(t.kind == CliCommand::Kind::Train);
  CHECK(t.train.eval_every == 5);
  CHECK(t.train.eval_samples == 500);
  CHECK(t.train.classifier == "k.st");
  const char* a5[] = {"gan_cuda", "train"};
  CHECK(parse_cli(2, a5, "DATA").train.eval_every == 0);
  const char* a6[] = {"gan_cuda", "--eval-every", "-1"};
  CHECK_THROWS_AS(parse_cli(3, a6, "DATA"), InputError);
}

}  // namespace
