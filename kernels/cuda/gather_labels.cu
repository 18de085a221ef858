/*
 * gather_labels.cu — the labels of a batch on the GPU, the companion of gather_batch (the
 * CPU reference is kernels/cpu/gather_labels_cpu.cpp):
 *   out[r] = labels[perm[(batch_cursor + slot) * rows + r]]  (uint8 -> int32), r < rows,
 * with batch_cursor read from device memory (graph-replayable). Grid-stride over rows.
 */
#include <cuda_runtime.h>

#include "engine/base/error.hpp"
#include "kernels/cuda/cuda_check.cuh"
#include "kernels/cuda/cuda_context.cuh"
#include "kernels/cuda/eval_ops.hpp"

namespace gan::gpu {
namespace {

constexpr int kThreads = 256;

__global__ void gather_labels_kernel(int32_t* __restrict__ out,
                                     const uint8_t* __restrict__ labels,
                                     const int32_t* __restrict__ perm,
                                     const StepCounters* __restrict__ c, int slot, int rows) {
  const int64_t base = (c->batch_cursor + slot) * static_cast<int64_t>(rows);
  for (int r = blockIdx.x * blockDim.x + threadIdx.x; r < rows; r += gridDim.x * blockDim.x)
    out[r] = labels[perm[base + r]];
}

}  // namespace

void gather_labels_direct(CudaCtx& ctx, int32_t* out, const uint8_t* labels,
                          const int32_t* perm, const StepCounters* c, int slot, int rows) {
  GAN_CHECK(rows >= 0 && slot >= 0 && c, "gather_labels: bad arguments (rows=" << rows << ")");
  if (rows == 0) return;
  gather_labels_kernel<<<ctx.grid_for(rows, kThreads), kThreads, 0, ctx.stream>>>(
      out, labels, perm, c, slot, rows);
  LAUNCH_CHECK("gather_labels_kernel");
}

}  // namespace gan::gpu
