/*
 * sym_eigen.cpp — cyclic Jacobi eigen solver in double.
 */
#include "engine/eval/sym_eigen.hpp"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <numeric>

#include "engine/base/error.hpp"

namespace gan {

SymEigen sym_eigen(const std::vector<double>& a_in, int n) {
  GAN_CHECK(n >= 0 && a_in.size() == static_cast<size_t>(n) * n,
            "sym_eigen: matrix of " << a_in.size() << " values is not " << n << "x" << n);
  const size_t N = static_cast<size_t>(n);
  std::vector<double> a(N * N), v(N * N, 0.0);
  for (size_t i = 0; i < N; ++i)
    for (size_t j = 0; j < N; ++j) a[i * N + j] = i <= j ? a_in[i * N + j] : a_in[j * N + i];
  for (size_t i = 0; i < N; ++i) v[i * N + i] = 1.0;
  for (double x : a) GAN_CHECK(std::isfinite(x), "sym_eigen: the matrix holds non-finite values");

  double total = 0;
  for (double x : a) total += x * x;
  const double target = 1e-26 * total;  // (1e-13 of the norm)^2
  bool converged = false;
  for (int sweep = 0; sweep < 100 && !converged; ++sweep) {
    double off = 0;
    for (size_t p = 0; p < N; ++p)
      for (size_t q = p + 1; q < N; ++q) off += 2 * a[p * N + q] * a[p * N + q];
    if (off <= target) {
      converged = true;
      break;
    }
    for (size_t p = 0; p < N; ++p) {
      for (size_t q = p + 1; q < N; ++q) {
        const double apq = a[p * N + q];
        if (apq == 0.0) continue;
        const double theta = (a[q * N + q] - a[p * N + p]) / (2 * apq);
        const double t = (theta >= 0 ? 1.0 : -1.0) / (std::abs(theta) + std::sqrt(theta * theta + 1));
        const double c = 1 / std::sqrt(t * t + 1), s = t * c;
        for (size_t k = 0; k < N; ++k) {
          if (k == p || k == q) continue;
          const double akp = a[k * N + p], akq = a[k * N + q];
          const double np = c * akp - s * akq, nq = s * akp + c * akq;
          a[k * N + p] = a[p * N + k] = np;
          a[k * N + q] = a[q * N + k] = nq;
        }
        a[p * N + p] -= t * apq;
        a[q * N + q] += t * apq;
        a[p * N + q] = a[q * N + p] = 0.0;
        for (size_t k = 0; k < N; ++k) {
          const double vkp = v[k * N + p], vkq = v[k * N + q];
          v[k * N + p] = c * vkp - s * vkq;
          v[k * N + q] = s * vkp + c * vkq;
        }
      }
    }
  }
  if (!converged) {
    double off = 0;
    for (size_t p = 0; p < N; ++p)
      for (size_t q = p + 1; q < N; ++q) off += 2 * a[p * N + q] * a[p * N + q];
    if (off > target) GAN_FAIL("sym_eigen: Jacobi did not converge in 100 sweeps (n = " << n << ")");
  }

  std::vector<size_t> order(N);
  std::iota(order.begin(), order.end(), size_t{0});
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t i, size_t j) { return a[i * N + i] < a[j * N + j]; });
  SymEigen e;
  e.values.resize(N);
  e.vectors.resize(N * N);
  for (size_t c = 0; c < N; ++c) {
    e.values[c] = a[order[c] * N + order[c]];
    for (size_t r = 0; r < N; ++r) e.vectors[r * N + c] = v[r * N + order[c]];
  }
  return e;
}

std::vector<double> sym_sqrt_psd(const std::vector<double>& a, int n) {
  const SymEigen e = sym_eigen(a, n);
  const size_t N = static_cast<size_t>(n);
  std::vector<double> root(N), out(N * N, 0.0);
  for (size_t i = 0; i < N; ++i) root[i] = std::sqrt(std::max(e.values[i], 0.0));
  for (size_t i = 0; i < N; ++i)
    for (size_t j = i; j < N; ++j) {
      double s = 0;
      for (size_t k = 0; k < N; ++k) s += e.vectors[i * N + k] * root[k] * e.vectors[j * N + k];
      out[i * N + j] = out[j * N + i] = s;
    }
  return out;
}

}  // namespace gan
