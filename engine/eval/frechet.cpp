/*
 * frechet.cpp — mean/covariance in double and the Fréchet distance via symmetric square roots.
 */
#include "engine/eval/frechet.hpp"

#include <algorithm>
#include <cmath>
#include <cstddef>

#include "engine/base/error.hpp"
#include "engine/eval/sym_eigen.hpp"

namespace gan {

Gaussian fit_gaussian(const float* x, int n, int dim) {
  GAN_CHECK(n >= 2 && dim >= 1, "a Gaussian fit needs at least 2 rows, got " << n);
  const size_t D = static_cast<size_t>(dim);
  Gaussian g;
  g.dim = dim;
  g.mean.assign(D, 0.0);
  g.cov.assign(D * D, 0.0);
  for (int r = 0; r < n; ++r)
    for (size_t j = 0; j < D; ++j) g.mean[j] += x[r * D + j];
  for (double& m : g.mean) m /= n;
  std::vector<double> c(D);
  for (int r = 0; r < n; ++r) {
    for (size_t j = 0; j < D; ++j) c[j] = x[r * D + j] - g.mean[j];
    for (size_t i = 0; i < D; ++i) {
      const double ci = c[i];
      double* row = g.cov.data() + i * D;
      for (size_t j = i; j < D; ++j) row[j] += ci * c[j];
    }
  }
  for (size_t i = 0; i < D; ++i)
    for (size_t j = i; j < D; ++j) {
      g.cov[i * D + j] /= (n - 1);
      g.cov[j * D + i] = g.cov[i * D + j];
    }
  return g;
}

double frechet_distance(const Gaussian& a, const Gaussian& b) {
  GAN_CHECK(a.dim == b.dim && a.dim >= 1, "Fréchet distance between Gaussians of dimension "
                                              << a.dim << " and " << b.dim);
  const int n = a.dim;
  const size_t N = static_cast<size_t>(n);
  double mean_term = 0, trace = 0;
  for (size_t i = 0; i < N; ++i) {
    const double d = a.mean[i] - b.mean[i];
    mean_term += d * d;
    trace += a.cov[i * N + i] + b.cov[i * N + i];
  }
  const std::vector<double> s = sym_sqrt_psd(a.cov, n);
  // m = s * b.cov * s (symmetric up to rounding; sym_eigen reads the upper triangle).
  std::vector<double> t(N * N, 0.0), m(N * N, 0.0);
  for (size_t i = 0; i < N; ++i)
    for (size_t k = 0; k < N; ++k) {
      const double sik = s[i * N + k];
      for (size_t j = 0; j < N; ++j) t[i * N + j] += sik * b.cov[k * N + j];
    }
  for (size_t i = 0; i < N; ++i)
    for (size_t k = 0; k < N; ++k) {
      const double tik = t[i * N + k];
      for (size_t j = 0; j < N; ++j) m[i * N + j] += tik * s[k * N + j];
    }
  const SymEigen e = sym_eigen(m, n);
  double tr_sqrt = 0;
  for (double v : e.values) tr_sqrt += std::sqrt(std::max(v, 0.0));
  return std::max(0.0, mean_term + trace - 2 * tr_sqrt);
}

}  // namespace gan
