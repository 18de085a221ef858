/*
 * data_pipeline_cpu.cpp — reference shuffle (stable sort by Philox key), gather and noise.
 */
#include "kernels/cpu/data_pipeline_cpu.hpp"

#include <algorithm>
#include <numeric>
#include <vector>

#include "engine/philox.h"

namespace gan::cpu {

void shuffle(int32_t* perm, int n, uint64_t seed, uint64_t epoch) {
  const uint64_t stream = stream_id(Stream::Shuffle, epoch);
  std::vector<uint32_t> key(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) key[i] = philox_u32(seed, stream, static_cast<uint64_t>(i));
  std::iota(perm, perm + n, 0);
  std::stable_sort(perm, perm + n, [&](int32_t a, int32_t b) { return key[a] < key[b]; });
}

void gather_batch(float* out, const uint8_t* images, int dim, const int32_t* perm, int64_t batch,
                  int rows) {
  for (int r = 0; r < rows; ++r) {
    const uint8_t* src = images + size_t(perm[batch * rows + r]) * dim;
    float* dst = out + size_t(r) * dim;
    for (int k = 0; k < dim; ++k) dst[k] = static_cast<float>(src[k]) / 255.0f;
  }
}

void noise(float* out, size_t n, uint64_t seed, uint64_t stream) {
  for (size_t i = 0; i < n; ++i) out[i] = philox_normal(seed, stream, i);
}

}  // namespace gan::cpu
