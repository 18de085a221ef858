/*
 * linear_bn_act.cu — dense layer on the GPU: Linear (+ BatchNorm1d) + activation, forward
 * and backward (the CPU reference is kernels/cpu/linear_bn_act_cpu.cpp).
 *
 * Layouts: x [rows, in], W [out, in] (nn.Linear), z, y, dy [rows, out], row-major.
 *   forward:   z = x W^T + b; BN train: batch mean, biased var, rstd = 1/sqrt(var + eps),
 *              running = (1 - m) running + m stat (unbiased var); BN eval: running stats;
 *              y = act(gamma (z - mean) rstd + beta)  (without BN: y = act(z)).
 *   backward:  g = dy act'(y); BN: dgamma = sum g xhat, dbeta = sum g,
 *              dz = gamma rstd / rows (rows g - sum g - xhat sum g xhat); db = sum dz;
 *              dW = dz^T x, dx = dz W (cuBLAS). dz is left in dy.
 *
 * Variants:
 *   fused    the matrix product by cuBLAS, then ONE kernel for everything per column tile:
 *            a block owns 32 columns and all rows (blockDim 32 x 16: lanes = columns,
 *            16 row groups), so the column statistics are block reductions in a fixed
 *            order — deterministic, no atomics — and the same block then normalises,
 *            activates and updates the running statistics. Backward likewise: activation
 *            derivative + BatchNorm column sums + dz + bias gradient in one kernel.
 *            Without BatchNorm (and in eval mode) bias + normalisation + activation is
 *            one elementwise pass over cuBLAS's output.
 *   unfused  the baseline: one simple kernel per step (bias; column mean; column variance;
 *            statistics; normalise; activation), one thread per column for reductions.
 * Column sums accumulate in double, as the CPU reference does.
 *
 * Dropout (dense_forward_dropout / dense_backward_dropout, layers without BatchNorm): the
 * fused elementwise pass of the forward applies the mask of engine/dropout_mask.h after the
 * activation (y = keep ? act(h) / (1 - p) : 0), and the fused backward pass multiplies dy by
 * the recomputed mask and 1 / (1 - p) before the activation's derivative; the draw number is
 * read from device memory in the kernel. Same roundings as the CPU reference
 * (kernels/cpu/dropout_cpu.cpp), so both drop and scale the same elements to the same bits.
 */
#include <cuda_runtime.h>

#include "engine/base/error.hpp"
#include "kernels/cuda/cuda_check.cuh"
#include "kernels/cuda/cuda_context.cuh"
#include "kernels/cuda/cuda_ops.hpp"
#include "kernels/cuda/device_math.cuh"
#include "engine/dropout_mask.h"

namespace gan::gpu {
namespace {

constexpr int kEwThreads = 256;      // elementwise kernels
constexpr int kTileCols = 32;        // columns per block of the column-tile kernels
constexpr int kTileRowGroups = 16;   // row groups per block of the column-tile kernels
constexpr int kColThreads = 128;     // one-thread-per-column kernels (unfused)

#define GRID_STRIDE(i, n)                                                        \
  for (size_t i = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; i < (n); \
       i += static_cast<size_t>(gridDim.x) * blockDim.x)

// ---- kernels: shared ----------------------------------------------------------------

// A DropoutMask as kernels take it: the factor rounded on the host, the draw read in-kernel.
struct DropoutArgs {
  float p = 0.0f, scale = 1.0f;
  uint64_t seed = 0;
  const int64_t* counter = nullptr;
  int64_t k_mul = 0, k_add = 0;
  uint32_t layer = 0;

  __device__ uint64_t stream() const {
    return dropout_stream((counter ? *counter : 0) * k_mul + k_add);
  }
  // v kept and scaled, or 0, for element e.
  __device__ float apply(uint64_t s, size_t e, float v) const {
    return dropout_keep(seed, s, layer, e, p) ? __fmul_rn(v, scale) : 0.0f;
  }
};

// Sum of v over the row groups of each column of a column-tile block, in a fixed order.
// Every thread of the column gets the total. All threads of the block must call it.
__device__ double column_block_sum(double v, double (*red)[kTileCols + 1]) {
  red[threadIdx.y][threadIdx.x] = v;
  __syncthreads();
  if (threadIdx.y == 0) {
    double t = 0;
    for (int k = 0; k < kTileRowGroups; ++k) t += red[k][threadIdx.x];
    red[0][threadIdx.x] = t;
  }
  __syncthreads();
  const double total = red[0][threadIdx.x];
  __syncthreads();  // red is reused by the next call
  return total;
}

// dy = dy act'(y), elementwise; with kDrop, dy = mask(dy) act'(y).
template <bool kDrop>
__global__ void act_backward_kernel(size_t n, const float* __restrict__ y, Act act, float slope,
                                    DropoutArgs drop, float* __restrict__ dy) {
  uint64_t s = 0;
  if constexpr (kDrop) s = drop.stream();
  GRID_STRIDE(i, n) {
    float g = dy[i];
    if constexpr (kDrop) g = drop.apply(s, i, g);
    dy[i] = __fmul_rn(g, act_grad_from_output(act, y[i], slope));
  }
}

// ---- kernels: fused -----------------------------------------------------------------

// In place on y = x W^T: y = act(y + b), or with BatchNorm in eval mode
// y = act(gamma (y + b - running_mean) / sqrt(running_var + eps) + beta); with kDrop (no
// BatchNorm) then y = mask(y).
template <bool kDrop>
__global__ void bias_act_kernel(size_t n, int out, const float* __restrict__ b,
                                const float* __restrict__ gamma, const float* __restrict__ beta,
                                const float* __restrict__ rmean, const float* __restrict__ rvar,
                                float eps, Act act, float slope, DropoutArgs drop,
                                float* __restrict__ y) {
  uint64_t s = 0;
  if constexpr (kDrop) s = drop.stream();
  GRID_STRIDE(i, n) {
    const int c = static_cast<int>(i % out);
    float h = __fadd_rn(y[i], b[c]);
    if (gamma) {
      const float scale = static_cast<float>(1.0 / sqrt(static_cast<double>(rvar[c]) + eps));
      h = bn_affine(h, rmean[c], scale, gamma[c], beta[c]);
    }
    const float v = act_forward(act, h, slope);
    if constexpr (kDrop)
      y[i] = drop.apply(s, i, v);
    else
      y[i] = v;
  }
}

// Training-mode BatchNorm on z = x W^T (in place: z += b), one column tile per block.
__global__ void __launch_bounds__(kTileCols* kTileRowGroups)
    bn_train_forward_kernel(int rows, int out, const float* __restrict__ b,
                            const float* __restrict__ gamma, const float* __restrict__ beta,
                            float eps, float momentum, Act act, float slope, float* z,
                            float* __restrict__ mean_out, float* __restrict__ rstd_out,
                            float* __restrict__ rmean, float* __restrict__ rvar,
                            float* __restrict__ y) {
  __shared__ double red[kTileRowGroups][kTileCols + 1];
  const int c = blockIdx.x * kTileCols + threadIdx.x;
  const bool col = c < out;
  const float bias = col ? b[c] : 0.0f;

  double s = 0;  // pass 1: bias, sum
  if (col)
    for (int r = threadIdx.y; r < rows; r += kTileRowGroups) {
      const size_t i = static_cast<size_t>(r) * out + c;
      const float v = __fadd_rn(z[i], bias);
      z[i] = v;
      s += v;
    }
  const double mean = column_block_sum(s, red) / rows;

  double q = 0;  // pass 2: centred sum of squares
  if (col)
    for (int r = threadIdx.y; r < rows; r += kTileRowGroups) {
      const double dv = static_cast<double>(z[static_cast<size_t>(r) * out + c]) - mean;
      q += dv * dv;
    }
  const double sq = column_block_sum(q, red);
  const double rstd = 1.0 / sqrt(sq / rows + static_cast<double>(eps));
  if (!col) return;  // no block-wide synchronisation below
  if (threadIdx.y == 0) {
    mean_out[c] = static_cast<float>(mean);
    rstd_out[c] = static_cast<float>(rstd);
    if (rmean) {
      const double m = momentum;
      rmean[c] = static_cast<float>((1.0 - m) * rmean[c] + m * mean);
      rvar[c] = static_cast<float>((1.0 - m) * rvar[c] + m * (sq / (rows - 1)));
    }
  }
  const float fm = static_cast<float>(mean), fr = static_cast<float>(rstd);
  const float g = gamma[c], be = beta[c];
  for (int r = threadIdx.y; r < rows; r += kTileRowGroups) {  // pass 3: normalise, activate
    const size_t i = static_cast<size_t>(r) * out + c;
    y[i] = act_forward(act, bn_affine(z[i], fm, fr, g, be), slope);
  }
}

// Backward of training-mode BatchNorm + activation, one column tile per block. dy becomes
// dz; dgamma, dbeta, db (each may be null) get the column sums.
__global__ void __launch_bounds__(kTileCols* kTileRowGroups)
    bn_train_backward_kernel(int rows, int out, const float* __restrict__ z,
                             const float* __restrict__ mean, const float* __restrict__ rstd,
                             const float* __restrict__ gamma, const float* __restrict__ y,
                             Act act, float slope, float* dy, float* __restrict__ dgamma,
                             float* __restrict__ dbeta, float* __restrict__ db) {
  __shared__ double red[kTileRowGroups][kTileCols + 1];
  const int c = blockIdx.x * kTileCols + threadIdx.x;
  const bool col = c < out;
  const double mu = col ? mean[c] : 0.0, rs = col ? rstd[c] : 0.0;

  double sg = 0, sgx = 0;  // pass 1: sum g, sum g xhat
  if (col)
    for (int r = threadIdx.y; r < rows; r += kTileRowGroups) {
      const size_t i = static_cast<size_t>(r) * out + c;
      const float g = __fmul_rn(dy[i], act_grad_from_output(act, y[i], slope));
      const double xhat = (static_cast<double>(z[i]) - mu) * rs;
      sg += g;
      sgx += static_cast<double>(g) * xhat;
    }
  const double sum_g = column_block_sum(sg, red);
  const double sum_gx = column_block_sum(sgx, red);
  if (col && threadIdx.y == 0) {
    if (dgamma) dgamma[c] = static_cast<float>(sum_gx);
    if (dbeta) dbeta[c] = static_cast<float>(sum_g);
  }

  const double k = col ? static_cast<double>(gamma[c]) * rs / rows : 0.0;
  double sdz = 0;  // pass 2: dz, and its sum for db
  if (col)
    for (int r = threadIdx.y; r < rows; r += kTileRowGroups) {
      const size_t i = static_cast<size_t>(r) * out + c;
      const float g = __fmul_rn(dy[i], act_grad_from_output(act, y[i], slope));
      const double xhat = (static_cast<double>(z[i]) - mu) * rs;
      const float dz =
          static_cast<float>(k * (rows * static_cast<double>(g) - sum_g - xhat * sum_gx));
      dy[i] = dz;
      sdz += dz;
    }
  if (db) {  // uniform over the block
    const double total = column_block_sum(sdz, red);
    if (col && threadIdx.y == 0) db[c] = static_cast<float>(total);
  }
}

// Without BatchNorm: dy = dy act'(y) and db = column sums of it, one column tile per block;
// with kDrop, dy = mask(dy) act'(y).
template <bool kDrop>
__global__ void __launch_bounds__(kTileCols* kTileRowGroups)
    act_backward_bias_kernel(int rows, int out, const float* __restrict__ y, Act act,
                             float slope, DropoutArgs drop, float* __restrict__ dy,
                             float* __restrict__ db) {
  __shared__ double red[kTileRowGroups][kTileCols + 1];
  const int c = blockIdx.x * kTileCols + threadIdx.x;
  const bool col = c < out;
  uint64_t st = 0;
  if constexpr (kDrop) st = drop.stream();
  double s = 0;
  if (col)
    for (int r = threadIdx.y; r < rows; r += kTileRowGroups) {
      const size_t i = static_cast<size_t>(r) * out + c;
      float d = dy[i];
      if constexpr (kDrop) d = drop.apply(st, i, d);
      const float g = __fmul_rn(d, act_grad_from_output(act, y[i], slope));
      dy[i] = g;
      s += g;
    }
  const double total = column_block_sum(s, red);
  if (col && threadIdx.y == 0) db[c] = static_cast<float>(total);
}

// ---- kernels: unfused -----------------------------------------------------------------

__global__ void add_bias_kernel(size_t n, int out, const float* __restrict__ b,
                                float* __restrict__ z) {
  GRID_STRIDE(i, n) z[i] = __fadd_rn(z[i], b[i % out]);
}

__global__ void col_mean_kernel(int rows, int out, const float* __restrict__ z,
                                double* __restrict__ mean) {
  const int c = blockIdx.x * blockDim.x + threadIdx.x;
  if (c >= out) return;
  double s = 0;
  for (int r = 0; r < rows; ++r) s += z[static_cast<size_t>(r) * out + c];
  mean[c] = s / rows;
}

__global__ void col_sq_kernel(int rows, int out, const float* __restrict__ z,
                              const double* __restrict__ mean, double* __restrict__ sq) {
  const int c = blockIdx.x * blockDim.x + threadIdx.x;
  if (c >= out) return;
  double s = 0;
  for (int r = 0; r < rows; ++r) {
    const double dv = static_cast<double>(z[static_cast<size_t>(r) * out + c]) - mean[c];
    s += dv * dv;
  }
  sq[c] = s;
}

__global__ void bn_stats_kernel(int rows, int out, const double* __restrict__ mean,
                                const double* __restrict__ sq, float eps, float momentum,
                                float* __restrict__ mean_out, float* __restrict__ rstd_out,
                                float* __restrict__ rmean, float* __restrict__ rvar) {
  const int c = blockIdx.x * blockDim.x + threadIdx.x;
  if (c >= out) return;
  mean_out[c] = static_cast<float>(mean[c]);
  rstd_out[c] = static_cast<float>(1.0 / sqrt(sq[c] / rows + static_cast<double>(eps)));
  if (rmean) {
    const double m = momentum;
    rmean[c] = static_cast<float>((1.0 - m) * rmean[c] + m * mean[c]);
    rvar[c] = static_cast<float>((1.0 - m) * rvar[c] + m * (sq[c] / (rows - 1)));
  }
}

// h = gamma (z - shift) scale + beta: shift/scale are the saved mean/rstd in training
// mode (mean, rstd given) and come from the running statistics in eval mode.
// z and h may be the same buffer (eval mode works in place on y).
__global__ void bn_normalize_kernel(size_t n, int out, const float* z,
                                    const float* __restrict__ mean,
                                    const float* __restrict__ rstd,
                                    const float* __restrict__ rmean,
                                    const float* __restrict__ rvar, float eps,
                                    const float* __restrict__ gamma,
                                    const float* __restrict__ beta, float* h) {
  GRID_STRIDE(i, n) {
    const int c = static_cast<int>(i % out);
    const float shift = mean ? mean[c] : rmean[c];
    const float scale =
        rstd ? rstd[c] : static_cast<float>(1.0 / sqrt(static_cast<double>(rvar[c]) + eps));
    h[i] = bn_affine(z[i], shift, scale, gamma[c], beta[c]);
  }
}

__global__ void act_kernel(size_t n, Act act, float slope, float* __restrict__ y) {
  GRID_STRIDE(i, n) y[i] = act_forward(act, y[i], slope);
}

// Column sums of g and g xhat (g = dy after the activation derivative); writes dgamma and
// dbeta where given and keeps both sums in `sums` [2, out] for the dz kernel.
__global__ void bn_grad_sums_kernel(int rows, int out, const float* __restrict__ z,
                                    const float* __restrict__ mean,
                                    const float* __restrict__ rstd,
                                    const float* __restrict__ dy, float* __restrict__ dgamma,
                                    float* __restrict__ dbeta, double* __restrict__ sums) {
  const int c = blockIdx.x * blockDim.x + threadIdx.x;
  if (c >= out) return;
  const double mu = mean[c], rs = rstd[c];
  double sg = 0, sgx = 0;
  for (int r = 0; r < rows; ++r) {
    const size_t i = static_cast<size_t>(r) * out + c;
    const double xhat = (static_cast<double>(z[i]) - mu) * rs;
    sg += dy[i];
    sgx += static_cast<double>(dy[i]) * xhat;
  }
  sums[c] = sg;
  sums[out + c] = sgx;
  if (dgamma) dgamma[c] = static_cast<float>(sgx);
  if (dbeta) dbeta[c] = static_cast<float>(sg);
}

__global__ void bn_dz_kernel(size_t n, int rows, int out, const float* __restrict__ z,
                             const float* __restrict__ mean, const float* __restrict__ rstd,
                             const float* __restrict__ gamma, const double* __restrict__ sums,
                             float* __restrict__ dy) {
  GRID_STRIDE(i, n) {
    const int c = static_cast<int>(i % out);
    const double rs = rstd[c];
    const double xhat = (static_cast<double>(z[i]) - mean[c]) * rs;
    const double k = static_cast<double>(gamma[c]) * rs / rows;
    dy[i] = static_cast<float>(k * (rows * static_cast<double>(dy[i]) - sums[c] -
                                    xhat * sums[out + c]));
  }
}

__global__ void bias_grad_kernel(int rows, int out, const float* __restrict__ dz,
                                 float* __restrict__ db) {
  const int c = blockIdx.x * blockDim.x + threadIdx.x;
  if (c >= out) return;
  double s = 0;
  for (int r = 0; r < rows; ++r) s += dz[static_cast<size_t>(r) * out + c];
  db[c] = static_cast<float>(s);
}

#undef GRID_STRIDE

// ---- launchers ------------------------------------------------------------------------

void check_forward_args(const DenseDesc& d, Mode mode, int rows, const float* x, DenseParams p,
                        BnStats rs, DenseSaved s, const float* y) {
  GAN_CHECK(d.in >= 1 && d.out >= 1 && rows >= 0,
            "dense_forward: bad shape in=" << d.in << " out=" << d.out << " rows=" << rows);
  GAN_CHECK(x && p.W && p.b && y, "dense_forward: x, W, b and y are required");
  GAN_CHECK((rs.running_mean == nullptr) == (rs.running_var == nullptr),
            "dense_forward: running mean and var go together");
  if (!d.batchnorm) return;
  GAN_CHECK(p.gamma && p.beta, "dense_forward: BatchNorm needs gamma and beta");
  if (mode == Mode::Train) {
    GAN_CHECK(rows >= 2, "BatchNorm in training mode needs at least 2 rows, got " << rows);
    GAN_CHECK(s.z && s.mean && s.rstd, "dense_forward: BatchNorm training saves z/mean/rstd");
  } else {
    GAN_CHECK(rs.running_mean, "dense_forward: BatchNorm in eval mode needs running stats");
  }
}

void check_backward_args(const DenseDesc& d, int rows, const float* x, DenseParams p,
                         DenseSaved s, const float* y, const float* dy, DenseGrads g) {
  GAN_CHECK(d.in >= 1 && d.out >= 1 && rows >= 0,
            "dense_backward: bad shape in=" << d.in << " out=" << d.out << " rows=" << rows);
  GAN_CHECK(x && p.W && y && dy, "dense_backward: x, W, y and dy are required");
  if (d.batchnorm) {
    GAN_CHECK(rows >= 2, "BatchNorm backward needs at least 2 rows, got " << rows);
    GAN_CHECK(p.gamma && s.z && s.mean && s.rstd,
              "dense_backward: BatchNorm needs gamma and the saved z/mean/rstd");
  }
  (void)g;
}

unsigned column_tiles(int out) { return static_cast<unsigned>((out + kTileCols - 1) / kTileCols); }
unsigned column_blocks(int out) {
  return static_cast<unsigned>((out + kColThreads - 1) / kColThreads);
}

// Backward over no rows: the parameter gradients are sums over no rows, zeros, as the CPU
// reference writes them (dx has no rows).
void zero_param_grads(CudaCtx& ctx, const DenseDesc& d, DenseGrads g) {
  const size_t per_unit = static_cast<size_t>(d.out) * sizeof(float);
  if (g.dW) CUDA_CHECK(cudaMemsetAsync(g.dW, 0, per_unit * d.in, ctx.stream));
  for (float* v : {g.db, g.dgamma, g.dbeta})
    if (v) CUDA_CHECK(cudaMemsetAsync(v, 0, per_unit, ctx.stream));
}

}  // namespace

void dense_forward_fused(CudaCtx& ctx, const DenseDesc& d, Mode mode, int rows, const float* x,
                         DenseParams p, BnStats rs, DenseSaved s, float* y) {
  check_forward_args(d, mode, rows, x, p, rs, s, y);
  if (rows == 0) return;
  const size_t n = static_cast<size_t>(rows) * d.out;
  if (d.batchnorm && mode == Mode::Train) {
    gemm_xwt(ctx.blas, rows, d.in, d.out, x, p.W, s.z);
    const dim3 block(kTileCols, kTileRowGroups);
    bn_train_forward_kernel<<<column_tiles(d.out), block, 0, ctx.stream>>>(
        rows, d.out, p.b, p.gamma, p.beta, d.bn_eps, d.bn_momentum, d.act, d.slope, s.z, s.mean,
        s.rstd, rs.running_mean, rs.running_var, y);
    LAUNCH_CHECK("bn_train_forward_kernel");
    return;
  }
  gemm_xwt(ctx.blas, rows, d.in, d.out, x, p.W, y);
  const bool bn = d.batchnorm;
  bias_act_kernel<false><<<ctx.grid_for(n, kEwThreads), kEwThreads, 0, ctx.stream>>>(
      n, d.out, p.b, bn ? p.gamma : nullptr, bn ? p.beta : nullptr,
      bn ? rs.running_mean : nullptr, bn ? rs.running_var : nullptr, d.bn_eps, d.act, d.slope,
      DropoutArgs{}, y);
  LAUNCH_CHECK("bias_act_kernel");
}

void dense_forward_unfused(CudaCtx& ctx, const DenseDesc& d, Mode mode, int rows,
                           const float* x, DenseParams p, BnStats rs, DenseSaved s, float* y) {
  check_forward_args(d, mode, rows, x, p, rs, s, y);
  if (rows == 0) return;
  const size_t n = static_cast<size_t>(rows) * d.out;
  const unsigned ew = ctx.grid_for(n, kEwThreads), cols = column_blocks(d.out);
  const bool bn_train = d.batchnorm && mode == Mode::Train;
  float* z = bn_train ? s.z : y;
  gemm_xwt(ctx.blas, rows, d.in, d.out, x, p.W, z);
  add_bias_kernel<<<ew, kEwThreads, 0, ctx.stream>>>(n, d.out, p.b, z);
  LAUNCH_CHECK("add_bias_kernel");
  if (bn_train) {
    double* mean = ctx.scratch_as<double>(2 * static_cast<size_t>(d.out), "dense_forward");
    double* sq = mean + d.out;
    col_mean_kernel<<<cols, kColThreads, 0, ctx.stream>>>(rows, d.out, z, mean);
    LAUNCH_CHECK("col_mean_kernel");
    col_sq_kernel<<<cols, kColThreads, 0, ctx.stream>>>(rows, d.out, z, mean, sq);
    LAUNCH_CHECK("col_sq_kernel");
    bn_stats_kernel<<<cols, kColThreads, 0, ctx.stream>>>(rows, d.out, mean, sq, d.bn_eps,
                                                          d.bn_momentum, s.mean, s.rstd,
                                                          rs.running_mean, rs.running_var);
    LAUNCH_CHECK("bn_stats_kernel");
    bn_normalize_kernel<<<ew, kEwThreads, 0, ctx.stream>>>(
        n, d.out, z, s.mean, s.rstd, nullptr, nullptr, d.bn_eps, p.gamma, p.beta, y);
    LAUNCH_CHECK("bn_normalize_kernel");
  } else if (d.batchnorm) {
    bn_normalize_kernel<<<ew, kEwThreads, 0, ctx.stream>>>(n, d.out, y, nullptr, nullptr,
                                                           rs.running_mean, rs.running_var,
                                                           d.bn_eps, p.gamma, p.beta, y);
    LAUNCH_CHECK("bn_normalize_kernel");
  }
  act_kernel<<<ew, kEwThreads, 0, ctx.stream>>>(n, d.act, d.slope, y);
  LAUNCH_CHECK("act_kernel");
}

void dense_backward_fused(CudaCtx& ctx, const DenseDesc& d, int rows, const float* x,
                          DenseParams p, DenseSaved s, const float* y, float* dy, DenseGrads g,
                          float* dx) {
  check_backward_args(d, rows, x, p, s, y, dy, g);
  if (rows == 0) return zero_param_grads(ctx, d, g);
  const size_t n = static_cast<size_t>(rows) * d.out;
  const dim3 block(kTileCols, kTileRowGroups);
  if (d.batchnorm) {
    bn_train_backward_kernel<<<column_tiles(d.out), block, 0, ctx.stream>>>(
        rows, d.out, s.z, s.mean, s.rstd, p.gamma, y, d.act, d.slope, dy, g.dgamma, g.dbeta,
        g.db);
    LAUNCH_CHECK("bn_train_backward_kernel");
  } else if (g.db) {
    act_backward_bias_kernel<false><<<column_tiles(d.out), block, 0, ctx.stream>>>(
        rows, d.out, y, d.act, d.slope, DropoutArgs{}, dy, g.db);
    LAUNCH_CHECK("act_backward_bias_kernel");
  } else if (d.act != Act::None) {
    act_backward_kernel<false><<<ctx.grid_for(n, kEwThreads), kEwThreads, 0, ctx.stream>>>(
        n, y, d.act, d.slope, DropoutArgs{}, dy);
    LAUNCH_CHECK("act_backward_kernel");
  }
  if (g.dW) gemm_dzt_x(ctx.blas, rows, d.in, d.out, dy, x, g.dW);
  if (dx) gemm_dz_w(ctx.blas, rows, d.in, d.out, dy, p.W, dx);
}

void dense_backward_unfused(CudaCtx& ctx, const DenseDesc& d, int rows, const float* x,
                            DenseParams p, DenseSaved s, const float* y, float* dy,
                            DenseGrads g, float* dx) {
  check_backward_args(d, rows, x, p, s, y, dy, g);
  if (rows == 0) return zero_param_grads(ctx, d, g);
  const size_t n = static_cast<size_t>(rows) * d.out;
  const unsigned ew = ctx.grid_for(n, kEwThreads), cols = column_blocks(d.out);
  act_backward_kernel<false><<<ew, kEwThreads, 0, ctx.stream>>>(n, y, d.act, d.slope,
                                                                DropoutArgs{}, dy);
  LAUNCH_CHECK("act_backward_kernel");
  if (d.batchnorm) {
    double* sums = ctx.scratch_as<double>(2 * static_cast<size_t>(d.out), "dense_backward");
    bn_grad_sums_kernel<<<cols, kColThreads, 0, ctx.stream>>>(rows, d.out, s.z, s.mean, s.rstd,
                                                              dy, g.dgamma, g.dbeta, sums);
    LAUNCH_CHECK("bn_grad_sums_kernel");
    bn_dz_kernel<<<ew, kEwThreads, 0, ctx.stream>>>(n, rows, d.out, s.z, s.mean, s.rstd,
                                                    p.gamma, sums, dy);
    LAUNCH_CHECK("bn_dz_kernel");
  }
  if (g.db) {
    bias_grad_kernel<<<cols, kColThreads, 0, ctx.stream>>>(rows, d.out, dy, g.db);
    LAUNCH_CHECK("bias_grad_kernel");
  }
  if (g.dW) gemm_dzt_x(ctx.blas, rows, d.in, d.out, dy, x, g.dW);
  if (dx) gemm_dz_w(ctx.blas, rows, d.in, d.out, dy, p.W, dx);
}

// ---- dropout (D's hidden layers) ------------------------------------------------------

namespace {

DropoutArgs dropout_args(const DenseDesc& d, const DropoutMask& m) {
  GAN_CHECK(!d.batchnorm && d.act != Act::Sigmoid,
            "dropout follows a layer without BatchNorm whose activation keeps its sign");
  GAN_CHECK(m.p >= 0.0f && m.p < 1.0f, "the dropout probability must be in [0, 1), got " << m.p);
  return DropoutArgs{m.p, dropout_scale(m.p), m.seed, m.counter, m.k_mul, m.k_add, m.layer};
}

}  // namespace

void dense_forward_dropout_fused(CudaCtx& ctx, const DenseDesc& d, int rows, const float* x,
                                 DenseParams p, const DropoutMask& m, float* y) {
  check_forward_args(d, Mode::Train, rows, x, p, BnStats{}, DenseSaved{}, y);
  const DropoutArgs drop = dropout_args(d, m);
  if (rows == 0) return;
  const size_t n = static_cast<size_t>(rows) * d.out;
  gemm_xwt(ctx.blas, rows, d.in, d.out, x, p.W, y);
  bias_act_kernel<true><<<ctx.grid_for(n, kEwThreads), kEwThreads, 0, ctx.stream>>>(
      n, d.out, p.b, nullptr, nullptr, nullptr, nullptr, d.bn_eps, d.act, d.slope, drop, y);
  LAUNCH_CHECK("bias_act_kernel<dropout>");
}

void dense_backward_dropout_fused(CudaCtx& ctx, const DenseDesc& d, int rows, const float* x,
                                  DenseParams p, const DropoutMask& m, const float* y,
                                  float* dy, DenseGrads g, float* dx) {
  check_backward_args(d, rows, x, p, DenseSaved{}, y, dy, g);
  const DropoutArgs drop = dropout_args(d, m);
  if (rows == 0) return zero_param_grads(ctx, d, g);
  const size_t n = static_cast<size_t>(rows) * d.out;
  if (g.db) {
    const dim3 block(kTileCols, kTileRowGroups);
    act_backward_bias_kernel<true><<<column_tiles(d.out), block, 0, ctx.stream>>>(
        rows, d.out, y, d.act, d.slope, drop, dy, g.db);
    LAUNCH_CHECK("act_backward_bias_kernel<dropout>");
  } else {
    act_backward_kernel<true><<<ctx.grid_for(n, kEwThreads), kEwThreads, 0, ctx.stream>>>(
        n, y, d.act, d.slope, drop, dy);
    LAUNCH_CHECK("act_backward_kernel<dropout>");
  }
  if (g.dW) gemm_dzt_x(ctx.blas, rows, d.in, d.out, dy, x, g.dW);
  if (dx) gemm_dz_w(ctx.blas, rows, d.in, d.out, dy, p.W, dx);
}

}  // namespace gan::gpu
