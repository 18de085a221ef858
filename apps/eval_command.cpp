/*
 * eval_command.cpp — `gan_cuda eval`: the metrics of engine/eval/gan_eval.hpp for a checkpoint's
 * generator, as a JSON file and a table.
 *
 * Samples: --samples N (default 10,000, the paper's Parzen protocol) from noise stream
 * Eval:--seed, with the weights and BatchNorm mode of --weights / --sample-bn (default: the
 * checkpoint's, apps/generator_choice.hpp); or, with --images FILE, the first --samples images
 * of an IDX file (every image when --samples is not given), evaluated as they are: real digits
 * to calibrate the metrics, or samples written by another program. Data: the training and test
 * splits of --data. The JSON goes to --out, by default next to the input
 * (<checkpoint minus .safetensors>.eval.json, <images minus .gz and .idx>.eval.json).
 * Every input is read and checked before the work starts; the JSON is written atomically.
 */
#include <filesystem>
#include <nlohmann/json.hpp>

#include "apps/app.hpp"
#include "apps/eval_classifier.hpp"
#include "apps/generator_choice.hpp"
#include "engine/io/atomic_file.hpp"
#include "engine/checkpoint.hpp"
#include "engine/base/error.hpp"
#include "engine/eval/gan_eval.hpp"
#include "engine/io/idx.hpp"
#include "engine/trainer.hpp"

namespace gan {

namespace {

std::string default_eval_path(const std::string& input) {
  std::string base = input;
  for (const std::string suffix : {".safetensors", ".gz", ".idx"})
    if (base.size() > suffix.size() &&
        base.compare(base.size() - suffix.size(), suffix.size(), suffix) == 0)
      base.resize(base.size() - suffix.size());
  return base + ".eval.json";
}

// The images of an IDX file [count, rows, cols] as floats in [0, 1], at most `limit` of them
// (all when limit <= 0); refused when their size is not the data's.
std::vector<float> load_images(const std::string& path, const Dataset& like, int limit, int* count) {
  const IdxArray a = read_idx(path, 3);
  if (int(a.dims[1]) != like.rows || int(a.dims[2]) != like.cols)
    GAN_INPUT_FAIL(path << ": " << a.dims[1] << "x" << a.dims[2] << " images, but the data's are "
                        << like.rows << "x" << like.cols);
  const int available = int(a.dims[0]);
  if (limit > 0 && limit > available)
    GAN_INPUT_FAIL(path << " holds " << available << " images, fewer than --samples " << limit);
  *count = limit > 0 ? limit : available;
  return images_to_float(a.data.data(), size_t(*count) * like.dim());
}

}  // namespace

int run_eval(const EvalOptions& opt, std::ostream& out) {
  // ---- inputs, all checked before anything runs ----------------------------------
  const bool from_images = !opt.images.empty();
  const Dataset train = load_mnist(opt.data, Split::Train);
  const Dataset test = load_mnist(opt.data, Split::Test);
  if (test.rows != train.rows || test.cols != train.cols)
    GAN_INPUT_FAIL(opt.data << ": the test images are " << test.rows << "x" << test.cols
                            << " but the training images " << train.rows << "x" << train.cols);
  Checkpoint ck;
  GenerateOptions how;
  std::vector<float> given;
  int n = opt.samples_given || !from_images ? opt.samples : 0;
  if (from_images) {
    given = load_images(opt.images, train, n, &n);
  } else {
    ck = load_checkpoint(opt.checkpoint);
    how = resolve_generator_choice(opt.generator, ck.config, opt.checkpoint);
    const ModelSpec& spec = ck.config.spec;
    if (spec.image_h != train.rows || spec.image_w != train.cols)
      GAN_INPUT_FAIL(opt.checkpoint << ": a generator of " << spec.image_h << "x" << spec.image_w
                                    << " images, but " << opt.data << " holds " << train.rows
                                    << "x" << train.cols << " images");
  }
  EvalConfig cfg;
  if (test.count <= cfg.k)
    GAN_INPUT_FAIL(opt.data << ": the evaluation needs more than " << cfg.k << " test images");
  if (n <= cfg.k)
    GAN_INPUT_FAIL(opt.images << ": the evaluation needs more than " << cfg.k << " images");
  EvalClassifierSource source(opt.classifier, train, opt.data);
  const std::string input = from_images ? opt.images : opt.checkpoint;
  const std::string json_path = opt.out.empty() ? default_eval_path(input) : opt.out;
  const std::filesystem::path parent = std::filesystem::path(json_path).parent_path();
  ensure_writable_dir(parent.empty() ? "." : parent.string());

  // ---- work ----------------------------------------------------------------------
  const auto backend = select_backend(opt.device, false, out, opt.threads);
  const std::unique_ptr<Classifier> clf = source.build(*backend, out);
  GanEvaluator evaluator(*backend, train, test, *clf, cfg);
  std::vector<float> samples;
  if (from_images) {
    samples = std::move(given);
  } else {
    Trainer generator(*backend, ck.config, false);
    generator.set_state(ck.state);
    samples = generator.generate(n, Stream::Eval, opt.seed, how);
  }
  const EvalReport report = evaluator.evaluate(samples.data(), n);

  nlohmann::json j;
  if (from_images) {
    j["images"] = opt.images;
  } else {
    j["checkpoint"] = opt.checkpoint;
    j["epoch"] = ck.state.epoch;
    j["iteration"] = ck.state.counters.iteration;
    j["noise"] = {{"stream", "eval"}, {"seed", opt.seed}};
    j["generator"] = {{"weights", how.weights == SampleWeights::Ema ? "ema" : "raw"},
                      {"sample_bn", sample_bn_name(how.bn)},
                      {"sample_bn_batch", how.bn == SampleBn::Train ? how.bn_batch : 0}};
  }
  j["backend"] = backend->name();
  j["classifier"] = source.description();
  j["test_set"] = opt.data + " (t10k, " + std::to_string(test.count) + " images)";
  j["metrics"] = report.to_json();
  const std::string text = j.dump(2) + "\n";
  write_file_atomic(json_path, text.data(), text.size());

  out << "evaluation of " << input;
  if (!from_images) out << " (epoch " << ck.state.epoch << ", " << describe(how) << ")";
  out << ", " << n << (from_images ? " images" : " samples") << ", on " << backend->name() << "\n"
      << report.table() << "  Parzen sigma: " << report.parzen_sigma_rule << "\n"
      << "wrote " << json_path << "\n";
  return 0;
}

}  // namespace gan
