/*
 * linear_bn_act_fast.cpp — fused, threaded dense layer of linear_bn_act_fast.hpp.
 */
#include "kernels/cpu/linear_bn_act_fast.hpp"

#include <cmath>
#include <vector>

#include "engine/base/error.hpp"
#include "engine/dropout_mask.h"

namespace gan::cpu {

namespace {

// y[r, c0..c1) = act(h) for the rows, where h is produced by `h(i, j)`.
template <typename H>
void activate_rows(Act act, float slope, int rows, int out, int c0, int c1, float* y, H h) {
  for (int r = 0; r < rows; ++r) {
    float* yr = y + size_t(r) * out;
    const size_t base = size_t(r) * out;
    switch (act) {
      case Act::None:
        for (int j = c0; j < c1; ++j) yr[j] = h(base + j, j);
        break;
      case Act::ReLU:
        for (int j = c0; j < c1; ++j) {
          const float v = h(base + j, j);
          yr[j] = v > 0.0f ? v : 0.0f;
        }
        break;
      case Act::LeakyReLU:
        for (int j = c0; j < c1; ++j) {
          const float v = h(base + j, j);
          yr[j] = v > 0.0f ? v : slope * v;
        }
        break;
      case Act::Sigmoid:
        for (int j = c0; j < c1; ++j) yr[j] = 1.0f / (1.0f + std::exp(-h(base + j, j)));
        break;
    }
  }
}

// Inverted dropout of the columns [c0, c1) of v [rows, out]: element e = r out + j is kept
// (times 1 / (1 - p)) or zeroed, as dropout_forward does over the whole array.
void dropout_columns(const DropoutDraw& m, int rows, int out, int c0, int c1, float* v) {
  const uint64_t stream = dropout_stream(m.draw);
  const float scale = dropout_scale(m.p);
  for (int r = 0; r < rows; ++r)
    for (int j = c0; j < c1; ++j) {
      const size_t e = size_t(r) * out + j;
      v[e] = dropout_keep(m.seed, stream, m.layer, e, m.p) ? v[e] * scale : 0.0f;
    }
}

// Forward of the columns [c0, c1) once z (BatchNorm in training mode) or y (otherwise) holds
// x W^T for them.
void forward_columns(const DenseDesc& d, Mode mode, int rows, const DenseRef<float>& p, float* y,
                     int c0, int c1, std::vector<double>& acc) {
  const int out = d.out;
  const int w = c1 - c0;
  if (!d.batchnorm) {
    const float* b = p.b;
    activate_rows(d.act, d.slope, rows, out, c0, c1, y,
                  [&](size_t i, int j) { return y[i] + b[j]; });
    return;
  }
  if (mode == Mode::Eval) {
    std::vector<float> shift(static_cast<size_t>(w)), scale(static_cast<size_t>(w));
    for (int j = c0; j < c1; ++j) {
      shift[j - c0] = p.running_mean[j];
      scale[j - c0] = float(1.0 / std::sqrt(double(p.running_var[j]) + d.bn_eps));
    }
    const float* sh = shift.data() - c0;
    const float* sc = scale.data() - c0;
    activate_rows(d.act, d.slope, rows, out, c0, c1, y, [&](size_t i, int j) {
      return p.gamma[j] * (((y[i] + p.b[j]) - sh[j]) * sc[j]) + p.beta[j];
    });
    return;
  }
  // Training-mode BatchNorm: z += b with the column sums, then the centred squares.
  float* z = p.z;
  acc.assign(size_t(2) * w, 0.0);
  double* sum = acc.data() - c0;
  double* sq = acc.data() + w - c0;
  for (int r = 0; r < rows; ++r) {
    float* zr = z + size_t(r) * out;
    for (int j = c0; j < c1; ++j) {
      const float v = zr[j] + p.b[j];
      zr[j] = v;
      sum[j] += v;
    }
  }
  for (int j = c0; j < c1; ++j) sum[j] /= rows;  // now the mean
  for (int r = 0; r < rows; ++r) {
    const float* zr = z + size_t(r) * out;
    for (int j = c0; j < c1; ++j) {
      const double c = zr[j] - sum[j];
      sq[j] += c * c;
    }
  }
  const double m = d.bn_momentum;
  std::vector<float> shift(static_cast<size_t>(w)), scale(static_cast<size_t>(w));
  for (int j = c0; j < c1; ++j) {
    const double mean = sum[j];
    const double rstd = 1.0 / std::sqrt(sq[j] / rows + d.bn_eps);
    p.mean[j] = float(mean);
    p.rstd[j] = float(rstd);
    if (p.running_mean) {  // null: batch statistics only (sampling in training mode)
      p.running_mean[j] = float((1.0 - m) * p.running_mean[j] + m * mean);
      p.running_var[j] = float((1.0 - m) * p.running_var[j] + m * (sq[j] / (rows - 1)));
    }
    shift[j - c0] = float(mean);
    scale[j - c0] = float(rstd);
  }
  const float* sh = shift.data() - c0;
  const float* sc = scale.data() - c0;
  activate_rows(d.act, d.slope, rows, out, c0, c1, y, [&](size_t i, int j) {
    return p.gamma[j] * ((z[i] - sh[j]) * sc[j]) + p.beta[j];
  });
}

// The activation's derivative, read from its output y (as the reference does).
template <Act A>
float act_grad(float y, float slope) {
  if constexpr (A == Act::ReLU) return y > 0.0f ? 1.0f : 0.0f;
  if constexpr (A == Act::LeakyReLU) return y > 0.0f ? 1.0f : slope;
  if constexpr (A == Act::Sigmoid) return y * (1.0f - y);
  return 1.0f;
}

// First backward pass over the columns [c0, c1): g = dy act'(y) into dy, and the column sums
// of g (into sum_g) and, with BatchNorm, of g xhat (into sum_gx), xhat = (z - mean) rstd.
template <Act A>
void grad_sums(const DenseDesc& d, int rows, const DenseRef<float>& p, const float* y, float* dy,
               int c0, int c1, double* sum_g, double* sum_gx, const double* mean,
               const double* rstd) {
  const int out = d.out;
  for (int r = 0; r < rows; ++r) {
    float* gr = dy + size_t(r) * out;
    const float* yr = y + size_t(r) * out;
    if (d.batchnorm) {
      const float* zr = p.z + size_t(r) * out;
      for (int j = c0; j < c1; ++j) {
        const float g = gr[j] * act_grad<A>(yr[j], d.slope);
        gr[j] = g;
        const double xhat = (double(zr[j]) - mean[j]) * rstd[j];
        sum_g[j] += g;
        sum_gx[j] += double(g) * xhat;
      }
    } else {
      for (int j = c0; j < c1; ++j) {
        const float g = gr[j] * act_grad<A>(yr[j], d.slope);
        gr[j] = g;
        sum_g[j] += g;
      }
    }
  }
}

// Backward of the columns [c0, c1): dy becomes dz there, and their db, dgamma, dbeta.
void backward_columns(const DenseDesc& d, int rows, const DenseRef<float>& p, const float* y,
                      float* dy, const DenseGradRef<float>& g, int c0, int c1,
                      std::vector<double>& acc) {
  const int out = d.out;
  const int w = c1 - c0;
  acc.assign(size_t(6) * w, 0.0);
  double* sum_g = acc.data() - c0;
  double* sum_gx = acc.data() + w - c0;
  double* mean = acc.data() + 2 * w - c0;
  double* rstd = acc.data() + 3 * w - c0;
  double* k = acc.data() + 4 * w - c0;
  double* db = acc.data() + 5 * w - c0;
  if (d.batchnorm)
    for (int j = c0; j < c1; ++j) {
      mean[j] = p.mean[j];
      rstd[j] = p.rstd[j];
      k[j] = double(p.gamma[j]) * rstd[j] / rows;
    }
  switch (d.act) {
    case Act::None:
      grad_sums<Act::None>(d, rows, p, y, dy, c0, c1, sum_g, sum_gx, mean, rstd);
      break;
    case Act::ReLU:
      grad_sums<Act::ReLU>(d, rows, p, y, dy, c0, c1, sum_g, sum_gx, mean, rstd);
      break;
    case Act::LeakyReLU:
      grad_sums<Act::LeakyReLU>(d, rows, p, y, dy, c0, c1, sum_g, sum_gx, mean, rstd);
      break;
    case Act::Sigmoid:
      grad_sums<Act::Sigmoid>(d, rows, p, y, dy, c0, c1, sum_g, sum_gx, mean, rstd);
      break;
  }
  if (!d.batchnorm) {
    if (g.db)
      for (int j = c0; j < c1; ++j) g.db[j] = float(sum_g[j]);
    return;
  }
  for (int j = c0; j < c1; ++j) {
    if (g.dgamma) g.dgamma[j] = float(sum_gx[j]);
    if (g.dbeta) g.dbeta[j] = float(sum_g[j]);
  }
  for (int r = 0; r < rows; ++r) {
    float* gr = dy + size_t(r) * out;
    const float* zr = p.z + size_t(r) * out;
    for (int j = c0; j < c1; ++j) {
      const double xhat = (double(zr[j]) - mean[j]) * rstd[j];
      const float v = float(k[j] * (rows * double(gr[j]) - sum_g[j] - xhat * sum_gx[j]));
      gr[j] = v;
      db[j] += v;
    }
  }
  if (g.db)
    for (int j = c0; j < c1; ++j) g.db[j] = float(db[j]);
}

}  // namespace

void dense_forward_fast(ThreadPool& pool, GemmIsa isa, const DenseDesc& d, Mode mode, int rows,
                        const float* x, const DenseRef<float>& p, float* y,
                        const DropoutDraw* drop) {
  const bool bn_train = d.batchnorm && mode == Mode::Train;
  check_forward_rows(d, mode, rows);
  GAN_CHECK(!drop || !d.batchnorm, "dropout follows layers without BatchNorm");
  if (rows <= 0) return;
  isa = gemm_resolve_isa(isa);
  float* z = bn_train ? p.z : y;
  for_each_piece(pool, d.out, kPiece, [&](int c0, int c1) {
    thread_local std::vector<double> acc;
    gemm_fast(isa, false, true, rows, c1 - c0, d.in, 1.0f, x, d.in, p.W + size_t(c0) * d.in,
              d.in, 0.0f, z + c0, d.out);
    forward_columns(d, mode, rows, p, y, c0, c1, acc);
    if (drop) dropout_columns(*drop, rows, d.out, c0, c1, y);
  });
}

void dense_backward_fast(ThreadPool& pool, GemmIsa isa, const DenseDesc& d, int rows,
                         const float* x, const DenseRef<float>& p, const float* y, float* dy,
                         const DenseGradRef<float>& g, float* dx, const DropoutDraw* drop) {
  // No early return for 0 rows: the gradients are then sums over no rows, written as zeros
  // like the reference's.
  check_backward_rows(d, rows);
  GAN_CHECK(!drop || !d.batchnorm, "dropout follows layers without BatchNorm");
  isa = gemm_resolve_isa(isa);
  for_each_piece(pool, d.out, kPiece, [&](int c0, int c1) {
    thread_local std::vector<double> acc;
    if (drop) dropout_columns(*drop, rows, d.out, c0, c1, dy);
    backward_columns(d, rows, p, y, dy, g, c0, c1, acc);
    // Rows [c0, c1) of dW = dz^T x come from this piece's columns of dz only.
    if (g.dW)
      gemm_fast(isa, true, false, c1 - c0, d.in, rows, 1.0f, dy + c0, d.out, x, d.in, 0.0f,
                g.dW + size_t(c0) * d.in, d.in);
  });
  if (dx) gemm_parallel(pool, isa, false, false, rows, d.in, d.out, 1.0f, dy, p.W, 0.0f, dx);
}

}  // namespace gan::cpu
