/*
 * adam_fast.hpp — the reference Adam update (adam_cpu.hpp) in a form the compiler vectorises.
 *
 * The same float expressions in the same order as adam_update<float>, on non-aliasing
 * arrays, compiled without errno for sqrt (CMakeLists.txt: -fno-math-errno; sqrt is correctly
 * rounded either way) and without FMA contraction (the x86-64 baseline has none): the results
 * are bit-identical to the reference, which tests/kernels/test_ops_fast.cpp checks.
 */
#pragma once

#include <cstddef>
#include <cstdint>

#include "engine/backend.hpp"

namespace gan::cpu {

void adam_update_fast(float* params, const float* grads, float* m, float* v, size_t n,
                      const AdamConfig& cfg, int64_t t, double scale = 1.0);

}  // namespace gan::cpu
