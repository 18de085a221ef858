/*
 * adam_fast.cpp — vectorisable Adam of adam_fast.hpp.
 */
#include "kernels/cpu/adam_fast.hpp"

#include <cmath>

namespace gan::cpu {

void adam_update_fast(float* __restrict params, const float* __restrict grads,
                      float* __restrict m, float* __restrict v, size_t n, const AdamConfig& cfg,
                      int64_t t, double scale) {
  // The scalars exactly as adam_update computes them.
  const double bc1 = 1.0 - std::pow(double(cfg.beta1), double(t));
  const double bc2 = 1.0 - std::pow(double(cfg.beta2), double(t));
  const float step_size = float(double(cfg.lr) * scale / bc1);
  const float bc2_sqrt = float(std::sqrt(bc2));
  const float b1 = cfg.beta1, b2 = cfg.beta2, eps = cfg.eps;
  const float one_b1 = 1.0f - b1, one_b2 = 1.0f - b2;
  for (size_t i = 0; i < n; ++i) {
    const float g = grads[i];
    const float mi = b1 * m[i] + one_b1 * g;
    const float vi = b2 * v[i] + one_b2 * g * g;
    m[i] = mi;
    v[i] = vi;
    const float denom = std::sqrt(vi) / bc2_sqrt + eps;
    params[i] -= step_size * mi / denom;
  }
}

}  // namespace gan::cpu
