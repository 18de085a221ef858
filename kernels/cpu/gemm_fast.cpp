/*
 * gemm_fast.cpp — instruction-set choice and the thread split of gemm_fast.hpp.
 */
#include "kernels/cpu/gemm_fast.hpp"

#include <Eigen/src/Core/util/Macros.h>  // the version macros only

#include "engine/base/error.hpp"

namespace gan::cpu {

// The three builds (gemm_eigen_<level>.cpp).
void gemm_eigen_avx512(bool, bool, int, int, int, float, const float*, int, const float*, int,
                       float, float*, int);
void gemm_eigen_avx2(bool, bool, int, int, int, float, const float*, int, const float*, int,
                     float, float*, int);
void gemm_eigen_sse2(bool, bool, int, int, int, float, const float*, int, const float*, int,
                     float, float*, int);

std::string gemm_library() {
  return "Eigen " + std::to_string(EIGEN_WORLD_VERSION) + "." +
         std::to_string(EIGEN_MAJOR_VERSION) + "." + std::to_string(EIGEN_MINOR_VERSION);
}

const char* gemm_isa_name(GemmIsa isa) {
  switch (isa) {
    case GemmIsa::Auto: return "auto";
    case GemmIsa::AVX512: return "avx512";
    case GemmIsa::AVX2: return "avx2";
    case GemmIsa::SSE2: return "sse2";
  }
  return "?";
}

namespace {

// Exactly the features CMakeLists.txt enables for the two builds (GAN_AVX2_FLAGS and
// GAN_AVX512_FLAGS); __builtin_cpu_supports also checks that the OS saves the vector state.
bool has_avx2_build_features() {
  return __builtin_cpu_supports("avx") && __builtin_cpu_supports("avx2") &&
         __builtin_cpu_supports("fma") && __builtin_cpu_supports("bmi") &&
         __builtin_cpu_supports("bmi2");
}
bool has_avx512_build_features() {
  return has_avx2_build_features() && __builtin_cpu_supports("avx512f") &&
         __builtin_cpu_supports("avx512cd") && __builtin_cpu_supports("avx512bw") &&
         __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl");
}

}  // namespace

bool gemm_isa_supported(GemmIsa isa) {
  __builtin_cpu_init();
  switch (isa) {
    case GemmIsa::Auto:
    case GemmIsa::SSE2: return true;
    case GemmIsa::AVX2: return has_avx2_build_features();
    case GemmIsa::AVX512: return has_avx512_build_features();
  }
  return false;
}

GemmIsa gemm_best_isa() {
  if (gemm_isa_supported(GemmIsa::AVX512)) return GemmIsa::AVX512;
  if (gemm_isa_supported(GemmIsa::AVX2)) return GemmIsa::AVX2;
  return GemmIsa::SSE2;
}

GemmIsa gemm_resolve_isa(GemmIsa isa) {
  if (isa == GemmIsa::Auto) return gemm_best_isa();
  if (!gemm_isa_supported(isa))
    GAN_INPUT_FAIL("this CPU does not support the " << gemm_isa_name(isa) << " matrix products "
                   << "(it supports up to " << gemm_isa_name(gemm_best_isa()) << ")");
  return isa;
}

void gemm_fast(GemmIsa isa, bool ta, bool tb, int M, int N, int K, float alpha, const float* A,
               int lda, const float* B, int ldb, float beta, float* C, int ldc) {
  switch (gemm_resolve_isa(isa)) {
    case GemmIsa::AVX512:
      gemm_eigen_avx512(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
      return;
    case GemmIsa::AVX2:
      gemm_eigen_avx2(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
      return;
    default:
      gemm_eigen_sse2(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
      return;
  }
}

void gemm_parallel(ThreadPool& pool, GemmIsa isa, bool ta, bool tb, int M, int N, int K,
                   float alpha, const float* A, const float* B, float beta, float* C) {
  if (M <= 0 || N <= 0) return;
  isa = gemm_resolve_isa(isa);
  const int lda = ta ? M : K, ldb = tb ? K : N, ldc = N;
  if (N >= M) {
    for_each_piece(pool, N, kPiece, [&](int begin, int end) {
      const float* b = tb ? B + size_t(begin) * ldb : B + begin;
      gemm_fast(isa, ta, tb, M, end - begin, K, alpha, A, lda, b, ldb, beta, C + begin, ldc);
    });
  } else {
    for_each_piece(pool, M, kPiece, [&](int begin, int end) {
      const float* a = ta ? A + begin : A + size_t(begin) * lda;
      gemm_fast(isa, ta, tb, end - begin, N, K, alpha, a, lda, B, ldb, beta,
                C + size_t(begin) * ldc, ldc);
    });
  }
}

}  // namespace gan::cpu
