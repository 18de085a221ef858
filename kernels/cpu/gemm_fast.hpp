/*
 * gemm_fast.hpp — the CPU backend's fast matrix product: Eigen's SGEMM built for three x86
 * instruction-set levels, chosen at run time, split over a ThreadPool.
 *
 *   C[M,N] = alpha * op(A) op(B) + beta * C, row-major, lda/ldb/ldc leading dimensions,
 *   op = transpose when asked: A is [M,K] ([K,M] if ta), B [K,N] ([N,K] if tb).
 *   beta == 0 never reads C.
 *
 * GemmIsa::Auto picks the widest level the CPU and OS support (CPUID and XGETBV, through
 * __builtin_cpu_supports): AVX512 (AVX-512 F/CD/BW/DQ/VL on top of the AVX2 set), AVX2
 * (AVX, AVX2, FMA, BMI, BMI2), else SSE2 (the x86-64 baseline). Nothing depends on the CPU's model name or on
 * environment variables. A level the CPU lacks cannot be selected (InputError).
 *
 * gemm_parallel() cuts C into pieces of kPiece columns (along N when N >= M) or kPiece rows
 * (else), the last piece shorter, and computes each piece with one single-threaded product:
 * piece k on thread k % size(). Every element of C is then a sum over K in an order fixed by
 * the level and its piece's shape, and the pieces do not depend on the thread count: the
 * same shapes and level give the same bits on any number of threads. (Eigen's kernels take
 * a column through different register paths depending on where it falls in the product, so
 * slices cut per thread rounded differently for each thread count.)
 */
#pragma once

#include <string>

#include "kernels/cpu/thread_pool.hpp"

namespace gan::cpu {

enum class GemmIsa { Auto, AVX512, AVX2, SSE2 };

const char* gemm_isa_name(GemmIsa isa);  // "auto", "avx512", "avx2", "sse2"
// The level Auto resolves to on this CPU.
GemmIsa gemm_best_isa();
bool gemm_isa_supported(GemmIsa isa);
// Auto -> gemm_best_isa(); otherwise isa itself (InputError if this CPU lacks it).
GemmIsa gemm_resolve_isa(GemmIsa isa);

// "Eigen 3.4.0": the library behind the fast products.
std::string gemm_library();

// Single-threaded product at one level.
void gemm_fast(GemmIsa isa, bool ta, bool tb, int M, int N, int K, float alpha, const float* A,
               int lda, const float* B, int ldb, float beta, float* C, int ldc);

// Columns (or rows) of one piece of a split product; also the dense layers' piece width.
constexpr int kPiece = 128;

// Calls fn(begin, end) for the pieces [k * piece, min(n, (k + 1) * piece)) of [0, n), piece
// k on thread k % size(): what a piece computes does not depend on the thread count.
template <typename Fn>
void for_each_piece(ThreadPool& pool, int n, int piece, Fn&& fn) {
  const int pieces = (n + piece - 1) / piece, T = pool.size();
  pool.run([&](int t) {
    for (int k = t; k < pieces; k += T) fn(k * piece, k + 1 == pieces ? n : (k + 1) * piece);
  });
}

// The product split over the pool's threads (see above); dense leading dimensions.
void gemm_parallel(ThreadPool& pool, GemmIsa isa, bool ta, bool tb, int M, int N, int K,
                   float alpha, const float* A, const float* B, float beta, float* C);

}  // namespace gan::cpu
