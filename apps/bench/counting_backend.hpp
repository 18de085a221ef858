/*
 * counting_backend.hpp — a Backend that passes every call to another one and counts the ops.
 *
 * The ops are the compute calls of engine/backend.hpp: shuffle, gather_batch, noise,
 * dense_forward, dense_backward, d_head, check_finite, adam, end_iteration, the training
 * options' dense_forward_dropout, dense_backward_dropout, d_head_smoothed, ema_update, and those of
 * the evaluation: matmul, softmax_xent, gather_labels. Memory calls,
 * copies, graphs, timing and kernel selection are passed on without counting. The benchmarks
 * wrap the backend under test in one to report ops per training iteration on every backend
 * (a graph replay issues no ops, so count around an eager or capturing iteration). Tests
 * derive from it to alter one op of a real backend. Every virtual of Backend is overridden
 * here, so an op added to Backend must be added here too.
 */
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "engine/backend.hpp"

namespace gan {

class CountingBackend : public Backend {
 public:
  explicit CountingBackend(Backend& inner) : in_(inner) {}

  Backend& inner() { return in_; }
  uint64_t ops() const { return total_; }
  const std::map<std::string, uint64_t>& ops_by_name() const { return by_name_; }
  void reset_counts() {
    total_ = 0;
    by_name_.clear();
  }

  std::string name() const override { return in_.name(); }
  bool is_cuda() const override { return in_.is_cuda(); }

  void* alloc(size_t bytes) override { return in_.alloc(bytes); }
  size_t memory_budget() const override { return in_.memory_budget(); }
  void free(void* p) noexcept override { in_.free(p); }
  void* alloc_host(size_t bytes) override { return in_.alloc_host(bytes); }
  void free_host(void* p) noexcept override { in_.free_host(p); }
  void upload(void* dst, const void* src, size_t bytes) override { in_.upload(dst, src, bytes); }
  void download(void* dst, const void* src, size_t bytes) override {
    in_.download(dst, src, bytes);
  }
  void download_async(void* dst, const void* src, size_t bytes) override {
    in_.download_async(dst, src, bytes);
  }
  bool downloads_done() override { return in_.downloads_done(); }
  void wait_downloads() override { in_.wait_downloads(); }
  void mark_clock() override { in_.mark_clock(); }
  double download_seconds() override { return in_.download_seconds(); }
  void copy(void* dst, const void* src, size_t bytes) override { in_.copy(dst, src, bytes); }
  void synchronize() override { in_.synchronize(); }

  void shuffle(int32_t* perm, int n, uint64_t seed, uint64_t epoch, StepCounters* c) override;
  void gather_batch(float* out, const uint8_t* images, int dim, const int32_t* perm,
                    const StepCounters* c, int slot, int rows) override;
  void noise(float* out, size_t n, uint64_t seed, Stream purpose, const int64_t* counter,
             int64_t k_mul, int64_t k_add) override;
  void dense_forward(const DenseDesc& d, Mode mode, int rows, const float* x, DenseParams p,
                     BnStats rs, DenseSaved s, float* y) override;
  void dense_backward(const DenseDesc& d, int rows, const float* x, DenseParams p, DenseSaved s,
                      const float* y, float* dy, DenseGrads g, float* dx) override;
  void d_head(const DenseDesc& d, HeadMode mode, int n_real, int n_fake, const float* x,
              DenseParams p, DenseGrads g, float* dx, StepMetrics* m) override;
  void dense_forward_dropout(const DenseDesc& d, int rows, const float* x, DenseParams p,
                             const DropoutMask& m, float* y) override {
    count("dense_forward_dropout");
    in_.dense_forward_dropout(d, rows, x, p, m, y);
  }
  void dense_backward_dropout(const DenseDesc& d, int rows, const float* x, DenseParams p,
                              const DropoutMask& m, const float* y, float* dy, DenseGrads g,
                              float* dx) override {
    count("dense_backward_dropout");
    in_.dense_backward_dropout(d, rows, x, p, m, y, dy, g, dx);
  }
  void d_head_smoothed(const DenseDesc& d, HeadMode mode, int n_real, int n_fake,
                       float real_label, const float* x, DenseParams p, DenseGrads g, float* dx,
                       StepMetrics* m) override {
    count("d_head_smoothed");
    in_.d_head_smoothed(d, mode, n_real, n_fake, real_label, x, p, g, dx, m);
  }
  void ema_update(float* ema, const float* src, size_t n, float* ema_stats, const float* stats,
                  size_t n_stats, float decay, const StepCounters* c) override {
    count("ema_update");
    in_.ema_update(ema, src, n, ema_stats, stats, n_stats, decay, c);
  }
  void check_finite(const float* grads, size_t n, const float* loss, Net net,
                    StepCounters* c) override;
  void adam(float* params, const float* grads, float* m, float* v, size_t n,
            const AdamConfig& cfg, Net net, StepCounters* c) override;
  void end_iteration(StepCounters* c, int d_steps) override;
  void matmul(bool trans_a, bool trans_b, int M, int N, int K, float alpha, const float* A,
              const float* B, float beta, float* C) override {
    count("matmul");
    in_.matmul(trans_a, trans_b, M, N, K, alpha, A, B, beta, C);
  }
  void softmax_xent(int rows, int classes, const float* logits, const int32_t* labels,
                    float* dlogits, XentMetrics* m) override {
    count("softmax_xent");
    in_.softmax_xent(rows, classes, logits, labels, dlogits, m);
  }
  void gather_labels(int32_t* out, const uint8_t* labels, const int32_t* perm,
                     const StepCounters* c, int slot, int rows) override {
    count("gather_labels");
    in_.gather_labels(out, labels, perm, c, slot, rows);
  }

  bool supports_graphs() const override { return in_.supports_graphs(); }
  void begin_capture() override { in_.begin_capture(); }
  std::unique_ptr<CapturedGraph> end_capture() override { return in_.end_capture(); }
  void abort_capture() noexcept override { in_.abort_capture(); }
  void range_push(const char* name) override { in_.range_push(name); }
  void range_pop() override { in_.range_pop(); }
  void profiler_start() override { in_.profiler_start(); }
  void profiler_stop() override { in_.profiler_stop(); }
  double time_ms(const std::function<void()>& work) override { return in_.time_ms(work); }
  long long graph_kernel_count() const override { return in_.graph_kernel_count(); }

  std::vector<OpVariants> kernel_variants() const override { return in_.kernel_variants(); }
  void select_kernel(const std::string& op, const std::string& variant) override {
    in_.select_kernel(op, variant);
  }

 private:
  void count(const char* op);

  Backend& in_;
  uint64_t total_ = 0;
  std::map<std::string, uint64_t> by_name_;
};

}  // namespace gan
