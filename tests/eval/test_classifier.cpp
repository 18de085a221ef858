/*
 * test_classifier.cpp — the digit classifier: layout and PyTorch names, initialisation
 * bounds, shifted copies, the features/logits relation, accuracy after a short training on a
 * subset of the bundled digits, determinism, the safetensors round trip and every refusal
 * of a bad classifier file.
 */
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <map>
#include <string>

#include "apps/eval_classifier.hpp"
#include "engine/io/atomic_file.hpp"
#include "engine/checkpoint.hpp"
#include "engine/eval/classifier.hpp"
#include "engine/eval/classifier_file.hpp"
#include "engine/base/error.hpp"
#include "engine/io/idx.hpp"
#include "engine/io/safetensors.hpp"
#include "kernels/cpu/cpu_backend.hpp"
#include "tests/support/process_runner.hpp"

namespace {

using namespace gan;
using namespace gan::test;

Dataset subset(const Dataset& d, int first, int count) {
  Dataset s;
  s.rows = d.rows;
  s.cols = d.cols;
  s.count = count;
  const size_t dim = static_cast<size_t>(d.dim());
  s.images.assign(d.images.begin() + first * dim, d.images.begin() + (first + count) * dim);
  s.labels.assign(d.labels.begin() + first, d.labels.begin() + first + count);
  return s;
}

const Dataset& bundled(Split split) {
  static const Dataset train = load_mnist(GAN_SOURCE_DIR "/data/mnist", Split::Train);
  static const Dataset test = load_mnist(GAN_SOURCE_DIR "/data/mnist", Split::Test);
  return split == Split::Train ? train : test;
}

TEST_CASE("classifier layout: PyTorch names and shapes, features of the last hidden layer") {
  const ClassifierSpec spec;
  const NetLayout net = layout_classifier(spec);
  REQUIRE(net.params.size() == 6);
  const char* names[] = {"net.0.weight", "net.0.bias", "net.2.weight",
                         "net.2.bias",   "net.4.weight", "net.4.bias"};
  const std::vector<std::vector<int64_t>> shapes = {{256, 784}, {256}, {128, 256},
                                                    {128},      {10, 128}, {10}};
  for (size_t i = 0; i < 6; ++i) {
    CHECK(net.params[i].name == names[i]);
    CHECK(net.params[i].shape == shapes[i]);
  }
  CHECK(net.param_count == 784 * 256 + 256 + 256 * 128 + 128 + 128 * 10 + 10);
  CHECK(net.layers[0].act == Act::ReLU);
  CHECK(net.layers[2].act == Act::None);
  CHECK(spec.feature_dim() == 128);
  ClassifierSpec bad = spec;
  bad.widths.clear();
  CHECK_THROWS_AS(bad.validate(), InputError);
  bad = spec;
  bad.classes = 1;
  CHECK_THROWS_AS(bad.validate(), InputError);
}

TEST_CASE("with_shifted_copies moves every image by one pixel in four directions") {
  Dataset d;
  d.rows = 3;
  d.cols = 3;
  d.count = 1;
  d.images = {1, 2, 3, 4, 5, 6, 7, 8, 9};
  d.labels = {4};
  const Dataset s = with_shifted_copies(d);
  CHECK(s.count == 5);
  CHECK(s.labels == std::vector<uint8_t>(5, 4));
  const std::vector<uint8_t> want = {1, 2, 3, 4, 5, 6, 7, 8, 9,   // original
                                     0, 1, 2, 0, 4, 5, 0, 7, 8,   // right
                                     2, 3, 0, 5, 6, 0, 8, 9, 0,   // left
                                     0, 0, 0, 1, 2, 3, 4, 5, 6,   // down
                                     4, 5, 6, 7, 8, 9, 0, 0, 0};  // up
  CHECK(s.images == want);
}

TEST_CASE("initialisation is PyTorch's uniform bound and a function of the seed") {
  const auto be = make_cpu_backend();
  Classifier a(*be, ClassifierSpec{}), b(*be, ClassifierSpec{});
  a.init_weights(1);
  b.init_weights(1);
  const std::vector<float> pa = a.params();
  CHECK(pa == b.params());
  b.init_weights(2);
  CHECK(pa != b.params());
  const NetLayout& net = a.layout();
  for (size_t l = 0; l < net.layers.size(); ++l) {
    const float bound = 1.0f / std::sqrt(static_cast<float>(net.layers[l].in));
    float mx = 0;
    for (size_t i = 0; i < size_t(net.layers[l].out) * net.layers[l].in; ++i)
      mx = std::max(mx, std::abs(pa[net.offsets[l].W + i]));
    CHECK(mx <= bound);
    CHECK(mx > 0.9f * bound);
  }
  CHECK_THROWS_AS(a.set_params(std::vector<float>(3)), Error);
}

TEST_CASE("logits are the head applied to the features") {
  const auto be = make_cpu_backend();
  Classifier c(*be, ClassifierSpec{});
  c.init_weights(3);
  const Dataset test = subset(bundled(Split::Test), 0, 5);
  const std::vector<float> x = images_to_float(test.images.data(), test.images.size());
  std::vector<float> logits, features, only_logits;
  c.predict(x.data(), 5, &logits, &features);
  c.predict(x.data(), 5, &only_logits, nullptr);
  CHECK(logits == only_logits);
  REQUIRE(features.size() == 5 * 128);
  const std::vector<float> p = c.params();
  const DenseOffsets& head = c.layout().offsets[2];
  for (int r = 0; r < 5; ++r)
    for (int k = 0; k < 10; ++k) {
      double want = p[head.b + k];
      for (int j = 0; j < 128; ++j) want += double(features[r * 128 + j]) * p[head.W + k * 128 + j];
      CHECK(logits[r * 10 + k] == doctest::Approx(want).epsilon(1e-5));
    }
  for (float f : features) CHECK(f >= 0.0f);  // after ReLU
}

TEST_CASE("a short training on 2,000 digits classifies held-out digits, deterministically") {
  const auto be = make_cpu_backend();
  const Dataset train = subset(bundled(Split::Train), 0, 2000);
  const Dataset test = subset(bundled(Split::Test), 0, 1000);
  ClassifierTraining cfg;
  cfg.epochs = 2;
  cfg.seed = 5;
  Classifier a(*be, ClassifierSpec{});
  a.init_weights(cfg.seed);
  std::vector<double> losses;
  a.train(train, cfg, [&](int epoch, double loss, double acc) {
    CHECK(epoch == static_cast<int>(losses.size()) + 1);
    CHECK(acc > 0.0);
    losses.push_back(loss);
  });
  REQUIRE(losses.size() == 2);
  CHECK(losses[1] < losses[0]);
  const double acc = a.accuracy(test);
  MESSAGE("accuracy after 2 epochs on 2,000 digits: " << acc);
  CHECK(acc > 0.88);
  Classifier b(*be, ClassifierSpec{});
  b.init_weights(cfg.seed);
  b.train(train, cfg);
  CHECK(a.params() == b.params());

  Dataset small = train;
  small.rows = 14;
  CHECK_THROWS_AS(a.train(small, cfg), InputError);
  cfg.batch_size = 20000;
  CHECK_THROWS_AS(a.train(train, cfg), InputError);
}

TEST_CASE("classifier files: round trip and refusals that name the file") {
  TempDir tmp("clf");
  const auto be = make_cpu_backend();
  Classifier c(*be, ClassifierSpec{});
  c.init_weights(4);
  ClassifierFile f;
  f.spec = c.spec();
  f.params = c.params();
  f.training = R"({"epochs":1})";
  f.test_accuracy = "0.5000";
  const std::string path = tmp / "c.safetensors";
  save_classifier(path, f);
  const ClassifierFile g = load_classifier(path);
  CHECK(g.spec == f.spec);
  CHECK(g.params == f.params);
  CHECK(g.training == f.training);
  CHECK(g.test_accuracy == "0.5000");

  auto refused = [&](const std::string& file, const std::string& what) {
    try {
      load_classifier(file);
      FAIL_CHECK("no error for " << what);
    } catch (const InputError& e) {
      CHECK(std::string(e.what()).find(file) != std::string::npos);
      CHECK(std::string(e.what()).find(what) != std::string::npos);
    }
  };
  refused(tmp / "missing.safetensors", "missing.safetensors");
  write_file_atomic(tmp / "junk.safetensors", std::string("not a safetensors file at all"));
  refused(tmp / "junk.safetensors", "junk.safetensors");

  // A GAN checkpoint is not a classifier.
  save_checkpoint(tmp / "gan.safetensors", TrainConfig::plain(), [] {
    TrainState s;
    const TrainConfig cfg = TrainConfig::plain();
    for (int q = 0; q < 2; ++q) {
      const size_t n = (q == 0 ? layout_generator(cfg.spec) : layout_discriminator(cfg.spec)).param_count;
      s.params[q].assign(n, 0.0f);
      s.adam_m[q].assign(n, 0.0f);
      s.adam_v[q].assign(n, 0.0f);
    }
    s.bn_stats.assign(layout_generator(cfg.spec).stat_count, 1.0f);
    return s;
  }());
  refused(tmp / "gan.safetensors", "not a gan_cuda classifier");

  // Rewrites the file with one change to its tensors or metadata.
  auto variant = [&](const std::string& name, auto&& edit) {
    const SafetensorsFile src = SafetensorsFile::read(path);
    SafetensorsWriter w;
    std::map<std::string, std::string> meta = src.metadata();
    std::vector<std::pair<std::string, StTensor>> tensors;
    for (const std::string& t : src.names()) tensors.push_back({t, src.get(t)});
    edit(meta, tensors);
    for (auto& [t, st] : tensors) w.add(t, st.dtype, st.shape, st.bytes.data());
    for (auto& [k, v] : meta) w.set_metadata(k, v);
    w.write(tmp / name);
    return tmp / name;
  };
  using Meta = std::map<std::string, std::string>;
  using Tensors = std::vector<std::pair<std::string, StTensor>>;
  refused(variant("v.safetensors", [](Meta& m, Tensors&) { m["version"] = "9"; }), "version 9");
  refused(variant("cfg.safetensors", [](Meta& m, Tensors&) { m["config"] = "{"; }), "config");
  refused(variant("w.safetensors", [](Meta& m, Tensors&) { m["config"] =
      R"({"image_h":28,"image_w":28,"widths":[],"classes":10})"; }), "hidden layer");
  refused(variant("miss.safetensors", [](Meta&, Tensors& t) { t.pop_back(); }), "net.4.bias");
  refused(variant("shape.safetensors", [](Meta&, Tensors& t) {
            t[1].second.shape = {128};
            t[1].second.bytes.resize(128 * 4);
          }), "net.0.bias");
  refused(variant("extra.safetensors", [](Meta&, Tensors& t) {
            StTensor x;
            x.shape = {1};
            x.bytes.assign(4, 0);
            t.push_back({"extra", x});
          }), "7 tensors");
  refused(variant("nan.safetensors", [](Meta&, Tensors& t) {
            const float nan = NAN;
            std::memcpy(t[1].second.bytes.data(), &nan, 4);
          }), "non-finite");

  // A classifier of other images or another number of classes does not fit the digits.
  Dataset digits = subset(bundled(Split::Train), 0, 10);
  CHECK_NOTHROW(EvalClassifierSource(path, digits, "data"));
  ClassifierFile other = f;
  other.spec.classes = 5;
  other.params.assign(layout_classifier(other.spec).param_count, 0.0f);
  save_classifier(tmp / "five.safetensors", other);
  CHECK_THROWS_WITH_AS(EvalClassifierSource(tmp / "five.safetensors", digits, "data"),
                       doctest::Contains("5 classes"), InputError);
  digits.rows = 14;
  digits.cols = 56;
  CHECK_THROWS_WITH_AS(EvalClassifierSource(path, digits, "data"),
                       doctest::Contains("14x56"), InputError);
}

}  // namespace
