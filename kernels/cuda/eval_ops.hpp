/*
 * eval_ops.hpp — the launchers of the CUDA kernels of the evaluation and the digit
 * classifier (matmul.cu, softmax_xent.cu, gather_labels.cu).
 *
 * Plain C++ declarations. Every launcher enqueues its work on ctx.stream and returns without
 * waiting; pointers are device memory; semantics are those of engine/backend.hpp. Each op
 * has one implementation (no variants in the registry).
 */
#pragma once

#include <cstdint>

#include "engine/backend.hpp"

namespace gan::gpu {

struct CudaCtx;  // kernels/cuda/cuda_context.cuh

// ---- matmul.cu -------------------------------------------------------------------------
void matmul_fp32(CudaCtx& ctx, bool trans_a, bool trans_b, int M, int N, int K, float alpha,
                 const float* A, const float* B, float beta, float* C);

// ---- softmax_xent.cu -------------------------------------------------------------------
void softmax_xent_block(CudaCtx& ctx, int rows, int classes, const float* logits,
                        const int32_t* labels, float* dlogits, XentMetrics* m);

// ---- gather_labels.cu ------------------------------------------------------------------
void gather_labels_direct(CudaCtx& ctx, int32_t* out, const uint8_t* labels,
                          const int32_t* perm, const StepCounters* c, int slot, int rows);

}  // namespace gan::gpu
