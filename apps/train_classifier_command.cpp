/*
 * train_classifier_command.cpp — `gan_cuda train-classifier`: the evaluation's digit
 * classifier (engine/eval/classifier.hpp) trained on the training split of --data, its accuracy on
 * the test split reported and stored in the file (engine/eval/classifier_file.hpp).
 */
#include <cstdio>
#include <filesystem>

#include "apps/app.hpp"
#include "apps/eval_classifier.hpp"
#include "engine/io/atomic_file.hpp"
#include "engine/eval/classifier_file.hpp"
#include "engine/base/error.hpp"
#include "engine/io/idx.hpp"

namespace gan {

int run_train_classifier(const TrainClassifierOptions& opt, std::ostream& out) {
  const Dataset train = load_mnist(opt.data, Split::Train);
  const Dataset test = load_mnist(opt.data, Split::Test);
  if (test.rows != train.rows || test.cols != train.cols)
    GAN_INPUT_FAIL(opt.data << ": the test images are " << test.rows << "x" << test.cols
                            << " but the training images " << train.rows << "x" << train.cols);
  const std::filesystem::path parent = std::filesystem::path(opt.out).parent_path();
  ensure_writable_dir(parent.empty() ? "." : parent.string());

  const auto backend = select_backend(opt.device, false, out, opt.threads);
  ClassifierTraining cfg;
  cfg.epochs = opt.epochs;
  cfg.seed = opt.seed;
  out << "training the digit classifier on " << backend->name() << ": " << train.count
      << " images, " << cfg.epochs << " epochs, batch " << cfg.batch_size << "\n";
  const std::unique_ptr<Classifier> clf = train_digit_classifier(*backend, train, cfg, out, "");
  const double acc = clf->accuracy(test);
  char text[32];
  std::snprintf(text, sizeof text, "%.4f", acc);
  ClassifierFile file;
  file.spec = clf->spec();
  file.params = clf->params();
  file.training = classifier_training_json(cfg, train.count);
  file.test_accuracy = text;
  save_classifier(opt.out, file);
  char line[128];
  std::snprintf(line, sizeof line, "test accuracy %.2f%% on %d images\n", 100 * acc, test.count);
  out << line << "wrote " << opt.out << "\n";
  return 0;
}

}  // namespace gan
