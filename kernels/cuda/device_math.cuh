/*
 * device_math.cuh — device functions shared by the kernels: activations and their
 * derivatives (read from the output, as the CPU reference does), the stable softplus and
 * sigmoid of the D head, warp reductions, and the row-major <-> cuBLAS (column-major)
 * matrix products.
 *
 * Float arithmetic that the CPU reference performs as separate roundings (BatchNorm's
 * affine step, Adam) is written with __fmul_rn/__fadd_rn so that nvcc does not contract it
 * into fused multiply-adds: on equal inputs the GPU then rounds exactly like the CPU (+, *,
 * / and sqrt are correctly rounded on both). Transcendental functions (expf, log1pf, ...)
 * are the device library's, not glibc's, and may differ from the CPU's by an ulp.
 */
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime.h>

#include "engine/model_spec.hpp"
#include "kernels/cuda/cuda_check.cuh"

namespace gan::gpu {

// ---- activations --------------------------------------------------------------------

__device__ __forceinline__ float act_forward(Act a, float h, float slope) {
  switch (a) {
    case Act::None: return h;
    case Act::ReLU: return h > 0.0f ? h : 0.0f;
    case Act::LeakyReLU: return h > 0.0f ? h : __fmul_rn(slope, h);
    case Act::Sigmoid: return 1.0f / (1.0f + expf(-h));
  }
  return h;
}

// d act / d h from y = act(h).
__device__ __forceinline__ float act_grad_from_output(Act a, float y, float slope) {
  switch (a) {
    case Act::None: return 1.0f;
    case Act::ReLU: return y > 0.0f ? 1.0f : 0.0f;
    case Act::LeakyReLU: return y > 0.0f ? 1.0f : slope;
    case Act::Sigmoid: return __fmul_rn(y, 1.0f - y);
  }
  return 1.0f;
}

// gamma * ((z - shift) * scale) + beta, rounded step by step like the CPU.
__device__ __forceinline__ float bn_affine(float z, float shift, float scale, float gamma,
                                           float beta) {
  return __fadd_rn(__fmul_rn(gamma, __fmul_rn(__fsub_rn(z, shift), scale)), beta);
}

// ---- the D head's stable forms (double, as the CPU reference) -----------------------

__device__ __forceinline__ double softplus_d(double t) {
  return (t > 0.0 ? t : 0.0) + log1p(exp(-fabs(t)));
}
__device__ __forceinline__ double sigmoid_d(double t) {
  if (t >= 0.0) return 1.0 / (1.0 + exp(-t));
  const double e = exp(t);
  return e / (1.0 + e);
}

// ---- reductions ----------------------------------------------------------------------

// Sum over the 32 lanes of a warp, in a fixed butterfly order; every lane gets the total.
template <typename T>
__device__ __forceinline__ T warp_sum(T v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}

__device__ __forceinline__ bool is_nonfinite(float v) {
  return (__float_as_uint(v) & 0x7f800000u) == 0x7f800000u;
}

// ---- row-major matrix products through cuBLAS ---------------------------------------
// A row-major matrix M[r, c] is, to cuBLAS, the column-major M^T with leading dimension c.

// y[rows, out] = x[rows, in] W^T  (W [out, in]):  y^T = W x^T.
inline void gemm_xwt(cublasHandle_t h, int rows, int in, int out, const float* x,
                     const float* W, float* y) {
  const float one = 1.0f, zero = 0.0f;
  CUBLAS_CHECK(cublasSgemm(h, CUBLAS_OP_T, CUBLAS_OP_N, out, rows, in, &one, W, in, x, in, &zero,
                           y, out));
}

// dW[out, in] = dz[rows, out]^T x[rows, in]:  dW^T = x^T dz.
inline void gemm_dzt_x(cublasHandle_t h, int rows, int in, int out, const float* dz,
                       const float* x, float* dW) {
  const float one = 1.0f, zero = 0.0f;
  CUBLAS_CHECK(cublasSgemm(h, CUBLAS_OP_N, CUBLAS_OP_T, in, out, rows, &one, x, in, dz, out,
                           &zero, dW, in));
}

// dx[rows, in] = dz[rows, out] W[out, in]:  dx^T = W^T dz^T.
inline void gemm_dz_w(cublasHandle_t h, int rows, int in, int out, const float* dz,
                      const float* W, float* dx) {
  const float one = 1.0f, zero = 0.0f;
  CUBLAS_CHECK(cublasSgemm(h, CUBLAS_OP_N, CUBLAS_OP_N, in, rows, out, &one, W, in, dz, out,
                           &zero, dx, in));
}

}  // namespace gan::gpu
