/*
 * gather_labels_cpu.cpp — reference label gather.
 */
#include "kernels/cpu/gather_labels_cpu.hpp"

#include <cstddef>

namespace gan::cpu {

void gather_labels(int32_t* out, const uint8_t* labels, const int32_t* perm, int64_t batch,
                   int rows) {
  const int32_t* p = perm + static_cast<size_t>(batch) * rows;
  for (int r = 0; r < rows; ++r) out[r] = labels[p[r]];
}

}  // namespace gan::cpu
