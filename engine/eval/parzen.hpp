/*
 * parzen.hpp — Parzen-window (Gaussian kernel density) log-likelihood, the protocol of
 * Goodfellow et al. (2014), Table 1.
 *
 * The density fitted on n samples s_i (pixels in [0, 1], d = dim) with bandwidth sigma:
 *   log p(x) = logsumexp_i(-|x - s_i|^2 / (2 sigma^2)) - log n - (d / 2) log(2 pi sigma^2)
 * Squared distances come from engine/eval/pairwise_distance.hpp (one Backend::matmul per chunk);
 * the log-sum-exp runs on the host in double, shifted by the row maximum (stable).
 *
 * parzen_evaluate: the bandwidth is chosen on held-out rows by cross-fitting on the test
 * set. The m test rows are cut into `folds` contiguous parts; every part is scored at the
 * point of `sigmas` (default logspace(-1, 0, 10), as in the paper's code) with the highest
 * mean log-likelihood over the *other* parts, so no row's score comes from a bandwidth chosen
 * on that row, and every test row is scored. The result is the mean over all m rows and its
 * standard error std / sqrt(m) (std with divisor m, numpy's default, as in the paper's code),
 * in nats. (The paper chose sigma on a validation split held out from GAN training; a GAN
 * trained on the complete MNIST training set leaves no such split, and the test set is the
 * only real data it has not seen.)
 */
#pragma once

#include <vector>

#include "engine/backend.hpp"

namespace gan {

std::vector<double> parzen_sigma_grid();  // 10^(-1 + i/9), i = 0..9

// log p(x_r) for each of the m rows of x and each bandwidth: [m, sigmas.size()] row-major.
std::vector<double> parzen_log_likelihood(Backend& be, const float* samples, int n,
                                          const float* x, int m, int dim,
                                          const std::vector<double>& sigmas);

struct ParzenResult {
  std::vector<double> sigmas;                  // the grid searched
  std::vector<std::vector<double>> fold_mean;  // [fold][sigma]: mean log-likelihood of its rows
  std::vector<double> fold_sigma;              // the bandwidth each fold was scored at
  std::vector<int> fold_first;                 // each fold's first row (the last ends at m)
  double mean = 0, std_error = 0;              // over all test rows, each at its fold's sigma
  int n_samples = 0, n_test = 0;
};

ParzenResult parzen_evaluate(Backend& be, const float* samples, int n, const float* test,
                             int n_test, int dim, const std::vector<double>& sigmas = parzen_sigma_grid(),
                             int folds = 2);

}  // namespace gan
