/*
 * eval_classifier.cpp — loading, checking or training the evaluation's digit classifier.
 */
#include "apps/eval_classifier.hpp"

#include <cstdio>
#include <nlohmann/json.hpp>

#include "engine/base/error.hpp"
#include "engine/io/idx.hpp"

namespace gan {

namespace {

constexpr int kDigitClasses = 10;

}  // namespace

std::unique_ptr<Classifier> train_digit_classifier(Backend& be, const Dataset& train,
                                                   const ClassifierTraining& cfg,
                                                   std::ostream& log, const std::string& prefix) {
  ClassifierSpec spec;
  spec.image_h = train.rows;
  spec.image_w = train.cols;
  spec.classes = kDigitClasses;
  auto clf = std::make_unique<Classifier>(be, spec);
  clf->init_weights(cfg.seed);
  clf->train(train, cfg, [&](int epoch, double loss, double acc) {
    char line[160];
    std::snprintf(line, sizeof line, "%sepoch %d/%d: loss %.4f, training accuracy %.2f%%\n",
                  prefix.c_str(), epoch, cfg.epochs, loss, 100 * acc);
    log << line << std::flush;
  });
  return clf;
}

std::string classifier_training_json(const ClassifierTraining& cfg, int train_images) {
  nlohmann::json j;
  j["epochs"] = cfg.epochs;
  j["batch_size"] = cfg.batch_size;
  j["lr"] = cfg.adam.lr;
  j["beta1"] = cfg.adam.beta1;
  j["beta2"] = cfg.adam.beta2;
  j["seed"] = cfg.seed;
  j["train_images"] = train_images;
  j["augmentation"] = cfg.shift_augment ? "one-pixel shifts (5x the images)" : "none";
  j["loss"] = "softmax cross-entropy";
  return j.dump();
}

EvalClassifierSource::EvalClassifierSource(const std::string& path, const Dataset& train,
                                           const std::string& data_dir)
    : path_(path), train_(train) {
  if (path_.empty()) return;
  file_ = load_classifier(path_);
  const ClassifierSpec& s = file_.spec;
  if (s.image_h != train.rows || s.image_w != train.cols)
    GAN_INPUT_FAIL(path_ << ": a classifier of " << s.image_h << "x" << s.image_w
                         << " images, but " << data_dir << " holds " << train.rows << "x"
                         << train.cols << " images");
  if (s.classes != kDigitClasses)
    GAN_INPUT_FAIL(path_ << ": a classifier of " << s.classes << " classes; the evaluation "
                         << "needs one of the " << kDigitClasses << " digits");
}

std::unique_ptr<Classifier> EvalClassifierSource::build(Backend& be, std::ostream& log) {
  if (!path_.empty()) {
    auto clf = std::make_unique<Classifier>(be, file_.spec);
    clf->set_params(file_.params);
    description_ = path_;
    return clf;
  }
  const ClassifierTraining cfg;
  log << "no --classifier given: training one on the " << train_.count
      << " training images (seed " << cfg.seed << ", " << cfg.epochs << " epochs)\n";
  auto clf = train_digit_classifier(be, train_, cfg, log, "  classifier ");
  description_ = "trained on the fly: " + classifier_training_json(cfg, train_.count);
  return clf;
}

}  // namespace gan
