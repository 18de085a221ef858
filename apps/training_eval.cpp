/*
 * training_eval.cpp — the evaluation hook of the training loop.
 */
#include "apps/training_eval.hpp"

#include <cstdio>
#include <nlohmann/json.hpp>
#include <sstream>

#include "apps/eval_classifier.hpp"
#include "apps/train_log.hpp"
#include "engine/io/atomic_file.hpp"
#include "engine/eval/classifier.hpp"
#include "engine/base/error.hpp"
#include "engine/eval/gan_eval.hpp"
#include "engine/trainer.hpp"

namespace gan {

TrainingEval::TrainingEval(const TrainOptions& opt, const Dataset& train)
    : every_(opt.eval_every), samples_(opt.eval_samples), train_(train) {
  if (every_ <= 0) return;
  test_ = load_mnist(opt.data, Split::Test);
  if (test_.rows != train.rows || test_.cols != train.cols)
    GAN_INPUT_FAIL(opt.data << ": the test images are " << test_.rows << "x" << test_.cols
                            << " but the training images " << train.rows << "x" << train.cols);
  if (test_.count <= EvalConfig{}.k)
    GAN_INPUT_FAIL(opt.data << ": --eval-every needs more than " << EvalConfig{}.k
                            << " test images");
  source_ = std::make_unique<EvalClassifierSource>(opt.classifier, train, opt.data);
}

TrainingEval::~TrainingEval() = default;

bool TrainingEval::due(int64_t epochs_done, bool last_epoch) const {
  return every_ > 0 && (epochs_done % every_ == 0 || last_epoch);
}

void TrainingEval::run(Trainer& trainer, const GenerateOptions& how, int64_t epochs_done,
                       int64_t iteration,
                       int64_t per_epoch, const std::string& metrics_path, TrainLog& log) {
  Backend& be = trainer.backend();
  if (!evaluator_) {
    std::ostringstream os;
    classifier_ = source_->build(be, os);
    evaluator_ = std::make_unique<GanEvaluator>(be, train_, test_, *classifier_);
    std::string text = os.str();
    if (!text.empty() && text.back() == '\n') text.pop_back();
    if (!text.empty()) log.message(text);
  }
  const std::vector<float> samples = trainer.generate(samples_, Stream::Eval, 0, how);
  const EvalReport r = evaluator_->evaluate(samples.data(), samples_);
  nlohmann::json j;
  j["step"] = iteration;
  j["epoch"] = per_epoch > 0 ? static_cast<double>(iteration) / per_epoch : double(epochs_done);
  j["eval"] = r.to_json();
  AppendFile(metrics_path).write(j.dump() + "\n");
  char line[256];
  std::snprintf(line, sizeof line,
                "eval after epoch %lld: Parzen %.1f +- %.1f, Frechet %.2f, precision %.3f, "
                "recall %.3f, %d classes, KL %.3f, NN median %.2f (test %.2f) [%.1f s]",
                static_cast<long long>(epochs_done), r.parzen.mean, r.parzen.std_error, r.frechet,
                r.pr.precision, r.pr.recall, r.classes.covered, r.classes.kl_to_uniform,
                r.nn_median_samples, r.nn_median_test, r.seconds);
  log.message(line);
}

}  // namespace gan
