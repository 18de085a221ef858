/*
 * test_gan_eval.cpp — GanEvaluator on constructed "generators" over subsets of the
 * bundled digits, with a classifier trained briefly on the CPU:
 *   samples = the test set      precision = recall = 1, Fréchet ~ 0, same NN median as the
 *                               test images, all classes covered
 *   samples = training images   nearest-training-image median ~ 0 (memorisation shows)
 *   uniform noise               Parzen far below the real digits, Fréchet far larger,
 *                               recall 0, samples far from every training image
 *   one digit repeated          1 class covered, KL = log 10, recall ~ 0
 * plus the JSON and table forms; and the classifier `eval` trains by default: at least 95%
 * on the official test set, and uniform noise gets precision ~0 in its feature space.
 */
#include <doctest/doctest.h>

#include <cmath>
#include <cstdlib>
#include <string>
#include <vector>

#include "engine/eval/classifier.hpp"
#include "engine/base/error.hpp"
#include "engine/eval/gan_eval.hpp"
#include "engine/io/idx.hpp"
#include "kernels/cpu/cpu_backend.hpp"
#include "tests/support/test_util.hpp"

namespace {

using namespace gan;
using namespace gan::test;

TEST_CASE("GanEvaluator on constructed sample sets") {
  const auto be = make_cpu_backend();
  const Dataset train = first_images(load_mnist(GAN_SOURCE_DIR "/data/mnist", Split::Train), 1500);
  const Dataset test = first_images(load_mnist(GAN_SOURCE_DIR "/data/mnist", Split::Test), 400);
  Classifier clf(*be, ClassifierSpec{});
  clf.init_weights(0);
  ClassifierTraining cfg;
  cfg.epochs = 2;
  clf.train(train, cfg);
  EvalConfig ec;
  GanEvaluator ev(*be, train, test, clf, ec);
  CHECK(ev.classifier_test_accuracy() > 0.85);
  const int dim = ev.image_dim(), n = 400;
  const std::vector<float> test_x = images_to_float(test.images.data(), test.images.size());

  const EvalReport real = ev.evaluate(test_x.data(), n);
  CHECK(real.pr.precision == 1.0);
  CHECK(real.pr.recall == 1.0);
  CHECK(real.frechet < 1e-6);
  CHECK(real.nn_median_samples == doctest::Approx(real.nn_median_test).epsilon(1e-6));
  CHECK(real.nn_median_test > 3.0);
  CHECK(real.classes.covered == 10);
  // The histogram is the true labels' (KL 0.019 to uniform for these 400 digits) moved only
  // by the classifier's mistakes: each misread digit shifts two counts by one.
  std::vector<int64_t> truth(10, 0);
  for (int i = 0; i < n; ++i) ++truth[test.labels[i]];
  int64_t moved = 0;
  for (int c = 0; c < 10; ++c) moved += std::abs(real.classes.counts[c] - truth[c]);
  CHECK(moved <= 2 * std::llround((1.0 - ev.classifier_test_accuracy()) * test.count));
  CHECK(real.classes.kl_to_uniform < 0.1);
  CHECK(real.n_samples == n);
  CHECK(real.parzen.n_test == 400);
  CHECK(real.parzen.fold_first == std::vector<int>{0, 200});
  CHECK(real.parzen_sigma_rule.find("2-fold cross-fitting on the 400 test images") !=
        std::string::npos);

  const std::vector<float> train_x = images_to_float(train.images.data(), size_t(n) * dim);
  const EvalReport copies = ev.evaluate(train_x.data(), n);
  CHECK(copies.nn_median_samples < 0.05);  // every sample is a training image
  CHECK(copies.nn_median_test == real.nn_median_test);

  Rng rng(1);
  const std::vector<float> noise = random_vector<float>(rng, size_t(n) * dim, 0, 1);
  const EvalReport uniform = ev.evaluate(noise.data(), n);
  CHECK(uniform.parzen.mean < real.parzen.mean - 100);
  // The noise lands in one tight cluster far from the digits, so no real image lies inside
  // the noise manifold. (Its precision is ~0 with the classifier of `eval`, trained on all
  // the digits; with this briefly trained one, one outlying real image's large k-NN ball
  // can cover the cluster, so precision is not asserted here: precision_recall's own
  // tests cover disjoint sets.)
  CHECK(uniform.pr.recall == 0.0);
  CHECK(uniform.frechet > 10 * (real.frechet + 1));
  CHECK(uniform.nn_median_samples > 2 * real.nn_median_test);

  std::vector<float> one(size_t(n) * dim);
  for (int i = 0; i < n; ++i) std::copy(test_x.begin(), test_x.begin() + dim, one.begin() + size_t(i) * dim);
  const EvalReport single = ev.evaluate(one.data(), n);
  CHECK(single.classes.covered == 1);
  CHECK(single.classes.kl_to_uniform == doctest::Approx(std::log(10.0)).epsilon(1e-12));
  CHECK(single.pr.recall < 0.05);

  const nlohmann::json j = real.to_json();
  CHECK(j["precision"].get<double>() == 1.0);
  CHECK(j["parzen"]["sigma_grid"].size() == 10);
  CHECK(j["parzen"]["sigma"].size() == 2);
  CHECK(j["parzen"]["fold_log_likelihood"].size() == 2);
  CHECK(j["parzen"]["sigma_rule"].get<std::string>().find("cross-fitting") != std::string::npos);
  CHECK(j["classes"]["histogram"].size() == 10);
  CHECK(j["nearest_train"]["ratio"].get<double>() == doctest::Approx(1.0).epsilon(1e-6));
  const std::string table = single.table();
  for (const char* row : {"Parzen log-likelihood", "classes covered", "Frechet distance",
                          "precision / recall", "nearest training image"})
    CHECK(table.find(row) != std::string::npos);
  CHECK_THROWS_AS(ev.evaluate(test_x.data(), 3), Error);
}

TEST_CASE("the classifier of eval: >= 95% on the official test set, noise has no precision") {
  // The recipe `eval` uses when no --classifier is given (about 8 s on two CPU cores).
  const auto be = make_cpu_backend();
  // Trained on the first 10,000 digits to keep the test short (eval itself uses all 60,000).
  const Dataset train = first_images(load_mnist(GAN_SOURCE_DIR "/data/mnist", Split::Train), 10000);
  const Dataset test = load_mnist(GAN_SOURCE_DIR "/data/mnist", Split::Test);
  REQUIRE(test.count == 10000);
  Classifier clf(*be, ClassifierSpec{});
  const ClassifierTraining cfg;
  clf.init_weights(cfg.seed);
  clf.train(train, cfg);
  const double acc = clf.accuracy(test);
  MESSAGE("test accuracy of the default classifier: " << acc);
  CHECK(acc >= 0.95);

  EvalConfig ec;
  GanEvaluator ev(*be, first_images(train, 1500), first_images(test, 400), clf, ec);
  const int n = 400;
  Rng rng(1);
  const std::vector<float> noise = random_vector<float>(rng, size_t(n) * ev.image_dim(), 0, 1);
  const EvalReport uniform = ev.evaluate(noise.data(), n);
  CHECK(uniform.pr.precision < 0.05);
  CHECK(uniform.pr.recall == 0.0);
}

}  // namespace
