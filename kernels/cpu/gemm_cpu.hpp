/*
 * gemm_cpu.hpp — row-major matrix products for the CPU reference backend.
 *
 * C[M,N] = alpha * op(A) op(B) + beta * C, all row-major, op = transpose when asked.
 * Backed by CBLAS (OpenBLAS): sgemm for float, dgemm for double (the double instances
 * serve the finite-difference gradient tests). OpenBLAS splits work over rows/columns,
 * never over K, so results do not depend on the thread count.
 */
#pragma once

namespace gan::cpu {

template <typename T>
void gemm(bool trans_a, bool trans_b, int M, int N, int K, T alpha, const T* A, const T* B, T beta,
          T* C);

}  // namespace gan::cpu
