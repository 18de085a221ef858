/*
 * ema_cpu.cpp — reference exponential moving average over a flat arena.
 */
#include "kernels/cpu/ema_cpu.hpp"

namespace gan::cpu {

void ema_update(float* ema, const float* src, size_t n, float decay, float one_minus_decay) {
  // Plain float arithmetic, like the reference Adam: the x86-64 build has no fused
  // multiply-add to contract into, so each product is rounded before the sum.
  for (size_t i = 0; i < n; ++i) ema[i] = decay * ema[i] + one_minus_decay * src[i];
}

}  // namespace gan::cpu
