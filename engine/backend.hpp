/*
 * backend.hpp — the interface between the engine and the code that computes.
 *
 * The trainer (engine/trainer.cpp) is written once against this interface; a backend
 * owns memory and executes fused ops on it. Two implement it:
 *   - CpuBackend  (kernels/cpu/): plain C++ reference, the oracle for every kernel;
 *   - CudaBackend (kernels/cuda/): fused CUDA kernels, everything resident on the GPU.
 *
 * Conventions every backend meets (tests/kernels/test_ops_*.cpp hold them to it):
 *   - Pointers passed to ops are backend memory (from alloc()); the engine never
 *     dereferences them. Matrices are row-major: activations [rows, width], Linear
 *     weights [out, in] as in PyTorch. Ops run in issue order on one stream; they may be
 *     asynchronous, and download() waits for everything issued before it.
 *   - Nothing in an op depends on host-side state that changes between iterations:
 *     everything that advances (batch cursor, noise draw number, Adam step) is read from
 *     StepCounters in backend memory, so a CUDA graph of one iteration can be replayed.
 *   - Backward ops overwrite gradients (never accumulate), and consume `dy` (it is
 *     overwritten with the gradient before the activation/BatchNorm).
 *   - Reductions are deterministic: same inputs, same bits.
 */
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "engine/model_spec.hpp"
#include "engine/philox.h"

namespace gan {

enum class Mode : uint8_t { Train, Eval };
enum class Net : uint8_t { G = 0, D = 1 };
enum class GLoss : uint8_t { NonSaturating, Minimax };

// What the discriminator head computes (see d_head below).
enum class HeadMode : uint8_t {
  DStep,           // rows = n_real real then n_fake fake; D's BCE loss and its gradients
  GNonSaturating,  // rows = n_fake fake; G loss  -mean log D(G(z))
  GMinimax,        // rows = n_fake fake; G loss   mean log(1 - D(G(z)))
};

// Per-layer tensors, pointing into the arenas. gamma/beta/running stats are null for
// layers without BatchNorm.
struct DenseParams {
  const float* W = nullptr;
  const float* b = nullptr;
  const float* gamma = nullptr;
  const float* beta = nullptr;
};
struct DenseGrads {  // all null: compute the input gradient only (D during the G step)
  float* dW = nullptr;
  float* db = nullptr;
  float* dgamma = nullptr;
  float* dbeta = nullptr;
};
struct BnStats {
  float* running_mean = nullptr;
  float* running_var = nullptr;
};
// What a training-mode BatchNorm forward keeps for its backward: z = x W^T + b
// [rows, out], the batch mean and 1/sqrt(biased var + eps) [out]. Unused (may be null)
// without BatchNorm or in eval mode.
struct DenseSaved {
  float* z = nullptr;
  float* mean = nullptr;
  float* rstd = nullptr;
};

// Scalars written by d_head, read back by the engine every few steps.
struct StepMetrics {
  float d_loss = 0;   // BCE(D(x), 1) + BCE(D(G(z)), 0), batch means   (= -V(D,G))
  float d_real = 0;   // mean D(x) over the real rows
  float d_fake = 0;   // mean D(G(z)) over the fake rows of the D step
  float value = 0;    // V(D,G) = mean log D(x) + mean log(1 - D(G(z)))
  float g_loss = 0;   // the generator's loss (per --g-loss)
  float g_fake = 0;   // mean D(G(z)) over the G step's batch
};

// Scalars written by softmax_xent (the digit classifier's loss), in backend memory.
struct XentMetrics {
  float loss = 0;       // mean cross-entropy over the rows
  int32_t correct = 0;  // rows whose first maximal logit is the label
};

// Counters in backend memory, advanced by ops on the device.
struct StepCounters {
  int64_t iteration = 0;          // iterations completed (each: d_steps D updates + 1 G update)
  int64_t batch_cursor = 0;       // next real batch within this epoch's permutation
  int64_t adam_step[2] = {0, 0};  // Adam updates applied to G, D
  int64_t skipped[2] = {0, 0};    // updates skipped: non-finite loss or gradient
  int64_t bad_now[2] = {0, 0};    // 1 when the latest check_finite of G, D failed
  int64_t first_bad_iteration[2] = {-1, -1};
};

struct AdamConfig {
  float lr = 2e-4f, beta1 = 0.5f, beta2 = 0.999f, eps = 1e-8f;
  // The rate decays linearly over G iterations [decay_start, decay_end): the update of
  // iteration c->iteration uses lr * lr_scale(decay_start, decay_end, c->iteration)
  // (engine/lr_schedule.h). decay_end <= decay_start: the constant rate lr.
  int64_t decay_start = 0, decay_end = 0;
};

// Inverted dropout after a layer's activation (engine/dropout_mask.h): element e of the
// layer's [rows, out] output is kept (and multiplied by 1 / (1 - p)) or zeroed by the mask of
// (seed, draw, layer, e), draw = (*counter) * k_mul + k_add read from backend memory when the
// op runs (so a replayed graph draws a fresh mask).
struct DropoutMask {
  float p = 0.0f;                    // drop probability, in [0, 1)
  uint64_t seed = 0;
  const int64_t* counter = nullptr;  // backend memory (null: 0)
  int64_t k_mul = 0, k_add = 0;
  uint32_t layer = 0;
};

// One op's kernel variants, for `gan_cuda kernels` and `--kernel OP=VARIANT`.
struct OpVariants {
  std::string op;
  std::vector<std::string> variants;  // the first is the default
  std::string selected;
};

// A graph of ops recorded by Backend::begin_capture/end_capture, owned by whoever captured
// it (each Trainer holds its own). replay() issues the recorded ops again, in order, on the
// backend that captured them, which must outlive the graph. Destroying it releases the
// graph and any temporary memory that only it still reaches.
class CapturedGraph {
 public:
  virtual ~CapturedGraph() = default;
  virtual void replay() = 0;
  virtual long long kernel_count() const = 0;  // kernel launches in one replay
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual std::string name() const = 0;  // "cpu", "cuda:0 NVIDIA H200", ...
  virtual bool is_cuda() const = 0;

  // ---- memory ------------------------------------------------------------------
  virtual void* alloc(size_t bytes) = 0;  // zero-filled; throws with the size on failure
  // Bytes of backend memory a model may still take (CPU: the physical memory; CUDA: the
  // device's free memory). The trainer refuses sizes beyond it before allocating anything.
  // SIZE_MAX where the backend cannot tell.
  virtual size_t memory_budget() const { return SIZE_MAX; }
  virtual void free(void* p) noexcept = 0;
  virtual void* alloc_host(size_t bytes) = 0;  // host memory fit for download_async
  virtual void free_host(void* p) noexcept = 0;
  virtual void upload(void* dst, const void* src, size_t bytes) = 0;
  virtual void download(void* dst, const void* src, size_t bytes) = 0;  // waits for the copy
  // Starts a copy into alloc_host() memory; complete after wait_downloads().
  virtual void download_async(void* dst, const void* src, size_t bytes) = 0;
  virtual bool downloads_done() = 0;  // non-blocking
  virtual void wait_downloads() = 0;
  // The clock of read-backs: mark_clock() notes a point in the order the backend runs its
  // work; download_seconds() is the time from the last mark to the completion of the last
  // download_async, as the backend ran them (call it after wait_downloads(), and after a
  // mark). A progress log times its steps with it: where the device runs behind the host
  // (CUDA), the host's clock at a read-back tells when the host got there, not when the
  // device finished the step.
  virtual void mark_clock() = 0;
  virtual double download_seconds() = 0;
  virtual void copy(void* dst, const void* src, size_t bytes) = 0;  // within backend memory
  virtual void synchronize() = 0;

  // ---- data --------------------------------------------------------------------
  // perm[0..n) = indices 0..n-1 sorted stably by key philox_u32(seed, Shuffle:epoch, i);
  // also sets c->batch_cursor = 0.
  virtual void shuffle(int32_t* perm, int n, uint64_t seed, uint64_t epoch, StepCounters* c) = 0;
  // out[r, :] = images[perm[(c->batch_cursor + slot) * rows + r], :] / 255, r < rows.
  virtual void gather_batch(float* out, const uint8_t* images, int dim, const int32_t* perm,
                            const StepCounters* c, int slot, int rows) = 0;
  // out[i] = philox_normal(seed, stream_id(purpose, k), i), i < n, where
  // k = (counter ? *counter : 0) * k_mul + k_add is read from backend memory at run time.
  virtual void noise(float* out, size_t n, uint64_t seed, Stream purpose, const int64_t* counter,
                     int64_t k_mul, int64_t k_add) = 0;

  // ---- layers ------------------------------------------------------------------
  // y = act(BN(x W^T + b)) for `rows` rows. Train mode with BatchNorm: batch statistics
  // (biased variance), saves z/mean/rstd, and updates running stats with momentum
  // (unbiased variance; needs rows >= 2) unless rs is null (then they are not touched).
  // Eval mode: running statistics.
  virtual void dense_forward(const DenseDesc& d, Mode mode, int rows, const float* x,
                             DenseParams p, BnStats rs, DenseSaved s, float* y) = 0;
  // Backward of a training-mode dense_forward. `dy` [rows, out] is consumed. Writes the
  // parameter gradients (unless g is all null) and dx [rows, in] (unless dx is null). Over
  // 0 rows the parameter gradients are zeros; with BatchNorm, fewer than 2 rows are refused.
  virtual void dense_backward(const DenseDesc& d, int rows, const float* x, DenseParams p,
                              DenseSaved s, const float* y, float* dy, DenseGrads g,
                              float* dx) = 0;
  // The discriminator's last layer (d.out == 1) fused with the loss: logits l = x w^T + b
  // for n_real + n_fake rows, the loss of `mode`, its gradient w.r.t. l, and from it
  // dw, db (if g.dW is non-null) and dx (if non-null). Writes the fields of `m` that
  // belong to the mode (DStep: d_loss, d_real, d_fake, value; G modes: g_loss, g_fake).
  // Stable forms: log D = -softplus(-l), log(1 - D) = -softplus(l).
  virtual void d_head(const DenseDesc& d, HeadMode mode, int n_real, int n_fake, const float* x,
                      DenseParams p, DenseGrads g, float* dx, StepMetrics* m) = 0;

  // ---- training options (issue 9): dropout in D, one-sided label smoothing, G's EMA ----
  // dense_forward in training mode of a layer without BatchNorm whose activation keeps its
  // sign (None, ReLU, LeakyReLU), followed by inverted dropout of y with mask m.
  virtual void dense_forward_dropout(const DenseDesc& d, int rows, const float* x,
                                     DenseParams p, const DropoutMask& m, float* y) = 0;
  // Backward of dense_forward_dropout with the same mask: dy = dy * mask / (1 - p) first
  // (dropped elements get 0), then dense_backward (the activation's derivative is read from
  // the dropped-out y, whose sign is that of the activation's output).
  virtual void dense_backward_dropout(const DenseDesc& d, int rows, const float* x,
                                      DenseParams p, const DropoutMask& m, const float* y,
                                      float* dy, DenseGrads g, float* dx) = 0;
  // d_head with the real rows' BCE target `real_label` (one-sided label smoothing) instead of
  // 1 in DStep: the real rows' loss is L softplus(-l) + (1 - L) softplus(l), their dL/dl
  // (sigmoid(l) - L) / n_real; d_loss is the smoothed loss, value stays V(D,G) (targets 1
  // and 0). real_label = 1 computes exactly what d_head does; the G modes ignore it.
  virtual void d_head_smoothed(const DenseDesc& d, HeadMode mode, int n_real, int n_fake,
                               float real_label, const float* x, DenseParams p, DenseGrads g,
                               float* dx, StepMetrics* m) = 0;
  // Unless c->bad_now[Net::G] (the G update it follows was skipped): for i < n,
  // ema[i] = decay ema[i] + (1 - decay) src[i] (float, two roundings and a sum: see
  // kernels/cpu/ema_cpu.hpp); then the same for ema_stats[j], stats[j], j < n_stats.
  virtual void ema_update(float* ema, const float* src, size_t n, float* ema_stats,
                          const float* stats, size_t n_stats, float decay,
                          const StepCounters* c) = 0;

  // ---- optimizer -----------------------------------------------------------------
  // Sets c->bad_now[net] to whether *loss or any of grads[0..n) is non-finite; on the
  // first failure records c->first_bad_iteration[net] = c->iteration.
  virtual void check_finite(const float* grads, size_t n, const float* loss, Net net,
                            StepCounters* c) = 0;
  // Unless c->bad_now[net] (then c->skipped[net] += 1 and nothing else changes):
  // t = ++c->adam_step[net] and PyTorch's Adam update of params[0..n) in place, with the
  // rate cfg.lr scaled by cfg's decay at c->iteration.
  virtual void adam(float* params, const float* grads, float* m, float* v, size_t n,
                    const AdamConfig& cfg, Net net, StepCounters* c) = 0;
  // c->iteration += 1, c->batch_cursor += d_steps.
  virtual void end_iteration(StepCounters* c, int d_steps) = 0;

  // ---- evaluation and the digit classifier (engine/eval/gan_eval.hpp, classifier.hpp) ----
  // C[M,N] = alpha op(A) op(B) + beta C, all row-major, op = transpose when asked: A is
  // [M,K] ([K,M] if trans_a), B [K,N] ([N,K] if trans_b). Always full FP32 (never TF32):
  // the evaluation's distances are differences of large products.
  virtual void matmul(bool trans_a, bool trans_b, int M, int N, int K, float alpha,
                      const float* A, const float* B, float beta, float* C) = 0;
  // Softmax cross-entropy of logits [rows, classes] against labels [rows] (int32, in
  // 0..classes-1): m->loss = mean(logsumexp(l) - l[label]), m->correct = rows whose first
  // maximal logit is the label; dlogits (unless null) = (softmax(l) - onehot) / rows.
  virtual void softmax_xent(int rows, int classes, const float* logits, const int32_t* labels,
                            float* dlogits, XentMetrics* m) = 0;
  // out[r] = labels[perm[(c->batch_cursor + slot) * rows + r]] (uint8 -> int32): the labels
  // of the images gather_batch takes for the same arguments.
  virtual void gather_labels(int32_t* out, const uint8_t* labels, const int32_t* perm,
                             const StepCounters* c, int slot, int rows) = 0;

  // ---- graphs and profiling -----------------------------------------------------
  // Between begin_capture() and end_capture() ops are recorded, not run; end_capture()
  // returns the graph (null where the backend has no graphs). When anything fails during
  // a capture, abort_capture() ends it and discards what was recorded, clearing the error
  // state it can, so that the first error is the one reported; it never throws and does
  // nothing outside a capture.
  virtual bool supports_graphs() const { return false; }
  virtual void begin_capture() {}
  [[nodiscard]] virtual std::unique_ptr<CapturedGraph> end_capture() { return nullptr; }
  virtual void abort_capture() noexcept {}
  virtual void range_push(const char* /*name*/) {}  // NVTX range, where there is one
  virtual void range_pop() {}
  virtual void profiler_start() {}  // cudaProfilerStart, where there is one
  virtual void profiler_stop() {}

  // ---- timing ---------------------------------------------------------------------
  // Milliseconds that the work issued by `work` takes to run. This default waits for the
  // backend, reads the host's steady clock around work() and waits again before the second
  // reading; the CUDA backend records events around work() on its stream instead.
  virtual double time_ms(const std::function<void()>& work) {
    synchronize();
    const auto t0 = std::chrono::steady_clock::now();
    work();
    synchronize();
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0)
        .count();
  }
  // Kernel launches in one replay of the graph this backend captured last; -1 where none
  // has been captured.
  virtual long long graph_kernel_count() const { return -1; }

  // ---- kernel variants ----------------------------------------------------------
  virtual std::vector<OpVariants> kernel_variants() const = 0;
  // Throws InputError naming the known ops/variants when either is unknown.
  virtual void select_kernel(const std::string& op, const std::string& variant) = 0;
};

// RAII range for Backend::range_push/pop.
class ScopedRange {
 public:
  ScopedRange(Backend& b, const char* name) : b_(b) { b_.range_push(name); }
  ~ScopedRange() { b_.range_pop(); }
  ScopedRange(const ScopedRange&) = delete;
  ScopedRange& operator=(const ScopedRange&) = delete;

 private:
  Backend& b_;
};

}  // namespace gan
