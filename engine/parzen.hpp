/*
 * parzen.hpp — Parzen-window (Gaussian kernel density) log-likelihood, the protocol of
 * Goodfellow et al. (2014), Table 1.
 *
 * The density fitted on n samples s_i (pixels in [0, 1], d = dim) with bandwidth sigma:
 *   log p(x) = logsumexp_i(-|x - s_i|^2 / (2 sigma^2)) - log n - (d / 2) log(2 pi sigma^2)
 * Squared distances come from engine/pairwise_distance.hpp (one Backend::matmul per chunk);
 * the log-sum-exp runs on the host in double, shifted by the row maximum (stable).
 *
 * parzen_evaluate: sigma is the point of `sigmas` (default logspace(-1, 0, 10), as in the
 * paper's code) with the highest mean log-likelihood over the validation rows; the result
 * is the mean over the test rows and its standard error std / sqrt(m) (std with divisor m,
 * numpy's default, as in the paper's code), in nats.
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
  std::vector<double> sigmas;           // the grid searched
  std::vector<double> validation_mean;  // mean log-likelihood of the validation rows per sigma
  double sigma = 0;                     // the chosen bandwidth
  double mean = 0, std_error = 0;       // over the test rows, at `sigma`
  int n_samples = 0, n_validation = 0, n_test = 0;
};

ParzenResult parzen_evaluate(Backend& be, const float* samples, int n, const float* validation,
                             int n_validation, const float* test, int n_test, int dim,
                             const std::vector<double>& sigmas = parzen_sigma_grid());

}  // namespace gan
