/*
 * linear_bn_act_fast.hpp — the CPU backend's fast dense layer: the same arithmetic as the
 * reference (linear_bn_act_cpu.hpp, which states it), fused and threaded.
 *
 * The output columns are cut into pieces of kPiece (128) columns, the last shorter, piece k
 * on thread k % threads (for_each_piece, gemm_fast.hpp). Forward, in one pass of the pool:
 * each piece of z = x W^T is one single-threaded SGEMM and, while it is still in the cache,
 * gets the bias, the BatchNorm column statistics (sums in double, two passes: mean, then the
 * centred squares), the running statistics' update, the normalisation and the activation.
 * Backward, in two passes: each piece of dy is multiplied by the activation derivative, its
 * BatchNorm column sums taken (double), and it forms dz, the bias gradient and its rows of
 * dW = dz^T x; then, after all pieces are done, dx = dz W in pieces (gemm_parallel).
 * Column statistics are summed row by row within a piece, and the pieces do not depend on
 * the thread count: any number of threads gives the same bits. Differences from the
 * reference: the products' summation order, and the bias added after the product instead of
 * before (float rounding).
 *
 * With a dropout draw (D's hidden layers, dropout_cpu.hpp), each piece gets the mask in the
 * same pass: after the activation in the forward, to dy before the activation's derivative
 * in the backward; the same elements, factor and float products as the reference.
 */
#pragma once

#include "engine/backend.hpp"
#include "kernels/cpu/dropout_cpu.hpp"
#include "kernels/cpu/gemm_fast.hpp"
#include "kernels/cpu/linear_bn_act_cpu.hpp"
#include "kernels/cpu/thread_pool.hpp"

namespace gan::cpu {

// drop: null, or the inverted-dropout mask applied to y (layers without BatchNorm).
void dense_forward_fast(ThreadPool& pool, GemmIsa isa, const DenseDesc& d, Mode mode, int rows,
                        const float* x, const DenseRef<float>& p, float* y,
                        const DropoutDraw* drop = nullptr);

// dy [rows, out] is overwritten with dz; drop: the forward's mask, applied to dy first.
void dense_backward_fast(ThreadPool& pool, GemmIsa isa, const DenseDesc& d, int rows,
                         const float* x, const DenseRef<float>& p, const float* y, float* dy,
                         const DenseGradRef<float>& g, float* dx,
                         const DropoutDraw* drop = nullptr);

}  // namespace gan::cpu
