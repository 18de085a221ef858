/*
 * ema_cpu.hpp — reference exponential moving average of an arena (G's weight average).
 *
 *   ema[i] = decay * ema[i] + one_minus_decay * src[i],  i < n
 * in float with each product rounded and then the sum rounded (no fused multiply-add), where
 * one_minus_decay = 1 - decay is rounded to float once by the caller; the CUDA kernel
 * (kernels/cuda/ema.cu) rounds the same way, so both give the same bits.
 */
#pragma once

#include <cstddef>

namespace gan::cpu {

void ema_update(float* ema, const float* src, size_t n, float decay, float one_minus_decay);

}  // namespace gan::cpu
