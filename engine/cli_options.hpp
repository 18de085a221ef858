/*
 * cli_options.hpp — the command line of gan_cuda, parsed into plain structs (CLI11).
 *
 *   gan_cuda [train] [--data DIR] [--epochs N] [--batch-size B] ...   train (the default)
 *   gan_cuda sample --checkpoint F --n N --out FILE.png|.idx|.idx.gz  draw samples
 *   gan_cuda kernels [--device ...]                                   list kernel variants
 * Parsing never exits: bad flags raise InputError with CLI11's message; --help returns
 * the help text in CliCommand::help.
 */
#pragma once

#include <cstdint>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "engine/train_config.hpp"

namespace gan {

struct TrainOptions {
  std::string data;
  int epochs = 50;
  TrainConfig config;
  std::string device = "auto";
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
};

struct SampleOptions {
  std::string checkpoint;
  std::string out;
  int n = 64;
  uint64_t seed = 0;
  std::string device = "auto";
};

struct KernelsOptions {
  std::string device = "auto";
};

struct CliCommand {
  enum class Kind { Train, Sample, Kernels, Help } kind = Kind::Train;
  TrainOptions train;
  SampleOptions sample;
  KernelsOptions kernels;
  std::string help;  // for Kind::Help
};

CliCommand parse_cli(int argc, const char* const* argv, const std::string& default_data);

// "A:B" -> (A, B) with 0 <= A <= B; InputError otherwise.
std::pair<int64_t, int64_t> parse_step_range(const std::string& s);
// "OP=VARIANT" -> (OP, VARIANT); InputError otherwise.
std::pair<std::string, std::string> parse_kernel_choice(const std::string& s);

}  // namespace gan
