/*
 * test_frechet.cpp — the Jacobi eigen solver (A V = V diag(values), V orthogonal,
 * known spectra, repeated eigenvalues) and the Fréchet distance against closed forms:
 * diagonal Gaussians, a non-commuting 2 x 2 case (tr sqrt(M) = sqrt(tr M + 2 sqrt(det M))),
 * identical inputs, and the Gaussian fit of a small set by hand.
 */
#include <doctest/doctest.h>

#include <cmath>
#include <vector>

#include "engine/base/error.hpp"
#include "engine/eval/frechet.hpp"
#include "engine/eval/sym_eigen.hpp"
#include "tests/support/test_util.hpp"

namespace {

using namespace gan;
using namespace gan::test;

std::vector<double> random_symmetric(Rng& rng, int n) {
  std::vector<double> a(static_cast<size_t>(n) * n);
  for (int i = 0; i < n; ++i)
    for (int j = i; j < n; ++j) a[i * n + j] = a[j * n + i] = rng.uniform(-1, 1);
  return a;
}

// Q diag(values) Q^T with Q the product of random Householder reflections (orthogonal).
std::vector<double> with_spectrum(Rng& rng, const std::vector<double>& values) {
  const int n = static_cast<int>(values.size());
  std::vector<double> q(n * n, 0.0);
  for (int i = 0; i < n; ++i) q[i * n + i] = 1;
  for (int h = 0; h < 3; ++h) {
    std::vector<double> v = random_vector<double>(rng, n);
    double norm = 0;
    for (double x : v) norm += x * x;
    // q = q (I - 2 v v^T / |v|^2)
    for (int r = 0; r < n; ++r) {
      double dot = 0;
      for (int k = 0; k < n; ++k) dot += q[r * n + k] * v[k];
      for (int k = 0; k < n; ++k) q[r * n + k] -= 2 * dot * v[k] / norm;
    }
  }
  std::vector<double> a(n * n, 0.0);
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < n; ++j)
      for (int k = 0; k < n; ++k) a[i * n + j] += q[i * n + k] * values[k] * q[j * n + k];
  return a;
}

void check_decomposition(const std::vector<double>& a, int n, const SymEigen& e, double tol) {
  double scale = 0;
  for (double x : a) scale = std::max(scale, std::abs(x));
  for (int i = 1; i < n; ++i) CHECK(e.values[i - 1] <= e.values[i]);
  for (int c = 0; c < n; ++c) {
    for (int r = 0; r < n; ++r) {  // (A v_c)[r] == values[c] v_c[r]
      double av = 0;
      for (int k = 0; k < n; ++k) av += a[r * n + k] * e.vectors[k * n + c];
      CHECK(std::abs(av - e.values[c] * e.vectors[r * n + c]) <= tol * scale);
    }
    for (int d = c; d < n; ++d) {  // V^T V == I
      double dot = 0;
      for (int k = 0; k < n; ++k) dot += e.vectors[k * n + c] * e.vectors[k * n + d];
      CHECK(std::abs(dot - (c == d ? 1.0 : 0.0)) <= tol);
    }
  }
}

TEST_CASE("sym_eigen decomposes random symmetric matrices") {
  Rng rng(11);
  for (int n : {1, 2, 7, 40}) {
    CAPTURE(n);
    const std::vector<double> a = random_symmetric(rng, n);
    check_decomposition(a, n, sym_eigen(a, n), 1e-12);
  }
}

TEST_CASE("sym_eigen finds a known spectrum, repeated eigenvalues included") {
  Rng rng(5);
  const std::vector<double> values = {-2.0, 0.0, 0.5, 0.5, 0.5, 3.0, 1e3};
  const int n = static_cast<int>(values.size());
  const std::vector<double> a = with_spectrum(rng, values);
  const SymEigen e = sym_eigen(a, n);
  check_close("eigenvalues", e.values, values, 1e-10, 1e-12);
  check_decomposition(a, n, e, 1e-12);
}

TEST_CASE("sym_eigen reads the upper triangle and refuses bad input") {
  // Lower triangle garbage: only the upper one counts.
  const std::vector<double> a = {2, 1, 99, 2};
  const SymEigen e = sym_eigen(a, 2);
  check_close("eigenvalues of [[2,1],[1,2]]", e.values, std::vector<double>{1, 3}, 1e-14, 0);
  CHECK_THROWS_AS(sym_eigen({1, 2, 3}, 2), Error);
  CHECK_THROWS_AS(sym_eigen({1, NAN, NAN, 1}, 2), Error);
}

TEST_CASE("sym_sqrt_psd squares back to the matrix") {
  Rng rng(8);
  const int n = 6;
  const std::vector<double> a = with_spectrum(rng, {0.0, 0.1, 1, 2, 5, 9});
  const std::vector<double> s = sym_sqrt_psd(a, n);
  std::vector<double> ss(n * n, 0.0);
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < n; ++j)
      for (int k = 0; k < n; ++k) ss[i * n + j] += s[i * n + k] * s[k * n + j];
  check_close("sqrt(A)^2", ss, a, 1e-11, 0);
}

Gaussian gaussian(std::vector<double> mean, std::vector<double> cov) {
  Gaussian g;
  g.dim = static_cast<int>(mean.size());
  g.mean = std::move(mean);
  g.cov = std::move(cov);
  return g;
}

TEST_CASE("Frechet distance of diagonal Gaussians has its closed form") {
  // |m1 - m2|^2 + sum (sqrt(a_i) - sqrt(b_i))^2
  const Gaussian a = gaussian({0, 1, 2}, {4, 0, 0, 0, 1, 0, 0, 0, 9});
  const Gaussian b = gaussian({1, 1, 0}, {1, 0, 0, 0, 1, 0, 0, 0, 0.25});
  const double want = (1 + 0 + 4) + (1 + 0 + 6.25);
  CHECK(frechet_distance(a, b) == doctest::Approx(want).epsilon(1e-12));
  CHECK(frechet_distance(b, a) == doctest::Approx(want).epsilon(1e-12));
  CHECK(frechet_distance(a, a) == doctest::Approx(0).epsilon(1e-12));
}

TEST_CASE("Frechet distance of non-commuting 2 x 2 covariances matches the closed form") {
  const std::vector<double> c1 = {2.0, 0.7, 0.7, 1.0}, c2 = {0.5, -0.2, -0.2, 3.0};
  // M = C1 C2 has positive eigenvalues: tr sqrt(M) = sqrt(tr M + 2 sqrt(det M)).
  const double m00 = c1[0] * c2[0] + c1[1] * c2[2], m11 = c1[2] * c2[1] + c1[3] * c2[3];
  const double det = (c1[0] * c1[3] - c1[1] * c1[2]) * (c2[0] * c2[3] - c2[1] * c2[2]);
  const double tr_sqrt = std::sqrt(m00 + m11 + 2 * std::sqrt(det));
  const double want = (0.3 * 0.3 + 0.4 * 0.4) + (3.0 + 3.5) - 2 * tr_sqrt;
  CHECK(frechet_distance(gaussian({0.3, 0}, c1), gaussian({0, 0.4}, c2)) ==
        doctest::Approx(want).epsilon(1e-12));
  CHECK_THROWS_AS(frechet_distance(gaussian({0}, {1}), gaussian({0, 0}, {1, 0, 0, 1})), Error);
}

TEST_CASE("fit_gaussian: mean and unbiased covariance of a small set") {
  const std::vector<float> x = {1, 2, 3, 6, 5, 10};  // rows (1,2), (3,6), (5,10)
  const Gaussian g = fit_gaussian(x.data(), 3, 2);
  check_close("mean", g.mean, std::vector<double>{3, 6}, 1e-14, 0);
  check_close("cov", g.cov, std::vector<double>{4, 8, 8, 16}, 1e-13, 0);
  CHECK_THROWS_AS(fit_gaussian(x.data(), 1, 2), Error);
  // Identical sets are at distance 0; a shift by t adds |t|^2.
  Rng rng(2);
  std::vector<float> p = random_vector<float>(rng, 200 * 4), q = p;
  for (size_t i = 0; i < q.size(); i += 4) q[i] += 2.0f;
  const Gaussian gp = fit_gaussian(p.data(), 200, 4), gq = fit_gaussian(q.data(), 200, 4);
  CHECK(frechet_distance(gp, gp) == doctest::Approx(0).epsilon(1e-9));
  CHECK(frechet_distance(gp, gq) == doctest::Approx(4.0).epsilon(1e-5));
}

}  // namespace
