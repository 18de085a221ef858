/*
 * gather_labels_cpu.hpp — reference label gather, the companion of gather_batch.
 *
 *   out[r] = labels[perm[batch * rows + r]]   (uint8 class -> int32), r < rows
 * so that the labels of a batch line up with the images gather_batch takes for it.
 */
#pragma once

#include <cstdint>

namespace gan::cpu {

void gather_labels(int32_t* out, const uint8_t* labels, const int32_t* perm, int64_t batch,
                   int rows);

}  // namespace gan::cpu
