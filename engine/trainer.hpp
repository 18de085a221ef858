/*
 * trainer.hpp — the GAN training iteration on a Backend, with all state in backend memory.
 *
 * One iteration (Goodfellow et al. 2014, Algorithm 1) with k = d_steps:
 *   for j in 0..k-1 (D steps):
 *     z  = noise(stream Noise: iteration*(k+1) + j)          [B, z_dim]
 *     x_fake = G(z) (training-mode BatchNorm: batch stats, running stats updated)
 *     x_real = batch (cursor + j) of this epoch's permutation  [B, image_dim] in [0, 1]
 *     D forward on the 2B rows [x_real; x_fake]; D loss BCE(real,1) + BCE(fake,0);
 *     D gradients; Adam on D (skipped if the loss or a gradient is non-finite)
 *   G step:
 *     z  = noise(stream Noise: iteration*(k+1) + k); x_fake = G(z) (training mode)
 *     G loss (non-saturating -log D(G(z)) or minimax log(1 - D(G(z)))); gradients flow
 *     through D without touching D's weights or gradients; Adam on G (same skip rule)
 *   cursor += k; iteration += 1
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

// Host copy of everything a checkpoint holds about the networks and the optimizer.
struct TrainState {
  std::vector<float> params[2], adam_m[2], adam_v[2];
  std::vector<float> bn_stats;  // G's running mean/var arena
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

  // n generated images [n, image_dim] from noise stream (purpose, index), BatchNorm in eval
  // mode (running statistics).
  std::vector<float> generate(int n, Stream purpose, uint64_t index);

 private:
  struct Buffers;
  void enqueue_iteration();
  // G forward from z; layer l writes outs[l] (its last layer into the D input's fake rows
  // during training).
  void g_forward(Mode mode, int rows, const float* z, float* const* outs);
  DenseParams layer_params(Net n, size_t l) const;
  DenseGrads layer_grads(Net n, size_t l) const;
  BnStats g_stats(size_t l) const;
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
