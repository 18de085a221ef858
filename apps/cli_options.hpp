/*
 * cli_options.hpp — the command line of gan_cuda, parsed into plain structs (CLI11).
 *
 *   gan_cuda [train] [--data DIR] [--epochs N] [--batch-size B] ...   train (the default)
 *   gan_cuda sample --checkpoint F --n N --out FILE.png|.idx|.idx.gz  draw samples
 *   gan_cuda kernels [--device ...]                                   list kernel variants
 *   gan_cuda bench [--batch B] [--blocks N] [--json FILE] ...         time the iteration
 *   gan_cuda kernel-bench [--batch B] [--json FILE] ...               check and time each op
 *   gan_cuda eval --checkpoint F [--data DIR] [--classifier F] ...    evaluate a generator
 *   gan_cuda train-classifier [--data DIR] [--epochs N] [--out F]     the eval's classifier
 * Parsing never exits: bad flags raise InputError with CLI11's message; --help returns
 * the help text in CliCommand::help.
 */
#pragma once

#include <cstdint>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "engine/eval/classifier.hpp"
#include "engine/train_config.hpp"

namespace gan {

// The generator options of `sample` and `eval`; empty / 0: the checkpoint's choice.
struct GeneratorChoice {
  std::string weights;  // "raw" | "ema"
  std::string bn;       // "eval" | "train"
  int bn_batch = 0;
};

struct TrainOptions {
  std::string data;
  int epochs = 50;
  // --lr-decay-epochs: both rates fall linearly to 0 over the last N epochs of --epochs
  // (config.lr_decay_start/end are set from it; 0: constant rates; -1, the default:
  // default_lr_decay_epochs(epochs), engine/train_config.hpp).
  int lr_decay_epochs = -1;
  TrainConfig config;
  std::string device = "auto";
  int threads = 0;  // --threads: CPU backend threads (0: the cores this process may use)
  std::string out = "out";
  int sample_every = 1;      // epochs between sample grids
  int checkpoint_every = 1;  // epochs between checkpoints (the last epoch always writes one)
  int log_every = 50;        // iterations between metrics lines
  std::string resume;
  bool no_graph = false;
  bool tf32 = false;
  std::vector<std::pair<std::string, std::string>> kernels;  // --kernel OP=VARIANT
  int64_t profile_first = -1, profile_last = -1;            // --profile-steps A:B
  std::set<std::string> explicit_flags;  // model/optimizer flags given on the command line
  int eval_every = 0;         // epochs between evaluations (0: none; apps/training_eval.hpp)
  int eval_samples = 10000;   // generated images per evaluation
  std::string classifier;     // the evaluation's classifier (empty: trained on the fly)
  std::string sample_weights;  // grids and evaluations: "raw" | "ema" (empty: ema if any)
};

struct SampleOptions {
  std::string checkpoint;
  std::string out;
  int n = 64;
  uint64_t seed = 0;
  GeneratorChoice generator;
  std::string device = "auto";
  int threads = 0;  // --threads: CPU backend threads (0: the cores this process may use)
};

struct KernelsOptions {
  std::string device = "auto";
  int threads = 0;  // --threads: CPU backend threads (0: the cores this process may use)
};

// `gan_cuda bench` (apps/bench/bench_command.cpp).
struct BenchOptions {
  std::string data;
  std::string device = "auto";
  int threads = 0;  // --threads: CPU backend threads (0: the cores this process may use)
  int batch = 128;
  int warmup = 20;           // iterations before the first timed block
  int blocks = 30;           // timed blocks
  int iters_per_block = 20;  // iterations per block
  bool no_graph = false;
  bool tf32 = false;
  uint64_t seed = 0;
  std::string json;       // write the results here
  std::string save_init;  // write the initial weights here (a weights-only checkpoint)
  bool serve = false;     // time one block per "block" line on stdin (tools/bench/run_bench.py)
  std::vector<std::pair<std::string, std::string>> kernels;  // --kernel OP=VARIANT
};

// `gan_cuda kernel-bench` (apps/bench/kernel_bench_command.cpp).
struct KernelBenchOptions {
  std::string device = "auto";
  int threads = 0;  // --threads: CPU backend threads (0: the cores this process may use)
  int batch = 128;
  int images = 60000;   // permutation length of the shuffle cases
  int repeats = 30;     // timed blocks per case
  int calls = 10;       // calls per block
  bool tf32 = false;
  std::string json;
  std::vector<std::string> ops;  // only these ops (all when empty)
};

// `gan_cuda eval` (apps/eval_command.cpp).
struct EvalOptions {
  std::string checkpoint;  // the generator to sample, or
  std::string images;      // an IDX file of images [count, rows, cols] to evaluate as they are
  std::string data;
  std::string classifier;  // empty: one is trained on the fly (seed 0)
  std::string out;         // empty: <checkpoint or images file, minus extensions>.eval.json
  int samples = 10000;
  bool samples_given = false;  // --samples on the command line (with --images: else every image)
  uint64_t seed = 0;       // noise stream Eval:seed
  GeneratorChoice generator;
  std::string device = "auto";
  int threads = 0;  // --threads: CPU backend threads (0: the cores this process may use)
};

// `gan_cuda train-classifier` (apps/train_classifier_command.cpp).
struct TrainClassifierOptions {
  std::string data;
  std::string out = "classifier.safetensors";
  int epochs = ClassifierTraining{}.epochs;
  uint64_t seed = 0;
  std::string device = "auto";
  int threads = 0;  // --threads: CPU backend threads (0: the cores this process may use)
};

struct CliCommand {
  enum class Kind { Train, Sample, Kernels, Bench, KernelBench, Eval, TrainClassifier,
                    Help } kind = Kind::Train;
  TrainOptions train;
  SampleOptions sample;
  KernelsOptions kernels;
  BenchOptions bench;
  KernelBenchOptions kernel_bench;
  EvalOptions eval;
  TrainClassifierOptions train_classifier;
  std::string help;  // for Kind::Help
};

CliCommand parse_cli(int argc, const char* const* argv, const std::string& default_data);

// "A:B" -> (A, B) with 0 <= A <= B; InputError otherwise.
std::pair<int64_t, int64_t> parse_step_range(const std::string& s);
// "OP=VARIANT" -> (OP, VARIANT); InputError otherwise.
std::pair<std::string, std::string> parse_kernel_choice(const std::string& s);

}  // namespace gan
