/*
 * parzen.cpp — Parzen log-likelihoods: distance chunks from the backend, log-sum-exp in double.
 */
#include "engine/parzen.hpp"

#include <algorithm>
#include <cmath>
#include <cstddef>

#include "engine/error.hpp"
#include "engine/pairwise_distance.hpp"

namespace gan {

std::vector<double> parzen_sigma_grid() {
  std::vector<double> g(10);
  for (int i = 0; i < 10; ++i) g[i] = std::pow(10.0, -1.0 + i / 9.0);
  return g;
}

std::vector<double> parzen_log_likelihood(Backend& be, const float* samples, int n,
                                          const float* x, int m, int dim,
                                          const std::vector<double>& sigmas) {
  GAN_CHECK(n >= 1 && !sigmas.empty(), "a Parzen window needs samples and a bandwidth");
  for (double s : sigmas) GAN_CHECK(s > 0, "Parzen bandwidth " << s << " is not positive");
  const size_t S = sigmas.size();
  std::vector<double> out(static_cast<size_t>(m) * S);
  std::vector<double> scale(S), offset(S);
  constexpr double kTwoPi = 6.283185307179586476925;
  for (size_t k = 0; k < S; ++k) {
    scale[k] = 1.0 / (2 * sigmas[k] * sigmas[k]);
    offset[k] = -std::log(double(n)) - 0.5 * dim * std::log(kTwoPi * sigmas[k] * sigmas[k]);
  }
  for_each_distance_chunk(be, x, m, samples, n, dim, [&](int first, int rows, const float* d2) {
    for (int i = 0; i < rows; ++i) {
      const float* row = d2 + static_cast<size_t>(i) * n;
      const double dmin = *std::min_element(row, row + n);  // gives the largest exponent
      for (size_t k = 0; k < S; ++k) {
        double sum = 0;
        for (int j = 0; j < n; ++j) sum += std::exp(-(double(row[j]) - dmin) * scale[k]);
        out[(static_cast<size_t>(first) + i) * S + k] = -dmin * scale[k] + std::log(sum) + offset[k];
      }
    }
  });
  return out;
}

ParzenResult parzen_evaluate(Backend& be, const float* samples, int n, const float* validation,
                             int n_validation, const float* test, int n_test, int dim,
                             const std::vector<double>& sigmas) {
  GAN_CHECK(n_validation >= 1 && n_test >= 1, "Parzen evaluation needs validation and test rows");
  ParzenResult r;
  r.sigmas = sigmas;
  r.n_samples = n;
  r.n_validation = n_validation;
  r.n_test = n_test;
  const std::vector<double> val = parzen_log_likelihood(be, samples, n, validation, n_validation,
                                                        dim, sigmas);
  const size_t S = sigmas.size();
  r.validation_mean.assign(S, 0.0);
  for (int i = 0; i < n_validation; ++i)
    for (size_t k = 0; k < S; ++k) r.validation_mean[k] += val[i * S + k];
  size_t best = 0;
  for (size_t k = 0; k < S; ++k) {
    r.validation_mean[k] /= n_validation;
    if (r.validation_mean[k] > r.validation_mean[best]) best = k;
  }
  r.sigma = sigmas[best];
  const std::vector<double> ll = parzen_log_likelihood(be, samples, n, test, n_test, dim, {r.sigma});
  double sum = 0;
  for (double v : ll) sum += v;
  r.mean = sum / n_test;
  double sq = 0;
  for (double v : ll) sq += (v - r.mean) * (v - r.mean);
  r.std_error = std::sqrt(sq / n_test) / std::sqrt(double(n_test));
  return r;
}

}  // namespace gan
