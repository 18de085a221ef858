/*
 * trainer.hpp — the GAN training iteration on a Backend, with all state in backend memory.
 *
 * One iteration (Goodfellow et al. 2014, Algorithm 1) with k = d_steps:
 *   for j in 0..k-1 (D steps):
 *     z  = noise(stream Noise: iteration*(k+1) + j)          [B, z_dim]
 *     x_fake = G(z) (training-mode BatchNorm: batch stats, running stats updated with
 *              momentum --bn-momentum)
 *     x_real = batch (cursor + j) of this epoch's permutation  [B, image_dim] in [0, 1]
 *     D forward on the 2B rows [x_real; x_fake] (with --d-dropout P: inverted dropout after
 *     each hidden LeakyReLU, mask of draw iteration*(k+1) + j, engine/dropout_mask.h);
 *     D loss BCE(real, L) + BCE(fake, 0) with L = --real-label (1 by default);
 *     D gradients (through the same masks); Adam on D with lr --lr-d (skipped if the loss
 *     or a gradient is non-finite)
 *   G step:
 *     z  = noise(stream Noise: iteration*(k+1) + k); x_fake = G(z) (training mode)
 *     G loss (non-saturating -log D(G(z)) or minimax log(1 - D(G(z)))) through D in training
 *     mode (dropout mask of draw iteration*(k+1) + k); gradients flow through D without
 *     touching D's weights or gradients; Adam on G with lr --lr-g (same skip rule)
 *     (with --lr-decay-epochs both rates are scaled by the decay at this iteration:
 *     engine/lr_schedule.h, epochs of floor(N / (B k)) iterations)
 *     with --g-ema DECAY, unless that Adam step was skipped: ema = DECAY ema + (1 - DECAY) w
 *     over G's parameter arena, and the same over G's BatchNorm running statistics (the
 *     average's statistics are the moving average of the raw ones, as PyTorch's
 *     AveragedModel with use_buffers=True; the average starts at the initial weights)
 *   cursor += k; iteration += 1
 * The defaults (no dropout, L = 1, no average) run exactly the ops of the plain iteration.
 * Noise element i of a draw is philox_normal(seed, stream, i), row-major [B, z_dim]; the
 * permutation of epoch e sorts indices by philox_u32(seed, Shuffle:e, i). An epoch has
 * floor(N / (B k)) iterations; the last partial batch is dropped.
 *
 * Initialisation (PyTorch's nn.Linear default, drawn from Philox): W and b of a Linear with
 * fan-in n are uniform in [-1/sqrt(n), 1/sqrt(n)): element i of tensor number p of network
 * q (G = 0, D = 1) is (2 philox_uniform(seed, Init:(q << 16 | p), i) - 1) / sqrt(n).
 * BatchNorm: gamma = 1, beta = 0, running mean 0, running var 1.
 *
 * On a backend with graphs (CUDA) the iteration is captured once and replayed; the graph
 * belongs to the Trainer, so several Trainers may share one backend.
 *
 * Sampling (generate): noise row i of stream (purpose, index) through G, with the raw or the
 * averaged weights, and BatchNorm either in eval mode (running statistics: each sample is a
 * function of its noise row only) or in train mode: the rows are cut into chunks of
 * bn_batch rows (rows [c bn_batch, (c+1) bn_batch)), noise drawn for whole chunks, and each
 * chunk is normalised with its own batch statistics (biased variance, as in training) without
 * touching any running statistic; rows past n are computed and dropped. So a sample depends
 * on its chunk's noise only, the same n, seed and bn_batch give the same images, and a
 * smaller n gives a prefix of a larger one.
 */
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "engine/backend.hpp"
#include "engine/model_spec.hpp"
#include "engine/train_config.hpp"

namespace gan {

struct Dataset;

enum class SampleWeights : uint8_t { Raw, Ema };

// How generate() draws samples (see the header comment).
struct GenerateOptions {
  SampleWeights weights = SampleWeights::Raw;
  SampleBn bn = SampleBn::Eval;
  int bn_batch = 0;  // rows per chunk with SampleBn::Train (at least 2)
};

// Host copy of everything a checkpoint holds about the networks and the optimizer.
struct TrainState {
  std::vector<float> params[2], adam_m[2], adam_v[2];
  std::vector<float> bn_stats;  // G's running mean/var arena
  std::vector<float> ema_params, ema_stats;  // G's weight average (--g-ema), else empty
  StepCounters counters;
  int64_t epoch = 0;       // epoch the counters' batch_cursor belongs to
  int64_t data_count = 0;  // training images the run uses (0 when unknown)
};

class Trainer {
 public:
  Trainer(Backend& backend, const TrainConfig& cfg, bool use_graph = true);
  ~Trainer();
  Trainer(const Trainer&) = delete;
  Trainer& operator=(const Trainer&) = delete;

  const TrainConfig& config() const { return cfg_; }
  const NetLayout& layout(Net n) const { return n == Net::G ? g_ : d_; }
  Backend& backend() { return be_; }

  // Uploads the training images (uint8) once; their size must match the spec.
  void set_data(const Dataset& train);
  int iterations_per_epoch() const;
  void init_weights();

  // Shuffles for `epoch` and resets the batch cursor (keeps other counters).
  void begin_epoch(int64_t epoch);
  // Issues one iteration (asynchronous on CUDA).
  void run_iteration();

  // Host copies of state; set_state uploads all of it (and reshuffles for state.epoch).
  TrainState state() const;
  void set_state(const TrainState& s);
  StepCounters counters() const;
  StepMetrics metrics() const;  // waits for the device

  // Asynchronous read-back of metrics + counters (CUDA: no stall).
  void request_readback();
  bool readback_ready();
  void wait_readback();
  StepMetrics readback_metrics() const;
  StepCounters readback_counters() const;

  // Host copies for tests: parameter gradients, and a layer's output after the last
  // iteration (rows x width): G layers from the G step; D layers from the G step too
  // (fake rows only).
  std::vector<float> grads(Net n) const;
  std::vector<float> activation(Net n, int layer) const;

  // n generated images [n, image_dim] from noise stream (purpose, index), raw weights,
  // BatchNorm in eval mode (running statistics).
  std::vector<float> generate(int n, Stream purpose, uint64_t index);
  // The same with the given weights and BatchNorm mode. InputError when the average is asked
  // of a generator without one, or train mode with chunks of fewer than 2 rows.
  std::vector<float> generate(int n, Stream purpose, uint64_t index, const GenerateOptions& opt);
  // The configuration's choice: the average when there is one, the configuration's
  // sample_bn and chunk size.
  GenerateOptions default_generate_options() const;

 private:
  struct Buffers;
  void enqueue_iteration();
  // G forward from z; layer l writes outs[l] (its last layer into the D input's fake rows
  // during training).
  void g_forward(Mode mode, int rows, const float* z, float* const* outs);
  // A layer's tensors in the network's arena (or in `arena`, laid out the same way).
  DenseParams layer_params(Net n, size_t l, const float* arena = nullptr) const;
  DenseGrads layer_grads(Net n, size_t l) const;
  BnStats g_stats(size_t l, float* arena = nullptr) const;
  // The network's Adam settings with the decay's epochs turned into iterations.
  AdamConfig adam_config(Net n) const;
  float* alloc_floats(size_t n);

  Backend& be_;
  TrainConfig cfg_;
  NetLayout g_, d_;
  bool use_graph_;
  std::unique_ptr<CapturedGraph> graph_;  // this Trainer's iteration, once captured
  std::vector<void*> owned_;
  std::unique_ptr<Buffers> b_;
  int data_count_ = 0;
  int64_t epoch_ = 0;
};

}  // namespace gan
