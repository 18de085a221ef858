/*
 * train_config.hpp — everything that defines a training run's arithmetic, and its JSON form.
 *
 * The JSON is stored in every checkpoint's metadata, so that `--resume` can refuse a
 * checkpoint of another model and `sample` can rebuild the generator. The fields of the
 * training options (lr_g and lr_d instead of one lr, d_dropout, real_label, g_ema, lr_decay,
 * sample_bn, sample_bn_batch) are written only when they differ from what configurations
 * before them did, and are optional when read: an older checkpoint gets the behaviour it was
 * trained with (one "lr" for both networks, no dropout, real label 1, no average, constant
 * rates, eval-mode samples), and
 * a configuration that uses none of them has the JSON it always had.
 */
#pragma once

#include <cstdint>
#include <string>

#include "engine/backend.hpp"
#include "engine/model_spec.hpp"

namespace gan {

enum class NanPolicy : uint8_t { Abort, Skip };

// How generated samples (grids, `sample`, `eval`) treat G's BatchNorm (engine/trainer.hpp).
enum class SampleBn : uint8_t {
  Eval,   // running statistics (PyTorch's G.eval())
  Train,  // batch statistics of each chunk of sample_bn_batch rows; running stats untouched
};

// The most epochs a run may have (--epochs); a learning-rate decay never ends past it.
constexpr int kMaxEpochs = 1000000;

// The default learning-rate decay of a run (--lr-decay-epochs not given): both rates fall
// linearly to 0 over the last kDefaultLrDecayPercent percent of its epochs, rounded down
// (50 epochs: the last 10; fewer than 5: none).
constexpr int kDefaultLrDecayPercent = 20;
constexpr int default_lr_decay_epochs(int epochs) {
  return static_cast<int>(int64_t{epochs} * kDefaultLrDecayPercent / 100);
}

// The defaults are the recipe chosen by measurement (docs/quality/study.md): Adam at 7e-5 for
// both networks with beta2 0.99, one-sided label smoothing 0.9, samples from G's weight
// average (0.999); the command line adds the rates' decay over the last epochs
// (default_lr_decay_epochs above), which a TrainConfig counts in epochs of a known run.
// plain() is the iteration with every addition off and the Adam settings of the first
// defaults (2e-4, betas 0.5 and 0.999).
struct TrainConfig {
  ModelSpec spec;  // spec.bn_momentum: G's BatchNorm momentum (--bn-momentum)
  int batch_size = 128;
  int d_steps = 1;  // D updates per G update (k of Algorithm 1)
  GLoss g_loss = GLoss::NonSaturating;
  // per network; the command line shares the betas
  AdamConfig adam_g{7e-5f, 0.5f, 0.99f}, adam_d{7e-5f, 0.5f, 0.99f};
  uint64_t seed = 0;
  NanPolicy nan_policy = NanPolicy::Abort;
  float d_dropout = 0.0f;   // dropout probability after each hidden LeakyReLU of D (0: none)
  float real_label = 0.9f;  // the real rows' BCE target in the D loss (< 1: label smoothing)
  float g_ema = 0.999f;     // decay of the moving average of G's weights (0: none)
  // Both rates fall linearly from the start of epoch lr_decay_start (counted from 0) to 0 at
  // the end of epoch lr_decay_end - 1 (engine/lr_schedule.h); lr_decay_end 0: constant rates.
  int lr_decay_start = 0, lr_decay_end = 0;
  SampleBn sample_bn = SampleBn::Eval;
  int sample_bn_batch = 0;  // rows per chunk with SampleBn::Train (0: batch_size)

  // Adam 2e-4 for both networks, real label 1, no weight average: Algorithm 1 with nothing
  // added (the defaults before the recipe study).
  static TrainConfig plain();

  const AdamConfig& adam(Net n) const { return n == Net::G ? adam_g : adam_d; }
  bool has_ema() const { return g_ema > 0.0f; }
  bool has_lr_decay() const { return lr_decay_end > 0; }
  int sample_chunk() const { return sample_bn_batch > 0 ? sample_bn_batch : batch_size; }
  void validate() const;  // InputError naming the flag
};

const char* g_loss_name(GLoss l);
GLoss parse_g_loss(const std::string& s);  // "non-saturating" | "minimax"
const char* sample_bn_name(SampleBn b);
SampleBn parse_sample_bn(const std::string& s);  // "eval" | "train"

std::string to_json(const TrainConfig& c);                 // one line
TrainConfig train_config_from_json(const std::string& s);  // InputError on bad JSON/fields

}  // namespace gan
