/*
 * parzen.cpp — Parzen log-likelihoods: distance chunks from the backend, log-sum-exp in double.
 */
#include "engine/eval/parzen.hpp"

#include <algorithm>
#include <cmath>
#include <cstddef>

#include "engine/base/error.hpp"
#include "engine/eval/pairwise_distance.hpp"

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

ParzenResult parzen_evaluate(Backend& be, const float* samples, int n, const float* test,
                             int n_test, int dim, const std::vector<double>& sigmas, int folds) {
  GAN_CHECK(folds >= 2 && n_test >= folds,
            "Parzen cross-fitting needs at least 2 folds of one test row each");
  ParzenResult r;
  r.sigmas = sigmas;
  r.n_samples = n;
  r.n_test = n_test;
  const size_t S = sigmas.size();
  const std::vector<double> ll = parzen_log_likelihood(be, samples, n, test, n_test, dim, sigmas);
  for (int f = 0; f <= folds; ++f) r.fold_first.push_back(int(int64_t(n_test) * f / folds));
  // Sum of each fold's rows per sigma; a fold's choice maximises the other folds' mean.
  std::vector<std::vector<double>> sum(folds, std::vector<double>(S, 0.0));
  for (int f = 0; f < folds; ++f)
    for (int i = r.fold_first[f]; i < r.fold_first[f + 1]; ++i)
      for (size_t k = 0; k < S; ++k) sum[f][k] += ll[size_t(i) * S + k];
  std::vector<double> score(static_cast<size_t>(n_test));
  for (int f = 0; f < folds; ++f) {
    const int rows = r.fold_first[f + 1] - r.fold_first[f];
    std::vector<double> mean(S);
    for (size_t k = 0; k < S; ++k) mean[k] = sum[f][k] / rows;
    r.fold_mean.push_back(mean);
    size_t best = 0;
    double best_other = -INFINITY;
    for (size_t k = 0; k < S; ++k) {
      double other = 0;
      for (int g = 0; g < folds; ++g)
        if (g != f) other += sum[g][k];
      other /= n_test - rows;
      if (other > best_other) best_other = other, best = k;
    }
    r.fold_sigma.push_back(sigmas[best]);
    for (int i = r.fold_first[f]; i < r.fold_first[f + 1]; ++i) score[i] = ll[size_t(i) * S + best];
  }
  r.fold_first.pop_back();
  double total = 0;
  for (double v : score) total += v;
  r.mean = total / n_test;
  double sq = 0;
  for (double v : score) sq += (v - r.mean) * (v - r.mean);
  r.std_error = std::sqrt(sq / n_test) / std::sqrt(double(n_test));
  return r;
}

}  // namespace gan
