/*
 * finite_check.cu — is the loss or any gradient NaN/Inf? Sets StepCounters::bad_now[net].
 *
 * grads: n floats (a network's gradient arena); loss: one float in device memory (may be
 * null: then only the gradients count). Two launches:
 *   finite_scan_kernel    grid-stride scan (float4 where aligned); a block that sees a
 *                         non-finite value stores 1 in FixedState::finite_flag[net] (every
 *                         writer stores the same value: no race on the result);
 *   finite_finish_kernel  one thread: bad_now = flag || loss non-finite, records
 *                         first_bad_iteration = iteration on the first failure, and resets
 *                         the flag for the next check.
 * A value is non-finite when its exponent bits are all ones (independent of fast-math).
 */
#include <cuda_runtime.h>

#include <cstdint>

#include "engine/base/error.hpp"
#include "kernels/cuda/cuda_check.cuh"
#include "kernels/cuda/cuda_context.cuh"
#include "kernels/cuda/cuda_ops.hpp"
#include "kernels/cuda/device_math.cuh"

namespace gan::gpu {
namespace {

constexpr int kThreads = 256;

// ---- kernels --------------------------------------------------------------------------

__global__ void finite_scan_kernel(const float* __restrict__ x, size_t n, bool vec4,
                                   int* __restrict__ flag) {
  const size_t stride = static_cast<size_t>(gridDim.x) * blockDim.x;
  const size_t first = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x;
  bool bad = false;
  size_t done = 0;
  if (vec4) {
    const size_t n4 = n / 4;
    const float4* x4 = reinterpret_cast<const float4*>(x);
    for (size_t i = first; i < n4; i += stride) {
      const float4 q = x4[i];
      bad |= is_nonfinite(q.x) | is_nonfinite(q.y) | is_nonfinite(q.z) | is_nonfinite(q.w);
    }
    done = n4 * 4;
  }
  for (size_t i = done + first; i < n; i += stride) bad |= is_nonfinite(x[i]);
  if (__syncthreads_or(bad) && threadIdx.x == 0) *flag = 1;
}

__global__ void finite_finish_kernel(const float* __restrict__ loss, int net, int* flag,
                                     StepCounters* c) {
  const bool bad = *flag != 0 || (loss != nullptr && is_nonfinite(*loss));
  *flag = 0;
  c->bad_now[net] = bad ? 1 : 0;
  if (bad && c->first_bad_iteration[net] < 0) c->first_bad_iteration[net] = c->iteration;
}

}  // namespace

// ---- launchers ------------------------------------------------------------------------

void check_finite_flag(CudaCtx& ctx, const float* grads, size_t n, const float* loss, Net net,
                       StepCounters* c) {
  GAN_CHECK(c, "check_finite: the step counters are required");
  GAN_CHECK(n == 0 || grads, "check_finite: gradients are required");
  const int k = static_cast<int>(net);
  int* flag = &ctx.fixed->finite_flag[k];
  if (n > 0) {
    const bool vec4 = reinterpret_cast<uintptr_t>(grads) % 16 == 0;
    const size_t items = vec4 ? (n + 3) / 4 : n;
    finite_scan_kernel<<<ctx.grid_for(items, kThreads), kThreads, 0, ctx.stream>>>(grads, n,
                                                                                   vec4, flag);
    LAUNCH_CHECK("finite_scan_kernel");
  }
  finite_finish_kernel<<<1, 1, 0, ctx.stream>>>(loss, k, flag, c);
  LAUNCH_CHECK("finite_finish_kernel");
}

}  // namespace gan::gpu
