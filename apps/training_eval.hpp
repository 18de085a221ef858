/*
 * training_eval.hpp — `--eval-every N`: the metrics of engine/eval/gan_eval.hpp during training.
 *
 * Every N epochs (and after the last epoch) the generator draws --eval-samples images from
 * noise stream Eval:0 (the same noise each time; BatchNorm in eval mode) and the evaluation
 * record {"step", "epoch", "eval": {...}} is appended to metrics.jsonl, with a summary line
 * on the console. The test split (from --data) and --classifier are read when the hook is
 * constructed, before the run writes anything; the classifier (trained on the fly when no
 * file is given) and the real-data statistics are built at the first evaluation. With
 * N = 0 the hook does nothing and reads nothing.
 */
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "apps/cli_options.hpp"
#include "engine/io/idx.hpp"

namespace gan {

class Backend;
class Trainer;
struct GenerateOptions;
class TrainLog;
class Classifier;
class GanEvaluator;
class EvalClassifierSource;

class TrainingEval {
 public:
  TrainingEval(const TrainOptions& opt, const Dataset& train);
  ~TrainingEval();

  bool due(int64_t epochs_done, bool last_epoch) const;
  // Evaluates trainer's generator; appends the record to metrics_path.
  void run(Trainer& trainer, const GenerateOptions& how, int64_t epochs_done, int64_t iteration,
           int64_t per_epoch,
           const std::string& metrics_path, TrainLog& log);

 private:
  int every_ = 0, samples_ = 0;
  const Dataset& train_;
  Dataset test_;
  std::unique_ptr<EvalClassifierSource> source_;
  std::unique_ptr<Classifier> classifier_;
  std::unique_ptr<GanEvaluator> evaluator_;
};

}  // namespace gan
