/*
 * graph_recording_backend.hpp — a Backend with "graphs" on top of any other (the CPU one in
 * the tests), so that the trainer's capture logic can be tested without a GPU.
 *
 * Between begin_capture() and end_capture() the ops of a training iteration (noise,
 * gather_batch, dense_forward, dense_backward, d_head, their dropout and smoothed forms,
 * ema_update, check_finite, adam, end_iteration) are recorded instead of run, like a CUDA stream capture, into a graph owned by the caller;
 * its replay() runs the recorded ops on the inner backend in order. abort_capture() drops
 * what was recorded. Everything else passes through (CountingBackend).
 * Faults for the error paths: fail_op = n makes the n-th op issued during a capture throw
 * gan::Error("injected fault in <op>"); with invalidate_on_fault, end_capture() then throws
 * as cudaStreamEndCapture does for an invalidated capture.
 */
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "apps/bench/counting_backend.hpp"
#include "engine/base/error.hpp"

namespace gan::test {

class GraphRecordingBackend : public CountingBackend {
 public:
  explicit GraphRecordingBackend(Backend& inner) : CountingBackend(inner) {}

  int fail_op = -1;                 // the op (0-based, counted within a capture) that throws
  bool invalidate_on_fault = true;  // a fault invalidates the capture
  int captures_begun = 0, graphs_made = 0, aborts = 0, replays = 0;

  bool supports_graphs() const override { return true; }
  void begin_capture() override {
    GAN_CHECK(!capturing_, "begin_capture: a capture is already in progress");
    capturing_ = true;
    invalidated_ = false;
    ops_in_capture_ = 0;
    recorded_.clear();
    ++captures_begun;
  }
  std::unique_ptr<CapturedGraph> end_capture() override {
    GAN_CHECK(capturing_, "end_capture without begin_capture");
    capturing_ = false;
    if (invalidated_) GAN_FAIL("end_capture: the capture was invalidated");
    ++graphs_made;
    return std::make_unique<Graph>(std::move(recorded_), &replays);
  }
  void abort_capture() noexcept override {
    if (!capturing_) return;
    capturing_ = false;
    recorded_.clear();
    ++aborts;
  }
  bool capturing() const { return capturing_; }

  void gather_batch(float* out, const uint8_t* images, int dim, const int32_t* perm,
                    const StepCounters* c, int slot, int rows) override {
    issue("gather_batch",
          [=] { inner().gather_batch(out, images, dim, perm, c, slot, rows); });
  }
  void noise(float* out, size_t n, uint64_t seed, Stream purpose, const int64_t* counter,
             int64_t k_mul, int64_t k_add) override {
    issue("noise", [=] { inner().noise(out, n, seed, purpose, counter, k_mul, k_add); });
  }
  void dense_forward(const DenseDesc& d, Mode mode, int rows, const float* x, DenseParams p,
                     BnStats rs, DenseSaved s, float* y) override {
    issue("dense_forward", [=] { inner().dense_forward(d, mode, rows, x, p, rs, s, y); });
  }
  void dense_backward(const DenseDesc& d, int rows, const float* x, DenseParams p, DenseSaved s,
                      const float* y, float* dy, DenseGrads g, float* dx) override {
    issue("dense_backward", [=] { inner().dense_backward(d, rows, x, p, s, y, dy, g, dx); });
  }
  void d_head(const DenseDesc& d, HeadMode mode, int n_real, int n_fake, const float* x,
              DenseParams p, DenseGrads g, float* dx, StepMetrics* m) override {
    issue("d_head", [=] { inner().d_head(d, mode, n_real, n_fake, x, p, g, dx, m); });
  }
  void dense_forward_dropout(const DenseDesc& d, int rows, const float* x, DenseParams p,
                             const DropoutMask& m, float* y) override {
    issue("dense_forward_dropout", [=] { inner().dense_forward_dropout(d, rows, x, p, m, y); });
  }
  void dense_backward_dropout(const DenseDesc& d, int rows, const float* x, DenseParams p,
                              const DropoutMask& m, const float* y, float* dy, DenseGrads g,
                              float* dx) override {
    issue("dense_backward_dropout",
          [=] { inner().dense_backward_dropout(d, rows, x, p, m, y, dy, g, dx); });
  }
  void d_head_smoothed(const DenseDesc& d, HeadMode mode, int n_real, int n_fake,
                       float real_label, const float* x, DenseParams p, DenseGrads g, float* dx,
                       StepMetrics* m) override {
    issue("d_head_smoothed", [=] {
      inner().d_head_smoothed(d, mode, n_real, n_fake, real_label, x, p, g, dx, m);
    });
  }
  void ema_update(float* ema, const float* src, size_t n, float* ema_stats, const float* stats,
                  size_t n_stats, float decay, const StepCounters* c) override {
    issue("ema_update",
          [=] { inner().ema_update(ema, src, n, ema_stats, stats, n_stats, decay, c); });
  }
  void check_finite(const float* grads, size_t n, const float* loss, Net net,
                    StepCounters* c) override {
    issue("check_finite", [=] { inner().check_finite(grads, n, loss, net, c); });
  }
  void adam(float* params, const float* grads, float* m, float* v, size_t n,
            const AdamConfig& cfg, Net net, StepCounters* c) override {
    issue("adam", [=] { inner().adam(params, grads, m, v, n, cfg, net, c); });
  }
  void end_iteration(StepCounters* c, int d_steps) override {
    issue("end_iteration", [=] { inner().end_iteration(c, d_steps); });
  }

 private:
  class Graph final : public CapturedGraph {
   public:
    Graph(std::vector<std::function<void()>> ops, int* replays)
        : ops_(std::move(ops)), replays_(replays) {}
    void replay() override {
      ++*replays_;
      for (const auto& op : ops_) op();
    }
    long long kernel_count() const override { return static_cast<long long>(ops_.size()); }

   private:
    std::vector<std::function<void()>> ops_;
    int* replays_;
  };

  void issue(const char* name, std::function<void()> op) {
    if (!capturing_) {
      op();
      return;
    }
    if (ops_in_capture_++ == fail_op) {
      if (invalidate_on_fault) invalidated_ = true;
      GAN_FAIL("injected fault in " << name);
    }
    recorded_.push_back(std::move(op));
  }

  bool capturing_ = false, invalidated_ = false;
  int ops_in_capture_ = 0;
  std::vector<std::function<void()>> recorded_;
};

}  // namespace gan::test
