/*
 * counting_backend.cpp — the counted ops of CountingBackend: count, then pass on.
 */
#include "apps/bench/counting_backend.hpp"

namespace gan {

void CountingBackend::count(const char* op) {
  ++total_;
  ++by_name_[op];
}

void CountingBackend::shuffle(int32_t* perm, int n, uint64_t seed, uint64_t epoch,
                              StepCounters* c) {
  count("shuffle");
  in_.shuffle(perm, n, seed, epoch, c);
}

void CountingBackend::gather_batch(float* out, const uint8_t* images, int dim,
                                   const int32_t* perm, const StepCounters* c, int slot,
                                   int rows) {
  count("gather");
  in_.gather_batch(out, images, dim, perm, c, slot, rows);
}

void CountingBackend::noise(float* out, size_t n, uint64_t seed, Stream purpose,
                            const int64_t* counter, int64_t k_mul, int64_t k_add) {
  count("noise");
  in_.noise(out, n, seed, purpose, counter, k_mul, k_add);
}

void CountingBackend::dense_forward(const DenseDesc& d, Mode mode, int rows, const float* x,
                                    DenseParams p, BnStats rs, DenseSaved s, float* y) {
  count("dense_forward");
  in_.dense_forward(d, mode, rows, x, p, rs, s, y);
}

void CountingBackend::dense_backward(const DenseDesc& d, int rows, const float* x, DenseParams p,
                                     DenseSaved s, const float* y, float* dy, DenseGrads g,
                                     float* dx) {
  count("dense_backward");
  in_.dense_backward(d, rows, x, p, s, y, dy, g, dx);
}

void CountingBackend::d_head(const DenseDesc& d, HeadMode mode, int n_real, int n_fake,
                             const float* x, DenseParams p, DenseGrads g, float* dx,
                             StepMetrics* m) {
  count("d_head");
  in_.d_head(d, mode, n_real, n_fake, x, p, g, dx, m);
}

void CountingBackend::check_finite(const float* grads, size_t n, const float* loss, Net net,
                                   StepCounters* c) {
  count("check_finite");
  in_.check_finite(grads, n, loss, net, c);
}

void CountingBackend::adam(float* params, const float* grads, float* m, float* v, size_t n,
                           const AdamConfig& cfg, Net net, StepCounters* c) {
  count("adam");
  in_.adam(params, grads, m, v, n, cfg, net, c);
}

void CountingBackend::end_iteration(StepCounters* c, int d_steps) {
  count("end_iteration");
  in_.end_iteration(c, d_steps);
}

}  // namespace gan
