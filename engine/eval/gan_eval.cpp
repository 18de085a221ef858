/*
 * gan_eval.cpp — the reference statistics of the real data, one evaluation of samples, and
 * its JSON and table forms.
 */
#include "engine/eval/gan_eval.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <sstream>

#include "engine/eval/classifier.hpp"
#include "engine/base/error.hpp"
#include "engine/io/idx.hpp"
#include "engine/eval/pairwise_distance.hpp"

namespace gan {

GanEvaluator::GanEvaluator(Backend& be, const Dataset& train, const Dataset& test,
                           Classifier& classifier, const EvalConfig& cfg)
    : be_(be), clf_(classifier), cfg_(cfg) {
  const ClassifierSpec& s = classifier.spec();
  GAN_CHECK(train.rows == test.rows && train.cols == test.cols && train.rows == s.image_h &&
                train.cols == s.image_w,
            "training, test images and classifier of different sizes");
  GAN_CHECK(cfg.k >= 1 && test.count > cfg.k && test.count >= cfg.parzen_folds &&
                cfg.parzen_folds >= 2 && train.count >= 1,
            "evaluation needs more than k test images, at least 2 Parzen folds of them and "
            "some training images");
  dim_ = train.dim();
  n_train_ = train.count;
  n_test_ = test.count;
  train_ = images_to_float(train.images.data(), train.images.size());
  test_ = images_to_float(test.images.data(), test.images.size());
  test_accuracy_ = clf_.accuracy(test);
  clf_.predict(test_.data(), n_test_, nullptr, &test_features_);
  const int F = s.feature_dim();
  test_gaussian_ = fit_gaussian(test_features_.data(), n_test_, F);
  test_radii_ = manifold_radii(be_, test_features_.data(), n_test_, F, cfg_.k);
  nn_median_test_ = median(nearest_distance(be_, test_.data(), n_test_, train_.data(), n_train_, dim_));
}

GanEvaluator::~GanEvaluator() = default;

EvalReport GanEvaluator::evaluate(const float* samples, int n) {
  GAN_CHECK(n > cfg_.k, "evaluation needs more than " << cfg_.k << " samples, got " << n);
  const auto t0 = std::chrono::steady_clock::now();
  EvalReport r;
  r.n_samples = n;
  r.classifier_test_accuracy = test_accuracy_;
  r.parzen = parzen_evaluate(be_, samples, n, test_.data(), n_test_, dim_, parzen_sigma_grid(),
                             cfg_.parzen_folds);
  std::ostringstream rule;
  rule << cfg_.parzen_folds << "-fold cross-fitting on the " << n_test_
       << " test images: each part (first rows";
  for (int first : r.parzen.fold_first) rule << " " << first;
  rule << ") scored at the sigma best on the other parts, so no image chose its own";
  r.parzen_sigma_rule = rule.str();

  std::vector<float> logits, features;
  clf_.predict(samples, n, &logits, &features);
  const ClassifierSpec& s = clf_.spec();
  r.classes = class_histogram(logits.data(), n, s.classes);
  r.feature_dim = s.feature_dim();
  r.frechet = frechet_distance(test_gaussian_, fit_gaussian(features.data(), n, r.feature_dim));
  r.pr = precision_recall(be_, test_features_.data(), n_test_, test_radii_, features.data(), n,
                          r.feature_dim, cfg_.k);
  r.nn_median_samples = median(nearest_distance(be_, samples, n, train_.data(), n_train_, dim_));
  r.nn_median_test = nn_median_test_;
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return r;
}

nlohmann::json EvalReport::to_json() const {
  nlohmann::json j;
  j["samples"] = n_samples;
  j["parzen"] = {{"log_likelihood", parzen.mean},
                 {"standard_error", parzen.std_error},
                 {"sigma", parzen.fold_sigma},
                 {"sigma_grid", parzen.sigmas},
                 {"fold_first_row", parzen.fold_first},
                 {"fold_log_likelihood", parzen.fold_mean},
                 {"sigma_rule", parzen_sigma_rule},
                 {"fit_samples", parzen.n_samples},
                 {"test_images", parzen.n_test},
                 {"units", "nats; pixels in [0, 1]"}};
  j["classes"] = {{"histogram", classes.counts},
                  {"covered", classes.covered},
                  {"kl_to_uniform", classes.kl_to_uniform}};
  j["frechet_distance"] = frechet;
  j["feature_dim"] = feature_dim;
  j["precision"] = pr.precision;
  j["recall"] = pr.recall;
  j["k"] = pr.k;
  j["nearest_train"] = {{"samples_median", nn_median_samples},
                        {"test_median", nn_median_test},
                        {"ratio", nn_median_test > 0 ? nn_median_samples / nn_median_test : 0.0}};
  j["classifier_test_accuracy"] = classifier_test_accuracy;
  j["seconds"] = seconds;
  return j;
}

std::string EvalReport::table() const {
  std::ostringstream os;
  char line[256];
  auto row = [&](const char* name, const std::string& value) {
    std::snprintf(line, sizeof line, "  %-26s %s\n", name, value.c_str());
    os << line;
  };
  auto fmt = [&](const char* f, auto... v) {
    std::snprintf(line, sizeof line, f, v...);
    return std::string(line);
  };
  std::string sig;
  for (size_t f = 0; f < parzen.fold_sigma.size(); ++f)
    sig += (f ? "/" : "") + fmt("%.4f", parzen.fold_sigma[f]);
  row("Parzen log-likelihood", fmt("%.2f +- %.2f nats (sigma %s, %d samples)", parzen.mean,
                                   parzen.std_error, sig.c_str(), parzen.n_samples));
  std::string hist;
  for (size_t c = 0; c < classes.counts.size(); ++c)
    hist += (c ? " " : "") + std::to_string(c) + ":" + std::to_string(classes.counts[c]);
  row("classes covered", fmt("%d of %zu, KL(p_gen || uniform) %.4f", classes.covered,
                             classes.counts.size(), classes.kl_to_uniform));
  row("class histogram", hist);
  row("Frechet distance", fmt("%.3f (classifier features, %d-d)", frechet, feature_dim));
  row("precision / recall", fmt("%.4f / %.4f (k = %d)", pr.precision, pr.recall, pr.k));
  row("nearest training image", fmt("median %.3f for samples, %.3f for test images (ratio %.3f)",
                                    nn_median_samples, nn_median_test,
                                    nn_median_test > 0 ? nn_median_samples / nn_median_test : 0.0));
  row("classifier test accuracy", fmt("%.2f%%", 100 * classifier_test_accuracy));
  row("time", fmt("%.1f s", seconds));
  return os.str();
}

}  // namespace gan
