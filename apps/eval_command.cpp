/*
 * eval_command.cpp — `gan_cuda eval`: the metrics of engine/gan_eval.hpp for a checkpoint's
 * generator, as a JSON file and a table.
 *
 * Samples: --samples N (default 10,000, the paper's Parzen protocol) from noise stream
 * Eval:--seed, with the weights and BatchNorm mode of --weights / --sample-bn (default: the
 * checkpoint's, apps/generator_choice.hpp). Data: the training and test splits of --data. The JSON
 * goes to --out, by default next to the checkpoint (<checkpoint minus .safetensors>.eval.json).
 * Every input is read and checked before the work starts; the JSON is written atomically.
 */
#include <filesystem>
#include <nlohmann/json.hpp>

#include "apps/app.hpp"
#include "apps/eval_classifier.hpp"
#include "apps/generator_choice.hpp"
#include "engine/atomic_file.hpp"
#include "engine/checkpoint.hpp"
#include "engine/error.hpp"
#include "engine/gan_eval.hpp"
#include "engine/idx.hpp"
#include "engine/trainer.hpp"

namespace gan {

namespace {

std::string default_eval_path(const std::string& checkpoint) {
  const std::string suffix = ".safetensors";
  std::string base = checkpoint;
  if (base.size() > suffix.size() && base.compare(base.size() - suffix.size(), suffix.size(), suffix) == 0)
    base.resize(base.size() - suffix.size());
  return base + ".eval.json";
}

}  // namespace

int run_eval(const EvalOptions& opt, std::ostream& out) {
  // ---- inputs, all checked before anything runs ----------------------------------
  const Checkpoint ck = load_checkpoint(opt.checkpoint);
  const GenerateOptions how = resolve_generator_choice(opt.generator, ck.config, opt.checkpoint);
  const Dataset train = load_mnist(opt.data, Split::Train);
  const Dataset test = load_mnist(opt.data, Split::Test);
  const ModelSpec& spec = ck.config.spec;
  if (spec.image_h != train.rows || spec.image_w != train.cols)
    GAN_INPUT_FAIL(opt.checkpoint << ": a generator of " << spec.image_h << "x" << spec.image_w
                                  << " images, but " << opt.data << " holds " << train.rows
                                  << "x" << train.cols << " images");
  if (test.rows != train.rows || test.cols != train.cols)
    GAN_INPUT_FAIL(opt.data << ": the test images are " << test.rows << "x" << test.cols
                            << " but the training images " << train.rows << "x" << train.cols);
  EvalConfig cfg;
  if (test.count <= cfg.k)
    GAN_INPUT_FAIL(opt.data << ": the evaluation needs more than " << cfg.k << " test images");
  EvalClassifierSource source(opt.classifier, train, opt.data);
  const std::string json_path = opt.out.empty() ? default_eval_path(opt.checkpoint) : opt.out;
  const std::filesystem::path parent = std::filesystem::path(json_path).parent_path();
  ensure_writable_dir(parent.empty() ? "." : parent.string());

  // ---- work ----------------------------------------------------------------------
  const auto backend = select_backend(opt.device, false, out);
  const std::unique_ptr<Classifier> clf = source.build(*backend, out);
  GanEvaluator evaluator(*backend, train, test, *clf, cfg);
  Trainer generator(*backend, ck.config, false);
  generator.set_state(ck.state);
  const std::vector<float> samples = generator.generate(opt.samples, Stream::Eval, opt.seed, how);
  const EvalReport report = evaluator.evaluate(samples.data(), opt.samples);

  nlohmann::json j;
  j["checkpoint"] = opt.checkpoint;
  j["epoch"] = ck.state.epoch;
  j["iteration"] = ck.state.counters.iteration;
  j["backend"] = backend->name();
  j["noise"] = {{"stream", "eval"}, {"seed", opt.seed}};
  j["generator"] = {{"weights", how.weights == SampleWeights::Ema ? "ema" : "raw"},
                    {"sample_bn", sample_bn_name(how.bn)},
                    {"sample_bn_batch", how.bn == SampleBn::Train ? how.bn_batch : 0}};
  j["classifier"] = source.description();
  j["test_set"] = opt.data + " (t10k, " + std::to_string(test.count) + " images)";
  j["metrics"] = report.to_json();
  const std::string text = j.dump(2) + "\n";
  write_file_atomic(json_path, text.data(), text.size());

  out << "evaluation of " << opt.checkpoint << " (epoch " << ck.state.epoch << ", "
      << opt.samples << " samples, " << describe(how) << ") on " << backend->name() << "\n"
      << report.table() << "  Parzen sigma chosen on " << report.parzen_validation << "\n"
      << "wrote " << json_path << "\n";
  return 0;
}

}  // namespace gan
