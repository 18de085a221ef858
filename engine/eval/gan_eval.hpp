/*
 * gan_eval.hpp — the evaluation of a generator's samples against MNIST: every metric of
 * `gan_cuda eval` and of `--eval-every`.
 *
 * GanEvaluator computes what depends on the real data once (float images, the classifier's
 * features of the test set with their Gaussian fit and k-NN radii, the test images' distances
 * to the training set, the classifier's test accuracy); evaluate() then measures one set of
 * samples [n, image_dim] with pixels in [0, 1]:
 *   parzen     Parzen-window log-likelihood of the whole test set (engine/eval/parzen.hpp) fitted
 *              on the samples, sigma held out by cross-fitting: each of `parzen_folds`
 *              contiguous parts of the test set is scored at the sigma best on the others.
 *   classes    the classifier's votes on the samples: histogram, classes covered,
 *              KL(p_gen || uniform) (engine/eval/class_histogram.hpp)
 *   frechet    Fréchet distance between Gaussian fits of the classifier features (last hidden
 *              layer) of the test set and of the samples (engine/eval/frechet.hpp)
 *   precision, recall   Kynkäänniemi et al. (2019) with k nearest neighbours in that feature
 *              space, real = the test set (engine/eval/precision_recall.hpp)
 *   nearest training image   median over the samples of the pixel-space distance to the
 *              nearest training image, and the same median for the test images: a sample
 *              median far below the test median means the generator reproduces training
 *              images (memorisation).
 * The heavy work runs on the evaluator's Backend (matrix products, the classifier's layers).
 */
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "engine/backend.hpp"
#include "engine/eval/class_histogram.hpp"
#include "engine/eval/frechet.hpp"
#include "engine/eval/parzen.hpp"
#include "engine/eval/precision_recall.hpp"

namespace gan {

struct Dataset;
class Classifier;

struct EvalConfig {
  int parzen_folds = 2;  // parts of the test set that choose each other's Parzen sigma
  int k = 3;             // neighbours of precision/recall
};

struct EvalReport {
  int n_samples = 0;
  ParzenResult parzen;
  std::string parzen_sigma_rule;  // how sigma was chosen, in words
  ClassHistogram classes;
  double frechet = 0;
  int feature_dim = 0;
  PrecisionRecall pr;
  double nn_median_samples = 0, nn_median_test = 0;
  double classifier_test_accuracy = 0;
  double seconds = 0;

  nlohmann::json to_json() const;
  std::string table() const;  // lines of "name  value", ending in a newline
};

class GanEvaluator {
 public:
  // `train`, `test` and the classifier must fit one image size (gan::Error otherwise; the
  // commands check it first and name the files). The classifier must live on `be`.
  GanEvaluator(Backend& be, const Dataset& train, const Dataset& test, Classifier& classifier,
               const EvalConfig& cfg = {});
  ~GanEvaluator();

  int image_dim() const { return dim_; }
  double classifier_test_accuracy() const { return test_accuracy_; }
  double nn_median_test() const { return nn_median_test_; }

  // n >= k + 1 samples [n, image_dim], pixels in [0, 1].
  EvalReport evaluate(const float* samples, int n);

 private:
  Backend& be_;
  Classifier& clf_;
  EvalConfig cfg_;
  int dim_ = 0, n_train_ = 0, n_test_ = 0;
  std::vector<float> train_, test_;  // [count, dim] in [0, 1]
  std::vector<float> test_features_;
  std::vector<float> test_radii_;
  Gaussian test_gaussian_;
  double test_accuracy_ = 0, nn_median_test_ = 0;
};

}  // namespace gan
