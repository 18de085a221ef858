/*
 * linear_bn_act_fast.hpp — the CPU backend's fast dense layer: the same arithmetic as the
 * reference (linear_bn_act_cpu.hpp, which states it), fused and threaded.
 *
 * The output columns are cut into one contiguous slice per thread (split_range, multiples of
 * 16). Forward, in one pass of the pool: thread t computes its slice of z = x W^T with one
 * single-threaded SGEMM (gemm_fast.hpp) and, while that slice is still in its cache, adds the
 * bias, takes the BatchNorm column statistics (sums in double, two passes: mean, then the
 * centred squares), updates the running statistics, normalises and applies the activation.
 * Backward, in two passes: thread t multiplies its slice of dy by the activation derivative,
 * takes the BatchNorm column sums (double), forms dz, the bias gradient and its rows of
 * dW = dz^T x; then, after all slices are done, dx = dz W split over the threads.
 * Column statistics are summed row by row by one thread, so they do not depend on the thread
 * count; the products do (see gemm_fast.hpp). Differences from the reference: the products'
 * summation order, and the bias added after the product instead of before (float rounding).
 *
 * With a dropout draw (D's hidden layers, dropout_cpu.hpp), each thread applies the mask to its
 * slice in the same pass: after the activation in the forward, to dy before the activation's
 * derivative in the backward; the same elements, factor and float products as the reference.
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
