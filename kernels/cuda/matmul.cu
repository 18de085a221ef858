/*
 * matmul.cu — the generic row-major matrix product of the evaluation, on cuBLAS (the CPU
 * reference is kernels/cpu/gemm_cpu.cpp).
 *
 *   C[M, N] = alpha op(A) op(B) + beta C, all row-major, op = transpose when asked;
 *   A is [M, K] ([K, M] when trans_a), B is [K, N] ([N, K] when trans_b).
 * Row-major C is column-major C^T = op(B)^T op(A)^T, so cuBLAS gets the operands swapped.
 * K = 0 gives C = beta C (leading dimensions are kept at 1 or more, as cuBLAS requires).
 * Always full FP32 (CUBLAS_COMPUTE_32F_PEDANTIC), whatever --tf32 set on the handle: the
 * distances of the evaluation are differences of large products and need the precision.
 */
#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <algorithm>

#include "engine/base/error.hpp"
#include "kernels/cuda/cuda_check.cuh"
#include "kernels/cuda/cuda_context.cuh"
#include "kernels/cuda/eval_ops.hpp"

namespace gan::gpu {

void matmul_fp32(CudaCtx& ctx, bool trans_a, bool trans_b, int M, int N, int K, float alpha,
                 const float* A, const float* B, float beta, float* C) {
  GAN_CHECK(M >= 0 && N >= 0 && K >= 0, "matmul: negative size " << M << "x" << N << "x" << K);
  if (M == 0 || N == 0) return;
  // cuBLAS refuses a leading dimension below 1, which an empty K (C = beta C) would give.
  const int ldb = std::max(1, trans_b ? K : N), lda = std::max(1, trans_a ? M : K);
  CUBLAS_CHECK(cublasGemmEx(ctx.blas, trans_b ? CUBLAS_OP_T : CUBLAS_OP_N,
                            trans_a ? CUBLAS_OP_T : CUBLAS_OP_N, N, M, K, &alpha, B, CUDA_R_32F,
                            ldb, A, CUDA_R_32F, lda, &beta, C, CUDA_R_32F, N,
                            CUBLAS_COMPUTE_32F_PEDANTIC, CUBLAS_GEMM_DEFAULT));
}

}  // namespace gan::gpu
