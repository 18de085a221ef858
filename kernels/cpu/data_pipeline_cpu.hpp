/*
 * data_pipeline_cpu.hpp — reference shuffle, batch gather and noise.
 *
 *   shuffle: perm = 0..n-1 sorted stably by key_i = philox_u32(seed, Shuffle:epoch, i)
 *            (ties keep index order, as a stable radix sort of (key, index) pairs does).
 *   gather:  out[r, :] = images[perm[batch * rows + r], :] / 255 (uint8 -> float).
 *   noise:   out[i] = philox_normal(seed, stream, i).
 */
#pragma once

#include <cstddef>
#include <cstdint>

namespace gan::cpu {

void shuffle(int32_t* perm, int n, uint64_t seed, uint64_t epoch);
void gather_batch(float* out, const uint8_t* images, int dim, const int32_t* perm, int64_t batch,
                  int rows);
void noise(float* out, size_t n, uint64_t seed, uint64_t stream);

}  // namespace gan::cpu
