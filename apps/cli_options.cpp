/*
 * cli_options.cpp — CLI11 definitions of the train, sample, kernels, bench, kernel-bench,
 * eval and train-classifier commands.
 */
#include "apps/cli_options.hpp"

#include <CLI/CLI.hpp>

#include "engine/base/error.hpp"

namespace gan {

std::pair<int64_t, int64_t> parse_step_range(const std::string& s) {
  const size_t colon = s.find(':');
  try {
    if (colon == std::string::npos) throw std::invalid_argument(s);
    size_t used_a = 0, used_b = 0;
    const std::string a = s.substr(0, colon), b = s.substr(colon + 1);
    const long long first = std::stoll(a, &used_a), last = std::stoll(b, &used_b);
    if (used_a != a.size() || used_b != b.size() || first < 0 || last < first)
      throw std::invalid_argument(s);
    return {first, last};
  } catch (const std::exception&) {
    GAN_INPUT_FAIL("--profile-steps expects A:B with 0 <= A <= B (iterations), got '" << s << "'");
  }
}

std::pair<std::string, std::string> parse_kernel_choice(const std::string& s) {
  const size_t eq = s.find('=');
  if (eq == std::string::npos || eq == 0 || eq + 1 == s.size())
    GAN_INPUT_FAIL("--kernel expects OP=VARIANT (see `gan_cuda kernels`), got '" << s << "'");
  return {s.substr(0, eq), s.substr(eq + 1)};
}

namespace {

void add_device_option(CLI::App* app, std::string* device, int* threads) {
  app->add_option("--device", *device, "auto (GPU if present), cuda or cpu")
      ->check(CLI::IsMember({"auto", "cuda", "cpu"}));
  app->add_option("--threads", *threads,
                  "threads of the CPU backend (default: the cores this process may use)")
      ->check(CLI::Range(1, 4096));
}

void add_generator_options(CLI::App* app, GeneratorChoice* g) {
  app->add_option("--weights", g->weights,
                  "raw or ema (default: ema when the checkpoint has a weight average)")
      ->check(CLI::IsMember({"raw", "ema"}));
  app->add_option("--sample-bn", g->bn,
                  "BatchNorm: eval (running stats) or train (batch stats of each chunk); "
                  "default: the checkpoint's configuration")
      ->check(CLI::IsMember({"eval", "train"}));
  app->add_option("--sample-bn-batch", g->bn_batch,
                  "rows per chunk with --sample-bn train (default: the checkpoint's)")
      ->check(CLI::Range(2, 1 << 16));
}

}  // namespace

CliCommand parse_cli(int argc, const char* const* argv, const std::string& default_data) {
  CliCommand cmd;
  TrainOptions& t = cmd.train;
  TrainConfig& c = t.config;
  t.data = default_data;
  CLI::App app{"gan_cuda: trains the GAN of Goodfellow et al. (2014) on MNIST IDX files"};
  app.require_subcommand(0, 1);
  // Training flags live on the top level (training is the default action) and on `train`.
  CLI::App* train = app.add_subcommand("train", "train (the default when no command is given)");
  std::string g_loss = "non-saturating", nan_policy = "abort", profile_steps;
  std::string sample_bn = "eval";
  float lr = c.adam_g.lr, lr_g = lr, lr_d = lr, beta1 = c.adam_g.beta1, beta2 = c.adam_g.beta2;
  std::vector<std::string> kernel_choices;
  std::vector<int> g_widths = c.spec.g_widths, d_widths = c.spec.d_widths;
  auto add_train_flags = [&](CLI::App* a) {
    a->add_option("--data", t.data, "directory of MNIST IDX files (raw or .gz)");
    a->add_option("--epochs", t.epochs, "total epochs (a resumed run continues up to this)")
        ->check(CLI::Range(1, kMaxEpochs));
    a->add_option("--batch-size", c.batch_size, "real images per D step");
    a->add_option("--z-dim", c.spec.z_dim, "noise dimension");
    a->add_option("--g-widths", g_widths, "generator hidden widths")->delimiter(',');
    a->add_option("--d-widths", d_widths, "discriminator hidden widths")->delimiter(',');
    a->add_option("--lr", lr, "Adam learning rate of both networks");
    a->add_option("--lr-g", lr_g, "G's Adam learning rate (default: --lr)");
    a->add_option("--lr-d", lr_d, "D's Adam learning rate (default: --lr)");
    a->add_option("--beta1", beta1, "Adam beta1 (both networks)");
    a->add_option("--beta2", beta2, "Adam beta2 (both networks)");
    a->add_option("--bn-momentum", c.spec.bn_momentum, "momentum of G's BatchNorm running statistics");
    a->add_option("--d-dropout", c.d_dropout,
                  "dropout probability after each hidden LeakyReLU of D (0: none)");
    a->add_option("--real-label", c.real_label,
                  "BCE target of real images in D's loss (0.9: one-sided label smoothing)");
    a->add_option("--g-ema", c.g_ema, "decay of a moving average of G's weights (0: none)");
    a->add_option("--lr-decay-epochs", t.lr_decay_epochs,
                  "both learning rates fall linearly to 0 over the last N epochs (default: the "
                  "last " + std::to_string(kDefaultLrDecayPercent) +
                      "% of --epochs, rounded down; 0: constant)")
        ->check(CLI::Range(0, kMaxEpochs));
    a->add_option("--sample-bn", sample_bn,
                  "BatchNorm of generated samples: eval (running stats) or train (batch stats)")
        ->check(CLI::IsMember({"eval", "train"}));
    a->add_option("--sample-bn-batch", c.sample_bn_batch,
                  "rows per BatchNorm chunk with --sample-bn train (0: the batch size)");
    a->add_option("--sample-weights", t.sample_weights,
                  "weights of the sample grids and evaluations: ema (default when --g-ema) or raw")
        ->check(CLI::IsMember({"raw", "ema"}));
    a->add_option("--g-loss", g_loss, "non-saturating or minimax");
    a->add_option("--d-steps", c.d_steps, "D updates per G update (k of Algorithm 1)");
    a->add_option("--seed", c.seed, "seed of every random stream");
    a->add_option("--nan-policy", nan_policy, "abort or skip on a non-finite loss/gradient")
        ->check(CLI::IsMember({"abort", "skip"}));
    add_device_option(a, &t.device, &t.threads);
    a->add_option("--out", t.out, "output directory");
    a->add_option("--sample-every", t.sample_every, "epochs between sample grids")
        ->check(CLI::Range(1, 1000000));
    a->add_option("--checkpoint-every", t.checkpoint_every, "epochs between checkpoints")
        ->check(CLI::Range(1, 1000000));
    a->add_option("--log-every", t.log_every, "iterations between metrics lines")
        ->check(CLI::Range(1, 100000000));
    a->add_option("--resume", t.resume, "continue from this checkpoint");
    a->add_flag("--no-graph", t.no_graph, "launch the iteration eagerly instead of a CUDA graph");
    a->add_flag("--tf32", t.tf32, "TF32 tensor-core matrix products (CUDA)");
    a->add_option("--kernel", kernel_choices, "OP=VARIANT kernel choice (repeatable)");
    a->add_option("--profile-steps", profile_steps, "A:B: cudaProfilerStart/Stop around these");
    a->add_option("--eval-every", t.eval_every, "epochs between evaluations (0: none)")
        ->check(CLI::Range(0, 1000000));
    a->add_option("--eval-samples", t.eval_samples, "generated images per evaluation")
        ->check(CLI::Range(4, 1000000));
    a->add_option("--classifier", t.classifier,
                  "classifier of the evaluations (default: trained on the fly)");
  };
  add_train_flags(&app);
  add_train_flags(train);

  CLI::App* sample = app.add_subcommand("sample", "write generated samples from a checkpoint");
  sample->add_option("--checkpoint", cmd.sample.checkpoint, "checkpoint file")->required();
  sample->add_option("--n", cmd.sample.n, "number of samples")->check(CLI::Range(1, 1000000));
  sample->add_option("--out", cmd.sample.out, "FILE.png (grid), FILE.idx or FILE.idx.gz")
      ->required();
  sample->add_option("--seed", cmd.sample.seed, "noise seed");
  add_generator_options(sample, &cmd.sample.generator);
  add_device_option(sample, &cmd.sample.device, &cmd.sample.threads);

  CLI::App* kernels = app.add_subcommand("kernels", "list the kernel variants of each op");
  add_device_option(kernels, &cmd.kernels.device, &cmd.kernels.threads);

  BenchOptions& bo = cmd.bench;
  bo.data = default_data;
  std::vector<std::string> bench_kernels;
  CLI::App* bench = app.add_subcommand("bench", "time the training iteration (CUDA events on "
                                                "CUDA) and write the results as JSON");
  bench->add_option("--data", bo.data, "directory of MNIST IDX files (raw or .gz)");
  add_device_option(bench, &bo.device, &bo.threads);
  bench->add_option("--batch", bo.batch, "batch size")->check(CLI::Range(2, 1 << 20));
  bench->add_option("--warmup", bo.warmup, "iterations before timing")
      ->check(CLI::Range(0, 1000000));
  bench->add_option("--blocks", bo.blocks, "timed blocks (0: only --save-init)")
      ->check(CLI::Range(0, 1000000));
  bench->add_option("--iters-per-block", bo.iters_per_block, "iterations per timed block")
      ->check(CLI::Range(1, 1000000));
  bench->add_flag("--no-graph", bo.no_graph, "launch the iteration eagerly instead of a graph");
  bench->add_flag("--tf32", bo.tf32, "TF32 tensor-core matrix products (CUDA)");
  bench->add_option("--seed", bo.seed, "seed of every random stream");
  bench->add_option("--json", bo.json, "write the results to this JSON file");
  bench->add_option("--save-init", bo.save_init,
                    "write the initial weights to this safetensors file");
  bench->add_flag("--serve", bo.serve, "time one block per 'block' line read from stdin");
  bench->add_option("--kernel", bench_kernels, "OP=VARIANT kernel choice (repeatable)");

  KernelBenchOptions& ko = cmd.kernel_bench;
  CLI::App* kbench = app.add_subcommand(
      "kernel-bench", "check every kernel variant against the CPU reference and time it at "
                      "the model's shapes");
  add_device_option(kbench, &ko.device, &ko.threads);
  kbench->add_option("--batch", ko.batch, "batch size of the shapes")
      ->check(CLI::Range(2, 1 << 20));
  kbench->add_option("--images", ko.images, "permutation length of the shuffle cases")
      ->check(CLI::Range(1, 1 << 30));
  kbench->add_option("--repeats", ko.repeats, "timed blocks per case")
      ->check(CLI::Range(1, 1000000));
  kbench->add_option("--calls", ko.calls, "calls per timed block")->check(CLI::Range(1, 1000000));
  kbench->add_flag("--tf32", ko.tf32, "TF32 tensor-core matrix products (CUDA)");
  kbench->add_option("--json", ko.json, "write the results to this JSON file");
  kbench->add_option("--op", ko.ops, "only this op (repeatable)");

  EvalOptions& eo = cmd.eval;
  eo.data = default_data;
  CLI::App* eval = app.add_subcommand("eval", "evaluate a checkpoint's generator: Parzen "
                                              "log-likelihood, classifier metrics, memorisation");
  CLI::Option* eval_ck = eval->add_option("--checkpoint", eo.checkpoint, "checkpoint file");
  CLI::Option* eval_images =
      eval->add_option("--images", eo.images,
                       "evaluate these images (IDX [count, rows, cols], raw or .gz) instead of "
                       "a checkpoint's samples: real digits, or another program's samples");
  eval_ck->excludes(eval_images);
  eval->add_option("--data", eo.data, "directory of MNIST IDX files (training and test split)");
  eval->add_option("--classifier", eo.classifier,
                   "classifier from train-classifier (default: trained on the fly, seed 0)");
  eval->add_option("--out", eo.out, "JSON file (default: next to the checkpoint)");
  CLI::Option* eval_samples =
      eval->add_option("--samples", eo.samples, "generated images (with --images: the first N)")
          ->check(CLI::Range(4, 1000000));
  eval->add_option("--seed", eo.seed, "noise seed");
  add_generator_options(eval, &eo.generator);
  add_device_option(eval, &eo.device, &eo.threads);

  TrainClassifierOptions& co = cmd.train_classifier;
  co.data = default_data;
  CLI::App* tclf = app.add_subcommand("train-classifier",
                                      "train the digit classifier of the evaluation");
  tclf->add_option("--data", co.data, "directory of MNIST IDX files (training and test split)");
  tclf->add_option("--epochs", co.epochs, "epochs")->check(CLI::Range(1, 100000));
  tclf->add_option("--out", co.out, "safetensors file");
  tclf->add_option("--seed", co.seed, "seed of the weights and the shuffle");
  add_device_option(tclf, &co.device, &co.threads);

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp&) {
    cmd.kind = CliCommand::Kind::Help;
    cmd.help = app.help();
    for (CLI::App* sub : {train, sample, kernels, bench, kbench, eval, tclf})
      if (sub->parsed()) cmd.help = sub->help();
    return cmd;
  } catch (const CLI::ParseError& e) {
    GAN_INPUT_FAIL(e.what() << " (see gan_cuda --help)");
  }
  if (sample->parsed()) {
    cmd.kind = CliCommand::Kind::Sample;
    return cmd;
  }
  if (kernels->parsed()) {
    cmd.kind = CliCommand::Kind::Kernels;
    return cmd;
  }
  if (bench->parsed()) {
    cmd.kind = CliCommand::Kind::Bench;
    for (const std::string& k : bench_kernels) bo.kernels.push_back(parse_kernel_choice(k));
    return cmd;
  }
  if (eval->parsed()) {
    eo.samples_given = eval_samples->count() > 0;
    if (eo.checkpoint.empty() && eo.images.empty())
      GAN_INPUT_FAIL("eval needs --checkpoint FILE or --images FILE (see gan_cuda eval --help)");
    if (!eo.images.empty() &&
        (!eo.generator.weights.empty() || !eo.generator.bn.empty() || eo.generator.bn_batch))
      GAN_INPUT_FAIL("--weights, --sample-bn and --sample-bn-batch choose how a checkpoint's "
                     "generator samples; they do not apply to --images");
    cmd.kind = CliCommand::Kind::Eval;
    return cmd;
  }
  if (tclf->parsed()) {
    cmd.kind = CliCommand::Kind::TrainClassifier;
    return cmd;
  }
  if (kbench->parsed()) {
    cmd.kind = CliCommand::Kind::KernelBench;
    return cmd;
  }
  cmd.kind = CliCommand::Kind::Train;
  c.spec.g_widths = g_widths;
  c.spec.d_widths = d_widths;
  c.g_loss = parse_g_loss(g_loss);
  c.nan_policy = nan_policy == "skip" ? NanPolicy::Skip : NanPolicy::Abort;
  c.sample_bn = parse_sample_bn(sample_bn);
  {
    const CLI::App* where = train->parsed() ? train : &app;
    // --lr sets both networks; --lr-g / --lr-d win over it.
    c.adam_g.lr = where->count("--lr-g") ? lr_g : lr;
    c.adam_d.lr = where->count("--lr-d") ? lr_d : lr;
    c.adam_g.beta1 = c.adam_d.beta1 = beta1;
    c.adam_g.beta2 = c.adam_d.beta2 = beta2;
  }
  if (t.lr_decay_epochs > t.epochs)
    GAN_INPUT_FAIL("--lr-decay-epochs " << t.lr_decay_epochs
                                        << " is longer than the run (--epochs " << t.epochs
                                        << ")");
  if (t.lr_decay_epochs < 0) t.lr_decay_epochs = default_lr_decay_epochs(t.epochs);
  c.lr_decay_start = t.lr_decay_epochs > 0 ? t.epochs - t.lr_decay_epochs : 0;
  c.lr_decay_end = t.lr_decay_epochs > 0 ? t.epochs : 0;
  for (const std::string& k : kernel_choices) t.kernels.push_back(parse_kernel_choice(k));
  if (!profile_steps.empty()) std::tie(t.profile_first, t.profile_last) = parse_step_range(profile_steps);
  for (const char* flag : {"--batch-size", "--z-dim", "--g-widths", "--d-widths", "--lr",
                           "--lr-g", "--lr-d", "--beta1", "--beta2", "--g-loss", "--d-steps",
                           "--seed", "--nan-policy", "--bn-momentum", "--d-dropout",
                           "--real-label", "--g-ema", "--lr-decay-epochs", "--sample-bn",
                           "--sample-bn-batch"}) {
    const CLI::App* where = train->parsed() ? train : &app;
    if (where->count(flag) > 0) t.explicit_flags.insert(flag);
  }
  c.validate();
  return cmd;
}

}  // namespace gan
