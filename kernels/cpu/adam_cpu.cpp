/*
 * adam_cpu.cpp — reference Adam update over a flat arena.
 */
#include "kernels/cpu/adam_cpu.hpp"

#include <cmath>

namespace gan::cpu {

template <typename T>
void adam_update(T* params, const T* grads, T* m, T* v, size_t n, const AdamConfig& cfg,
                 int64_t t, double scale) {
  const double bc1 = 1.0 - std::pow(double(cfg.beta1), double(t));
  const double bc2 = 1.0 - std::pow(double(cfg.beta2), double(t));
  const T step_size = T(double(cfg.lr) * scale / bc1);
  const T bc2_sqrt = T(std::sqrt(bc2));
  const T b1 = T(cfg.beta1), b2 = T(cfg.beta2), eps = T(cfg.eps);
  for (size_t i = 0; i < n; ++i) {
    const T g = grads[i];
    m[i] = b1 * m[i] + (T(1) - b1) * g;
    v[i] = b2 * v[i] + (T(1) - b2) * g * g;
    const T denom = std::sqrt(v[i]) / bc2_sqrt + eps;
    params[i] -= step_size * m[i] / denom;
  }
}

template void adam_update<float>(float*, const float*, float*, float*, size_t, const AdamConfig&,
                                 int64_t, double);
template void adam_update<double>(double*, const double*, double*, double*, size_t,
                                  const AdamConfig&, int64_t, double);

}  // namespace gan::cpu
