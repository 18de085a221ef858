/*
 * ema.cu — the moving average of G's weights on the GPU (the CPU reference is
 * kernels/cpu/ema_cpu.cpp).
 *
 * One launch over both arenas: element i < n of the parameter average and, after it,
 * element i - n < n_stats of the BatchNorm statistics' average:
 *   ema = decay ema + one_minus_decay src,  rounded product by product, then the sum
 * (__fmul_rn/__fadd_rn: no fused multiply-add), so equal inputs give the CPU's bits.
 * Every thread first reads c->bad_now[G]: when the G update it follows was skipped, nothing
 * changes. Graph-replayable: no host state.
 */
#include <cuda_runtime.h>

#include <cstdint>

#include "engine/base/error.hpp"
#include "kernels/cuda/cuda_check.cuh"
#include "kernels/cuda/cuda_context.cuh"
#include "kernels/cuda/cuda_ops.hpp"

namespace gan::gpu {
namespace {

constexpr int kThreads = 256;

__global__ void ema_update_kernel(float* __restrict__ ema, const float* __restrict__ src,
                                  size_t n, float* __restrict__ ema_stats,
                                  const float* __restrict__ stats, size_t n_stats, float decay,
                                  float rest, const StepCounters* __restrict__ c) {
  if (c->bad_now[static_cast<int>(Net::G)]) return;
  const size_t total = n + n_stats;
  for (size_t i = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; i < total;
       i += static_cast<size_t>(gridDim.x) * blockDim.x) {
    float* e = i < n ? ema + i : ema_stats + (i - n);
    const float s = i < n ? src[i] : stats[i - n];
    *e = __fadd_rn(__fmul_rn(decay, *e), __fmul_rn(rest, s));
  }
}

}  // namespace

void ema_update_flat(CudaCtx& ctx, float* ema, const float* src, size_t n, float* ema_stats,
                     const float* stats, size_t n_stats, float decay, const StepCounters* c) {
  GAN_CHECK(c, "ema_update: the step counters are required");
  GAN_CHECK((n == 0 || (ema && src)) && (n_stats == 0 || (ema_stats && stats)),
            "ema_update: arenas are required");
  GAN_CHECK(decay >= 0.0f && decay < 1.0f, "ema_update: decay must be in [0, 1), got " << decay);
  const size_t total = n + n_stats;
  if (total == 0) return;
  ema_update_kernel<<<ctx.grid_for(total, kThreads), kThreads, 0, ctx.stream>>>(
      ema, src, n, ema_stats, stats, n_stats, decay, 1.0f - decay, c);
  LAUNCH_CHECK("ema_update_kernel");
}

}  // namespace gan::gpu
