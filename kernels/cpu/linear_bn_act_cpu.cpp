/*
 * linear_bn_act_cpu.cpp — reference dense layer: plain loops around one gemm per product.
 */
#include "kernels/cpu/linear_bn_act_cpu.hpp"

#include <cmath>
#include <vector>

#include "engine/base/error.hpp"
#include "kernels/cpu/gemm_cpu.hpp"

namespace gan::cpu {

void check_forward_rows(const DenseDesc& d, Mode mode, int rows) {
  if (d.batchnorm && mode == Mode::Train)
    GAN_CHECK(rows >= 2, "BatchNorm in training mode needs at least 2 rows");
}

void check_backward_rows(const DenseDesc& d, int rows) {
  GAN_CHECK(rows >= (d.batchnorm ? 2 : 0),
            "dense backward: " << rows << " rows (BatchNorm needs at least 2)");
}

template <typename T>
T activate(Act a, T h, float slope) {
  switch (a) {
    case Act::None: return h;
    case Act::ReLU: return h > T(0) ? h : T(0);
    case Act::LeakyReLU: return h > T(0) ? h : T(slope) * h;
    case Act::Sigmoid: return T(1) / (T(1) + std::exp(-h));
  }
  return h;
}

template <typename T>
T activation_grad_from_output(Act a, T y, float slope) {
  switch (a) {
    case Act::None: return T(1);
    case Act::ReLU: return y > T(0) ? T(1) : T(0);
    case Act::LeakyReLU: return y > T(0) ? T(1) : T(slope);
    case Act::Sigmoid: return y * (T(1) - y);
  }
  return T(1);
}

template <typename T>
void dense_forward(const DenseDesc& d, Mode mode, int rows, const T* x, const DenseRef<T>& p,
                   T* y) {
  const int in = d.in, out = d.out;
  const bool bn_train = d.batchnorm && mode == Mode::Train;
  check_forward_rows(d, mode, rows);
  T* z = bn_train ? p.z : y;  // without batch statistics, z is built in place in y
  for (int r = 0; r < rows; ++r)
    for (int j = 0; j < out; ++j) z[size_t(r) * out + j] = p.b[j];
  gemm<T>(false, true, rows, out, in, T(1), x, p.W, T(1), z);

  if (!d.batchnorm) {
    for (size_t i = 0; i < size_t(rows) * out; ++i) y[i] = activate<T>(d.act, z[i], d.slope);
    return;
  }
  for (int j = 0; j < out; ++j) {
    T shift, scale;
    if (bn_train) {
      double sum = 0;
      for (int r = 0; r < rows; ++r) sum += z[size_t(r) * out + j];
      const double mean = sum / rows;
      double sq = 0;
      for (int r = 0; r < rows; ++r) {
        const double c = z[size_t(r) * out + j] - mean;
        sq += c * c;
      }
      const double var = sq / rows;
      const double rstd = 1.0 / std::sqrt(var + d.bn_eps);
      p.mean[j] = T(mean);
      p.rstd[j] = T(rstd);
      if (p.running_mean) {  // null: batch statistics only (sampling in training mode)
        const double m = d.bn_momentum;
        p.running_mean[j] = T((1.0 - m) * p.running_mean[j] + m * mean);
        p.running_var[j] = T((1.0 - m) * p.running_var[j] + m * (sq / (rows - 1)));
      }
      shift = T(mean);
      scale = T(rstd);
    } else {
      shift = p.running_mean[j];
      scale = T(1.0 / std::sqrt(double(p.running_var[j]) + d.bn_eps));
    }
    for (int r = 0; r < rows; ++r) {
      const size_t i = size_t(r) * out + j;
      const T h = p.gamma[j] * ((z[i] - shift) * scale) + p.beta[j];
      y[i] = activate<T>(d.act, h, d.slope);
    }
  }
}

template <typename T>
void dense_backward(const DenseDesc& d, int rows, const T* x, const DenseRef<T>& p, const T* y,
                    T* dy, const DenseGradRef<T>& g, T* dx) {
  check_backward_rows(d, rows);
  const int in = d.in, out = d.out;
  for (size_t i = 0; i < size_t(rows) * out; ++i)
    dy[i] *= activation_grad_from_output<T>(d.act, y[i], d.slope);

  if (d.batchnorm) {
    for (int j = 0; j < out; ++j) {
      const double mean = p.mean[j], rstd = p.rstd[j];
      double sum_g = 0, sum_gx = 0;
      for (int r = 0; r < rows; ++r) {
        const size_t i = size_t(r) * out + j;
        const double xhat = (double(p.z[i]) - mean) * rstd;
        sum_g += dy[i];
        sum_gx += double(dy[i]) * xhat;
      }
      if (g.dgamma) g.dgamma[j] = T(sum_gx);
      if (g.dbeta) g.dbeta[j] = T(sum_g);
      const double k = double(p.gamma[j]) * rstd / rows;
      for (int r = 0; r < rows; ++r) {
        const size_t i = size_t(r) * out + j;
        const double xhat = (double(p.z[i]) - mean) * rstd;
        dy[i] = T(k * (rows * double(dy[i]) - sum_g - xhat * sum_gx));
      }
    }
  }
  if (g.db) {
    for (int j = 0; j < out; ++j) {
      double s = 0;
      for (int r = 0; r < rows; ++r) s += dy[size_t(r) * out + j];
      g.db[j] = T(s);
    }
  }
  if (g.dW) gemm<T>(true, false, out, in, rows, T(1), dy, x, T(0), g.dW);
  if (dx) gemm<T>(false, false, rows, in, out, T(1), dy, p.W, T(0), dx);
}

#define GAN_INSTANTIATE(T)                                                                    \
  template T activate<T>(Act, T, float);                                                      \
  template T activation_grad_from_output<T>(Act, T, float);                                   \
  template void dense_forward<T>(const DenseDesc&, Mode, int, const T*, const DenseRef<T>&, T*); \
  template void dense_backward<T>(const DenseDesc&, int, const T*, const DenseRef<T>&, const T*, \
                                  T*, const DenseGradRef<T>&, T*);
GAN_INSTANTIATE(float)
GAN_INSTANTIATE(double)
#undef GAN_INSTANTIATE

}  // namespace gan::cpu
