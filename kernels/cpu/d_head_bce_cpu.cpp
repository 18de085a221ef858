/*
 * d_head_bce_cpu.cpp — reference D head + BCE-with-logits value and gradients.
 */
#include "kernels/cpu/d_head_bce_cpu.hpp"

#include <cmath>
#include <vector>

#include "engine/base/error.hpp"

namespace gan::cpu {

template <typename T>
T softplus(T t) {
  return (t > T(0) ? t : T(0)) + std::log1p(std::exp(-std::abs(t)));
}

template <typename T>
T sigmoid(T t) {
  if (t >= T(0)) return T(1) / (T(1) + std::exp(-t));
  const T e = std::exp(t);
  return e / (T(1) + e);
}

template <typename T>
HeadResult<T> d_head(int in, HeadMode mode, int n_real, int n_fake, const T* x, const T* w,
                     const T* b, T* dw, T* db, T* dx, double real_label) {
  GAN_CHECK(n_fake >= 1, "the D head needs fake rows");
  GAN_CHECK(mode == HeadMode::DStep ? n_real >= 1 : n_real == 0,
            "real rows belong to the D step only");
  const int rows = n_real + n_fake;
  std::vector<double> dl(static_cast<size_t>(rows));
  double sum_sp_real = 0, sum_sp_fake = 0, sum_d_real = 0, sum_d_fake = 0;
  double sum_loss_real = 0;  // the real rows' (smoothed) BCE terms
  for (int r = 0; r < rows; ++r) {
    double l = b[0];
    for (int k = 0; k < in; ++k) l += double(x[size_t(r) * in + k]) * double(w[k]);
    const double s = sigmoid<double>(l);
    const bool real = r < n_real;
    if (real) {
      const double sp = softplus<double>(-l);
      sum_sp_real += sp;
      sum_loss_real += real_label == 1.0
                           ? sp
                           : real_label * sp + (1.0 - real_label) * softplus<double>(l);
      sum_d_real += s;
      dl[r] = (s - real_label) / n_real;
    } else {
      sum_d_fake += s;
      switch (mode) {
        case HeadMode::DStep:
          sum_sp_fake += softplus<double>(l);
          dl[r] = s / n_fake;
          break;
        case HeadMode::GNonSaturating:
          sum_sp_fake += softplus<double>(-l);
          dl[r] = (s - 1.0) / n_fake;
          break;
        case HeadMode::GMinimax:
          sum_sp_fake += softplus<double>(l);
          dl[r] = -s / n_fake;
          break;
      }
    }
  }
  HeadResult<T> res;
  if (mode == HeadMode::DStep) {
    res.d_loss = T(sum_loss_real / n_real + sum_sp_fake / n_fake);
    res.value = T(-(sum_sp_real / n_real + sum_sp_fake / n_fake));
    res.d_real = T(sum_d_real / n_real);
    res.d_fake = T(sum_d_fake / n_fake);
  } else {
    const double mean_sp = sum_sp_fake / n_fake;
    res.g_loss = T(mode == HeadMode::GNonSaturating ? mean_sp : -mean_sp);
    res.g_fake = T(sum_d_fake / n_fake);
  }
  if (dw) {
    for (int k = 0; k < in; ++k) {
      double s = 0;
      for (int r = 0; r < rows; ++r) s += dl[r] * double(x[size_t(r) * in + k]);
      dw[k] = T(s);
    }
  }
  if (db) {
    double s = 0;
    for (int r = 0; r < rows; ++r) s += dl[r];
    db[0] = T(s);
  }
  if (dx) {
    for (int r = 0; r < rows; ++r)
      for (int k = 0; k < in; ++k) dx[size_t(r) * in + k] = T(dl[r] * double(w[k]));
  }
  return res;
}

#define GAN_INSTANTIATE(T)                                                                   \
  template T softplus<T>(T);                                                                 \
  template T sigmoid<T>(T);                                                                  \
  template HeadResult<T> d_head<T>(int, HeadMode, int, int, const T*, const T*, const T*, T*, \
                                   T*, T*, double);
GAN_INSTANTIATE(float)
GAN_INSTANTIATE(double)
#undef GAN_INSTANTIATE

}  // namespace gan::cpu
