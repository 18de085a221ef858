/*
 * eval_classifier.hpp — where the digit classifier of an evaluation comes from.
 *
 * With --classifier FILE the file is loaded and checked against the data (image size, 10
 * classes) when the source is constructed, before anything runs or is written. Without it,
 * build() trains one on the training split with the default recipe (ClassifierTraining{},
 * seed 0), so results are reproducible without shipping a binary file; the description
 * says which happened.
 */
#pragma once

#include <memory>
#include <ostream>
#include <string>

#include "engine/backend.hpp"
#include "engine/eval/classifier.hpp"
#include "engine/eval/classifier_file.hpp"

namespace gan {

struct Dataset;

// Trains a fresh classifier on `train` (weights from cfg.seed), printing one line per epoch
// to `log`, each starting with `prefix`.
std::unique_ptr<Classifier> train_digit_classifier(Backend& be, const Dataset& train,
                                                   const ClassifierTraining& cfg,
                                                   std::ostream& log, const std::string& prefix);

// The "training" metadata of a classifier file.
std::string classifier_training_json(const ClassifierTraining& cfg, int train_images);

class EvalClassifierSource {
 public:
  // `data_dir` names the data in error messages. InputError naming `path` when the file is
  // not a classifier or does not fit the data.
  EvalClassifierSource(const std::string& path, const Dataset& train, const std::string& data_dir);

  // The classifier on `be`: the file's weights, or one trained now (progress on `log`).
  std::unique_ptr<Classifier> build(Backend& be, std::ostream& log);
  // "FILE" or "trained on the fly: ..." (valid after build()).
  const std::string& description() const { return description_; }

 private:
  std::string path_;
  const Dataset& train_;
  ClassifierFile file_;
  std::string description_;
};

}  // namespace gan
