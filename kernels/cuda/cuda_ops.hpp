/*
 * cuda_ops.hpp — the launchers of the CUDA kernels, one group per op family (file).
 *
 * Plain C++ declarations: the registry (kernel_registry.cpp) is compiled without nvcc.
 * Every launcher enqueues its work on ctx.stream and returns without waiting; pointers are
 * device memory; layouts and semantics are those of engine/backend.hpp. The variants of
 * one op share a signature (the function-pointer types of kernel_registry.hpp).
 */
#pragma once

#include <cstddef>
#include <cstdint>

#include "engine/backend.hpp"

namespace gan::gpu {

struct CudaCtx;  // kernels/cuda/cuda_context.cuh

// ---- linear_bn_act.cu --------------------------------------------------------------
void dense_forward_fused(CudaCtx& ctx, const DenseDesc& d, Mode mode, int rows, const float* x,
                         DenseParams p, BnStats rs, DenseSaved s, float* y);
void dense_forward_unfused(CudaCtx& ctx, const DenseDesc& d, Mode mode, int rows,
                           const float* x, DenseParams p, BnStats rs, DenseSaved s, float* y);
void dense_backward_fused(CudaCtx& ctx, const DenseDesc& d, int rows, const float* x,
                          DenseParams p, DenseSaved s, const float* y, float* dy, DenseGrads g,
                          float* dx);
void dense_backward_unfused(CudaCtx& ctx, const DenseDesc& d, int rows, const float* x,
                            DenseParams p, DenseSaved s, const float* y, float* dy,
                            DenseGrads g, float* dx);

// Dropout in D (fused elementwise passes; not in the registry: one variant each).
void dense_forward_dropout_fused(CudaCtx& ctx, const DenseDesc& d, int rows, const float* x,
                                 DenseParams p, const DropoutMask& m, float* y);
void dense_backward_dropout_fused(CudaCtx& ctx, const DenseDesc& d, int rows, const float* x,
                                  DenseParams p, const DropoutMask& m, const float* y,
                                  float* dy, DenseGrads g, float* dx);

// ---- d_head_bce.cu -------------------------------------------------------------------
void d_head_fused(CudaCtx& ctx, const DenseDesc& d, HeadMode mode, int n_real, int n_fake,
                  const float* x, DenseParams p, DenseGrads g, float* dx, StepMetrics* m);
void d_head_unfused(CudaCtx& ctx, const DenseDesc& d, HeadMode mode, int n_real, int n_fake,
                    const float* x, DenseParams p, DenseGrads g, float* dx, StepMetrics* m);

// With the real rows' target real_label (the d_head variants above use 1).
void d_head_smoothed_fused(CudaCtx& ctx, const DenseDesc& d, HeadMode mode, int n_real,
                           int n_fake, float real_label, const float* x, DenseParams p,
                           DenseGrads g, float* dx, StepMetrics* m);
void d_head_smoothed_unfused(CudaCtx& ctx, const DenseDesc& d, HeadMode mode, int n_real,
                             int n_fake, float real_label, const float* x, DenseParams p,
                             DenseGrads g, float* dx, StepMetrics* m);

// ---- ema.cu --------------------------------------------------------------------------
void ema_update_flat(CudaCtx& ctx, float* ema, const float* src, size_t n, float* ema_stats,
                     const float* stats, size_t n_stats, float decay, const StepCounters* c);

// ---- adam.cu -------------------------------------------------------------------------
void adam_flat(CudaCtx& ctx, float* params, const float* grads, float* m, float* v, size_t n,
               const AdamConfig& cfg, Net net, StepCounters* c);

// ---- finite_check.cu -----------------------------------------------------------------
void check_finite_flag(CudaCtx& ctx, const float* grads, size_t n, const float* loss, Net net,
                       StepCounters* c);

// ---- data_pipeline.cu ----------------------------------------------------------------
void shuffle_radix(CudaCtx& ctx, int32_t* perm, int n, uint64_t seed, uint64_t epoch,
                   StepCounters* c);
void gather_direct(CudaCtx& ctx, float* out, const uint8_t* images, int dim,
                   const int32_t* perm, const StepCounters* c, int slot, int rows);
void noise_philox(CudaCtx& ctx, float* out, size_t n, uint64_t seed, Stream purpose,
                  const int64_t* counter, int64_t k_mul, int64_t k_add);
void end_iteration_counters(CudaCtx& ctx, StepCounters* c, int d_steps);

}  // namespace gan::gpu
