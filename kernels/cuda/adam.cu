/*
 * adam.cu — PyTorch's Adam over one network's flat arenas (the CPU reference is
 * kernels/cpu/adam_cpu.cpp).
 *
 * params, grads, m, v: n floats each, the same offsets in every arena. With t the step:
 *   m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g g;
 *   step_size = lr scale / (1 - b1^t);  denom = sqrt(v) / sqrt(1 - b2^t) + eps;
 *   p -= step_size m / denom,
 * scale = lr_scale(decay_start, decay_end, c->iteration) (engine/lr_schedule.h), read from
 * the counters when the kernel runs, so a replayed graph follows the decay.
 * Unless c->bad_now[net]: then c->skipped[net] += 1 and nothing else changes.
 *
 * Two launches, race-free and graph-replayable:
 *   adam_prepare_kernel  (one thread) reads bad_now; either counts the skip, or increments
 *                        adam_step and computes step_size and sqrt(1 - b2^t) in double (as
 *                        the CPU does), leaving them in FixedState::adam[net]. The device's
 *                        double pow may differ from glibc's by an ulp of double, which can
 *                        (rarely) move a scalar's float rounding by one ulp;
 *   adam_update_kernel   reads those scalars and updates the arena, 4 floats per thread
 *                        when all four pointers are 16-byte aligned. Rounded step by step
 *                        (__fmul_rn...) as the CPU rounds, so with equal inputs and equal
 *                        scalars the update is the CPU's to the bit.
 */
#include <cuda_runtime.h>

#include <cstdint>

#include "engine/base/error.hpp"
#include "engine/lr_schedule.h"
#include "kernels/cuda/cuda_check.cuh"
#include "kernels/cuda/cuda_context.cuh"
#include "kernels/cuda/cuda_ops.hpp"

namespace gan::gpu {
namespace {

constexpr int kThreads = 256;

// ---- kernels --------------------------------------------------------------------------

__global__ void adam_prepare_kernel(StepCounters* c, int net, double lr, double beta1,
                                    double beta2, int64_t decay_start, int64_t decay_end,
                                    AdamScalars* out) {
  if (c->bad_now[net]) {
    c->skipped[net] += 1;
    out->skip = 1;
    return;
  }
  const int64_t t = ++c->adam_step[net];
  const double bc1 = 1.0 - pow(beta1, static_cast<double>(t));
  const double bc2 = 1.0 - pow(beta2, static_cast<double>(t));
  out->skip = 0;
  const double scale = lr_scale(decay_start, decay_end, c->iteration);
  out->step_size = static_cast<float>(lr * scale / bc1);
  out->bc2_sqrt = static_cast<float>(sqrt(bc2));
}

struct AdamConsts {
  float b1, b2, one_minus_b1, one_minus_b2, eps;
};

__device__ __forceinline__ void adam_one(float& p, float g, float& m, float& v,
                                         const AdamConsts& k, float step_size, float bc2_sqrt) {
  m = __fadd_rn(__fmul_rn(k.b1, m), __fmul_rn(k.one_minus_b1, g));
  v = __fadd_rn(__fmul_rn(k.b2, v), __fmul_rn(__fmul_rn(k.one_minus_b2, g), g));
  const float denom = __fadd_rn(__fdiv_rn(__fsqrt_rn(v), bc2_sqrt), k.eps);
  p = __fsub_rn(p, __fdiv_rn(__fmul_rn(step_size, m), denom));
}

__global__ void adam_update_kernel(float* __restrict__ p, const float* __restrict__ g,
                                   float* __restrict__ m, float* __restrict__ v, size_t n,
                                   bool vec4, AdamConsts k, const AdamScalars* __restrict__ s) {
  if (s->skip) return;
  const float step_size = s->step_size, bc2_sqrt = s->bc2_sqrt;
  const size_t stride = static_cast<size_t>(gridDim.x) * blockDim.x;
  const size_t first = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x;
  size_t done = 0;
  if (vec4) {
    const size_t n4 = n / 4;
    float4* p4 = reinterpret_cast<float4*>(p);
    const float4* g4 = reinterpret_cast<const float4*>(g);
    float4* m4 = reinterpret_cast<float4*>(m);
    float4* v4 = reinterpret_cast<float4*>(v);
    for (size_t i = first; i < n4; i += stride) {
      float4 pp = p4[i], mm = m4[i], vv = v4[i];
      const float4 gg = g4[i];
      adam_one(pp.x, gg.x, mm.x, vv.x, k, step_size, bc2_sqrt);
      adam_one(pp.y, gg.y, mm.y, vv.y, k, step_size, bc2_sqrt);
      adam_one(pp.z, gg.z, mm.z, vv.z, k, step_size, bc2_sqrt);
      adam_one(pp.w, gg.w, mm.w, vv.w, k, step_size, bc2_sqrt);
      p4[i] = pp;
      m4[i] = mm;
      v4[i] = vv;
    }
    done = n4 * 4;
  }
  for (size_t i = done + first; i < n; i += stride)
    adam_one(p[i], g[i], m[i], v[i], k, step_size, bc2_sqrt);
}

bool aligned16(const void* ptr) { return reinterpret_cast<uintptr_t>(ptr) % 16 == 0; }

}  // namespace

// ---- launchers ------------------------------------------------------------------------

void adam_flat(CudaCtx& ctx, float* params, const float* grads, float* m, float* v, size_t n,
               const AdamConfig& cfg, Net net, StepCounters* c) {
  GAN_CHECK(c, "adam: the step counters are required");
  GAN_CHECK(n == 0 || (params && grads && m && v), "adam: arenas are required");
  const int k = static_cast<int>(net);
  AdamScalars* scalars = &ctx.fixed->adam[k];
  adam_prepare_kernel<<<1, 1, 0, ctx.stream>>>(c, k, static_cast<double>(cfg.lr),
                                               static_cast<double>(cfg.beta1),
                                               static_cast<double>(cfg.beta2),
                                               cfg.decay_start, cfg.decay_end, scalars);
  LAUNCH_CHECK("adam_prepare_kernel");
  if (n == 0) return;
  const AdamConsts consts{cfg.beta1, cfg.beta2, 1.0f - cfg.beta1, 1.0f - cfg.beta2, cfg.eps};
  const bool vec4 = aligned16(params) && aligned16(grads) && aligned16(m) && aligned16(v);
  const size_t items = vec4 ? (n + 3) / 4 : n;
  adam_update_kernel<<<ctx.grid_for(items, kThreads), kThreads, 0, ctx.stream>>>(
      params, grads, m, v, n, vec4, consts, scalars);
  LAUNCH_CHECK("adam_update_kernel");
}

}  // namespace gan::gpu
