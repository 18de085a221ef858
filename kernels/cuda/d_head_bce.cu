/*
 * d_head_bce.cu — the discriminator's last layer fused with the GAN losses, on the GPU
 * (the CPU reference is kernels/cpu/d_head_bce_cpu.cpp).
 *
 * x [n_real + n_fake, in] row-major, real rows first; w [1, in], b [1]. Logit l = x w^T + b.
 * With log D = -softplus(-l), log(1 - D) = -softplus(l):
 *   DStep:           d_loss = mean_real softplus(-l) + mean_fake softplus(l), value = -d_loss,
 *                    d_real / d_fake = mean sigmoid(l) over real / fake rows;
 *                    dL/dl = (sigmoid(l) - 1) / n_real (real), sigmoid(l) / n_fake (fake)
 *   GNonSaturating:  g_loss = mean softplus(-l),  dL/dl = (sigmoid(l) - 1) / n_fake
 *   GMinimax:        g_loss = -mean softplus(l),  dL/dl = -sigmoid(l) / n_fake
 *   then dw = sum_rows dL/dl x, db = sum_rows dL/dl, dx = dL/dl w; g_fake = mean sigmoid(l).
 * One-sided label smoothing (d_head_smoothed_*, DStep): the real rows' target is L, so their
 * loss term is L softplus(-l) + (1 - L) softplus(l) (exactly softplus(-l) when L = 1) and
 * dL/dl = (sigmoid(l) - L) / n_real; d_loss is the smoothed loss, value stays V(D,G). The
 * unsmoothed d_head_fused/unfused are the same kernels with L = 1.
 * The metrics land in a StepMetrics in device memory: no host round trip. Per-row values
 * and all sums are in double (as the CPU reference), sums in a fixed order.
 *
 * Variants:
 *   fused    ONE kernel, one block of 1024 threads: a warp per row computes the logit
 *            (lanes stride the columns, butterfly sum), the loss terms and dL/dl (kept in
 *            shared memory up to 4096 rows, else in scratch); the block reduces the
 *            metrics, then dw column tile by column tile (lanes = columns, warps = row
 *            groups, a fixed-order sum over warps), db, and writes dx.
 *   unfused  one kernel per step: logits (thread per row), per-row loss terms, metrics and
 *            db (one thread, row order), dw (thread per column), dx (elementwise).
 */
#include <cuda_runtime.h>

#include "engine/base/error.hpp"
#include "kernels/cuda/cuda_check.cuh"
#include "kernels/cuda/cuda_context.cuh"
#include "kernels/cuda/cuda_ops.hpp"
#include "kernels/cuda/device_math.cuh"

namespace gan::gpu {
namespace {

constexpr int kHeadThreads = 1024;
constexpr int kHeadWarps = kHeadThreads / 32;
constexpr int kHeadSharedRows = 4096;  // dL/dl in shared memory (32 KiB) up to this many rows
constexpr int kRowThreads = 128;       // unfused per-row / per-column kernels
constexpr int kEwThreads = 256;

// ---- kernels: shared ----------------------------------------------------------------

// The loss term with targets 1/0 (sp), the real rows' loss term with target `label` (lt;
// = sp on fake rows), sigmoid and dL/dl of one row.
struct HeadRow {
  double sp, lt, d, dl;
};
__device__ __forceinline__ HeadRow head_row(HeadMode mode, bool real, int n_real, int n_fake,
                                            double l, double label) {
  const double s = sigmoid_d(l);
  if (real) {
    const double sp = softplus_d(-l);
    const double lt = label == 1.0 ? sp : label * sp + (1.0 - label) * softplus_d(l);
    return HeadRow{sp, lt, s, (s - label) / n_real};
  }
  switch (mode) {
    case HeadMode::DStep: {
      const double sp = softplus_d(l);
      return HeadRow{sp, sp, s, s / n_fake};
    }
    case HeadMode::GNonSaturating: {
      const double sp = softplus_d(-l);
      return HeadRow{sp, sp, s, (s - 1.0) / n_fake};
    }
    case HeadMode::GMinimax: {
      const double sp = softplus_d(l);
      return HeadRow{sp, sp, s, -s / n_fake};
    }
  }
  return HeadRow{0, 0, s, 0};
}

// Stores the mode's fields of StepMetrics from the sums over real and fake rows (lt_real:
// the real rows' smoothed loss terms).
__device__ void write_metrics(HeadMode mode, int n_real, int n_fake, double sp_real,
                              double lt_real, double sp_fake, double d_real, double d_fake,
                              StepMetrics* m) {
  if (mode == HeadMode::DStep) {
    m->d_loss = static_cast<float>(lt_real / n_real + sp_fake / n_fake);
    m->value = static_cast<float>(-(sp_real / n_real + sp_fake / n_fake));
    m->d_real = static_cast<float>(d_real / n_real);
    m->d_fake = static_cast<float>(d_fake / n_fake);
  } else {
    const double mean_sp = sp_fake / n_fake;
    m->g_loss = static_cast<float>(mode == HeadMode::GNonSaturating ? mean_sp : -mean_sp);
    m->g_fake = static_cast<float>(d_fake / n_fake);
  }
}

// ---- kernels: fused -----------------------------------------------------------------

__global__ void __launch_bounds__(kHeadThreads)
    d_head_fused_kernel(int in, HeadMode mode, int n_real, int n_fake,
                        const float* __restrict__ x, const float* __restrict__ w,
                        const float* __restrict__ b, float* __restrict__ dw,
                        float* __restrict__ db, float* __restrict__ dx,
                        StepMetrics* __restrict__ m, double* dl_global, double label) {
  extern __shared__ double dl_shared[];
  __shared__ double part[kHeadWarps][33];
  double* dl = dl_global ? dl_global : dl_shared;
  const int rows = n_real + n_fake;
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const double bias = b[0];

  // 1. a warp per row: logit, loss term, sigmoid, dL/dl. Lane 0 keeps the warp's sums.
  double sp_real = 0, lt_real = 0, sp_fake = 0, d_real = 0, d_fake = 0, sum_dl = 0;
  for (int r = warp; r < rows; r += kHeadWarps) {
    const float* xr = x + static_cast<size_t>(r) * in;
    double t = 0;
    for (int k = lane; k < in; k += 32) t += static_cast<double>(xr[k]) * w[k];
    const double l = bias + warp_sum(t);
    const bool real = r < n_real;
    const HeadRow h = head_row(mode, real, n_real, n_fake, l, label);
    if (lane == 0) {
      dl[r] = h.dl;
      (real ? sp_real : sp_fake) += h.sp;
      if (real) lt_real += h.lt;
      (real ? d_real : d_fake) += h.d;
      sum_dl += h.dl;
    }
  }
  if (lane == 0) {
    part[warp][0] = sp_real;
    part[warp][1] = sp_fake;
    part[warp][2] = d_real;
    part[warp][3] = d_fake;
    part[warp][4] = sum_dl;
    part[warp][5] = lt_real;
  }
  __syncthreads();  // dl and part complete

  // 2. metrics and db: one thread, warps in order.
  if (threadIdx.x == 0) {
    double t[6] = {0, 0, 0, 0, 0, 0};
    for (int k = 0; k < kHeadWarps; ++k)
      for (int j = 0; j < 6; ++j) t[j] += part[k][j];
    write_metrics(mode, n_real, n_fake, t[0], t[5], t[1], t[2], t[3], m);
    if (db) db[0] = static_cast<float>(t[4]);
  }

  // 3. dw, 32 columns at a time: lane = column, warps split the rows, fixed-order total.
  if (dw) {
    for (int c0 = 0; c0 < in; c0 += 32) {
      const int c = c0 + lane;
      double t = 0;
      if (c < in)
        for (int r = warp; r < rows; r += kHeadWarps)
          t += dl[r] * static_cast<double>(x[static_cast<size_t>(r) * in + c]);
      __syncthreads();  // the previous readers of part are done
      part[warp][lane] = t;
      __syncthreads();
      if (warp == 0 && c < in) {
        double s = 0;
        for (int k = 0; k < kHeadWarps; ++k) s += part[k][lane];
        dw[c] = static_cast<float>(s);
      }
    }
  }

  // 4. dx = dL/dl w.
  if (dx) {
    const size_t n = static_cast<size_t>(rows) * in;
    for (size_t i = threadIdx.x; i < n; i += kHeadThreads) {
      const int r = static_cast<int>(i / in), c = static_cast<int>(i % in);
      dx[i] = static_cast<float>(dl[r] * static_cast<double>(w[c]));
    }
  }
}

// ---- kernels: unfused ---------------------------------------------------------------

__global__ void head_logits_kernel(int rows, int in, const float* __restrict__ x,
                                   const float* __restrict__ w, const float* __restrict__ b,
                                   double* __restrict__ l) {
  const int r = blockIdx.x * blockDim.x + threadIdx.x;
  if (r >= rows) return;
  double t = b[0];
  const float* xr = x + static_cast<size_t>(r) * in;
  for (int k = 0; k < in; ++k) t += static_cast<double>(xr[k]) * w[k];
  l[r] = t;
}

__global__ void head_rows_kernel(int n_real, int n_fake, HeadMode mode, double label,
                                 const double* __restrict__ l, double* __restrict__ dl,
                                 double* __restrict__ sp, double* __restrict__ lt,
                                 double* __restrict__ d) {
  const int r = blockIdx.x * blockDim.x + threadIdx.x;
  if (r >= n_real + n_fake) return;
  const HeadRow h = head_row(mode, r < n_real, n_real, n_fake, l[r], label);
  dl[r] = h.dl;
  sp[r] = h.sp;
  lt[r] = h.lt;
  d[r] = h.d;
}

__global__ void head_metrics_kernel(int n_real, int n_fake, HeadMode mode,
                                    const double* __restrict__ sp,
                                    const double* __restrict__ lt, const double* __restrict__ d,
                                    StepMetrics* __restrict__ m) {
  double sp_real = 0, lt_real = 0, sp_fake = 0, d_real = 0, d_fake = 0;
  for (int r = 0; r < n_real; ++r) {
    sp_real += sp[r];
    lt_real += lt[r];
    d_real += d[r];
  }
  for (int r = n_real; r < n_real + n_fake; ++r) {
    sp_fake += sp[r];
    d_fake += d[r];
  }
  write_metrics(mode, n_real, n_fake, sp_real, lt_real, sp_fake, d_real, d_fake, m);
}

__global__ void head_db_kernel(int rows, const double* __restrict__ dl, float* __restrict__ db) {
  double s = 0;
  for (int r = 0; r < rows; ++r) s += dl[r];
  db[0] = static_cast<float>(s);
}

__global__ void head_dw_kernel(int rows, int in, const float* __restrict__ x,
                               const double* __restrict__ dl, float* __restrict__ dw) {
  const int c = blockIdx.x * blockDim.x + threadIdx.x;
  if (c >= in) return;
  double s = 0;
  for (int r = 0; r < rows; ++r)
    s += dl[r] * static_cast<double>(x[static_cast<size_t>(r) * in + c]);
  dw[c] = static_cast<float>(s);
}

__global__ void head_dx_kernel(size_t n, int in, const double* __restrict__ dl,
                               const float* __restrict__ w, float* __restrict__ dx) {
  for (size_t i = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<size_t>(gridDim.x) * blockDim.x)
    dx[i] = static_cast<float>(dl[i / in] * static_cast<double>(w[i % in]));
}

// ---- launchers ------------------------------------------------------------------------

void check_head_args(const DenseDesc& d, HeadMode mode, int n_real, int n_fake, const float* x,
                     DenseParams p, StepMetrics* m) {
  GAN_CHECK(d.out == 1 && d.in >= 1,
            "the D head has one output, got in=" << d.in << " out=" << d.out);
  GAN_CHECK(n_fake >= 1, "the D head needs fake rows");
  GAN_CHECK(mode == HeadMode::DStep ? n_real >= 1 : n_real == 0,
            "real rows belong to the D step only");
  GAN_CHECK(x && p.W && p.b && m, "d_head: x, W, b and the metrics are required");
}

unsigned blocks_for(int n, int threads) {
  return static_cast<unsigned>((n + threads - 1) / threads);
}

}  // namespace

void d_head_smoothed_fused(CudaCtx& ctx, const DenseDesc& d, HeadMode mode, int n_real,
                           int n_fake, float real_label, const float* x, DenseParams p,
                           DenseGrads g, float* dx, StepMetrics* m) {
  check_head_args(d, mode, n_real, n_fake, x, p, m);
  GAN_CHECK(real_label > 0.0f && real_label <= 1.0f, "the real label must be in (0, 1]");
  const int rows = n_real + n_fake;
  double* dl_global = nullptr;
  size_t shared = 0;
  if (rows <= kHeadSharedRows)
    shared = static_cast<size_t>(rows) * sizeof(double);
  else
    dl_global = ctx.scratch_as<double>(static_cast<size_t>(rows), "d_head");
  d_head_fused_kernel<<<1, kHeadThreads, shared, ctx.stream>>>(d.in, mode, n_real, n_fake, x,
                                                               p.W, p.b, g.dW, g.db, dx, m,
                                                               dl_global,
                                                               static_cast<double>(real_label));
  LAUNCH_CHECK("d_head_fused_kernel");
}

void d_head_fused(CudaCtx& ctx, const DenseDesc& d, HeadMode mode, int n_real, int n_fake,
                  const float* x, DenseParams p, DenseGrads g, float* dx, StepMetrics* m) {
  d_head_smoothed_fused(ctx, d, mode, n_real, n_fake, 1.0f, x, p, g, dx, m);
}

void d_head_smoothed_unfused(CudaCtx& ctx, const DenseDesc& d, HeadMode mode, int n_real,
                             int n_fake, float real_label, const float* x, DenseParams p,
                             DenseGrads g, float* dx, StepMetrics* m) {
  check_head_args(d, mode, n_real, n_fake, x, p, m);
  GAN_CHECK(real_label > 0.0f && real_label <= 1.0f, "the real label must be in (0, 1]");
  const int rows = n_real + n_fake;
  double* l = ctx.scratch_as<double>(5 * static_cast<size_t>(rows), "d_head");
  double* dl = l + rows;
  double* sp = dl + rows;
  double* lt = sp + rows;
  double* dv = lt + rows;
  const unsigned row_blocks = blocks_for(rows, kRowThreads);
  head_logits_kernel<<<row_blocks, kRowThreads, 0, ctx.stream>>>(rows, d.in, x, p.W, p.b, l);
  LAUNCH_CHECK("head_logits_kernel");
  head_rows_kernel<<<row_blocks, kRowThreads, 0, ctx.stream>>>(
      n_real, n_fake, mode, static_cast<double>(real_label), l, dl, sp, lt, dv);
  LAUNCH_CHECK("head_rows_kernel");
  head_metrics_kernel<<<1, 1, 0, ctx.stream>>>(n_real, n_fake, mode, sp, lt, dv, m);
  LAUNCH_CHECK("head_metrics_kernel");
  if (g.db) {
    head_db_kernel<<<1, 1, 0, ctx.stream>>>(rows, dl, g.db);
    LAUNCH_CHECK("head_db_kernel");
  }
  if (g.dW) {
    head_dw_kernel<<<blocks_for(d.in, kRowThreads), kRowThreads, 0, ctx.stream>>>(rows, d.in, x,
                                                                                  dl, g.dW);
    LAUNCH_CHECK("head_dw_kernel");
  }
  if (dx) {
    const size_t n = static_cast<size_t>(rows) * d.in;
    head_dx_kernel<<<ctx.grid_for(n, kEwThreads), kEwThreads, 0, ctx.stream>>>(n, d.in, dl, p.W,
                                                                               dx);
    LAUNCH_CHECK("head_dx_kernel");
  }
}

void d_head_unfused(CudaCtx& ctx, const DenseDesc& d, HeadMode mode, int n_real, int n_fake,
                    const float* x, DenseParams p, DenseGrads g, float* dx, StepMetrics* m) {
  d_head_smoothed_unfused(ctx, d, mode, n_real, n_fake, 1.0f, x, p, g, dx, m);
}

}  // namespace gan::gpu
