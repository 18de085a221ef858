/*
 * adam_cpu.hpp — reference Adam, PyTorch's formula (torch.optim.Adam, no weight decay).
 *
 *   m = beta1 m + (1 - beta1) g
 *   v = beta2 v + (1 - beta2) g^2
 *   step_size = lr scale / (1 - beta1^t)           (t = step after increment; in double;
 *                                                  scale: the decay, engine/lr_schedule.h)
 *   denom = sqrt(v) / sqrt(1 - beta2^t) + eps
 *   p = p - step_size m / denom
 * Elementwise over one flat arena; float arithmetic per element, scalars from double.
 */
#pragma once

#include <cstddef>
#include <cstdint>

#include "engine/backend.hpp"

namespace gan::cpu {

template <typename T>
void adam_update(T* params, const T* grads, T* m, T* v, size_t n, const AdamConfig& cfg,
                 int64_t t, double scale = 1.0);

}  // namespace gan::cpu
