/*
 * gemm_eigen_isa.hpp — one instruction-set build of the fast single-threaded SGEMM.
 *
 * Included by gemm_eigen_avx512.cpp, gemm_eigen_avx2.cpp and gemm_eigen_sse2.cpp, each
 * compiled with its own instruction-set flags (CMakeLists.txt) and GAN_GEMM_ISA set to the
 * name of its entry point.
 * Eigen is a header-only template library, so the same templates would be compiled three
 * times for three instruction sets; to keep the linker from merging one build's copies into
 * another's (and running AVX-512 code on a CPU without it), each build renames the namespace
 * `Eigen` (to GAN_GEMM_ISA##_eigen) before including it. Blocking uses fixed cache sizes
 * (kGemmL1/L2/L3 below) instead of the ones Eigen reads from the CPU, so that the summation
 * order of a product depends only on its shape and the instruction set, not on the machine.
 *
 * C[M,N] = alpha * op(A) op(B) + beta * C, row-major with leading dimensions; beta == 0
 * never reads C.
 */
#ifndef GAN_GEMM_ISA
#error "define GAN_GEMM_ISA (the entry point's name) before including gemm_eigen_isa.hpp"
#endif

#include <cstddef>
#include <mutex>

#define GAN_GEMM_CAT2(a, b) a##b
#define GAN_GEMM_CAT(a, b) GAN_GEMM_CAT2(a, b)
#define Eigen GAN_GEMM_CAT(GAN_GEMM_ISA, _eigen)
#define EIGEN_DONT_PARALLELIZE
#define EIGEN_NO_DEBUG
#include <Eigen/Core>

namespace gan::cpu {

namespace {

// Cache sizes that Eigen's blocking assumes (bytes): typical of current x86 cores.
constexpr std::ptrdiff_t kGemmL1 = 32 * 1024, kGemmL2 = 1024 * 1024, kGemmL3 = 8 * 1024 * 1024;

using RowMajor = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using Stride = Eigen::OuterStride<>;
using ConstMap = Eigen::Map<const RowMajor, 0, Stride>;
using MutMap = Eigen::Map<RowMajor, 0, Stride>;

void fix_cache_sizes() {
  static std::once_flag once;
  std::call_once(once, [] { Eigen::setCpuCacheSizes(kGemmL1, kGemmL2, kGemmL3); });
}

template <typename AExpr, typename BExpr>
void assign(MutMap& c, const AExpr& a, const BExpr& b, float alpha, float beta) {
  if (beta == 0.0f) {
    if (alpha == 1.0f) c.noalias() = a * b;
    else c.noalias() = alpha * (a * b);
  } else {
    if (beta != 1.0f) c *= beta;
    if (alpha == 1.0f) c.noalias() += a * b;
    else c.noalias() += alpha * (a * b);
  }
}

}  // namespace

void GAN_GEMM_ISA(bool ta, bool tb, int M, int N, int K, float alpha, const float* A, int lda,
                  const float* B, int ldb, float beta, float* C, int ldc) {
  if (M <= 0 || N <= 0) return;
  fix_cache_sizes();
  MutMap c(C, M, N, Stride(ldc));
  if (K <= 0) {
    if (beta == 0.0f) c.setZero();
    else c *= beta;
    return;
  }
  const ConstMap a(A, ta ? K : M, ta ? M : K, Stride(lda));
  const ConstMap b(B, tb ? N : K, tb ? K : N, Stride(ldb));
  if (!ta && !tb) assign(c, a, b, alpha, beta);
  else if (!ta && tb) assign(c, a, b.transpose(), alpha, beta);
  else if (ta && !tb) assign(c, a.transpose(), b, alpha, beta);
  else assign(c, a.transpose(), b.transpose(), alpha, beta);
}

}  // namespace gan::cpu

#undef Eigen
