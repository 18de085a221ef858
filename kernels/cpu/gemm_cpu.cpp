/*
 * gemm_cpu.cpp — CBLAS calls behind gan::cpu::gemm.
 */
#include "kernels/cpu/gemm_cpu.hpp"

#include <cblas.h>

namespace gan::cpu {

template <>
void gemm<float>(bool ta, bool tb, int M, int N, int K, float alpha, const float* A,
                 const float* B, float beta, float* C) {
  if (M == 0 || N == 0) return;
  cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, M, N,
              K, alpha, A, ta ? M : K, B, tb ? K : N, beta, C, N);
}

template <>
void gemm<double>(bool ta, bool tb, int M, int N, int K, double alpha, const double* A,
                  const double* B, double beta, double* C) {
  if (M == 0 || N == 0) return;
  cblas_dgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, M, N,
              K, alpha, A, ta ? M : K, B, tb ? K : N, beta, C, N);
}

}  // namespace gan::cpu
