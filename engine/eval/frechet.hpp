/*
 * frechet.hpp — Gaussian fits of feature sets and the Fréchet distance between them.
 *
 *   fit_gaussian: mean and unbiased covariance (divisor n - 1) of the rows of x [n, dim],
 *                 accumulated in double.
 *   frechet_distance(N(m1, C1), N(m2, C2)) = |m1 - m2|^2 + tr C1 + tr C2 - 2 tr sqrt(C1 C2)
 *                 (the FID formula, Heusel et al. 2017). tr sqrt(C1 C2) is computed through
 *                 symmetric matrices only: with S = sqrt(C1) (Jacobi, engine/eval/sym_eigen.hpp),
 *                 C1 C2 is similar to S C2 S, which is symmetric PSD, so
 *                 tr sqrt(C1 C2) = sum_i sqrt(max(eig_i(S C2 S), 0)).
 * The result is clamped at 0 (it can round to a tiny negative number for equal inputs).
 */
#pragma once

#include <vector>

namespace gan {

struct Gaussian {
  int dim = 0;
  std::vector<double> mean;  // [dim]
  std::vector<double> cov;   // [dim, dim] row-major
};

// Needs n >= 2 (gan::Error otherwise).
Gaussian fit_gaussian(const float* x, int n, int dim);

double frechet_distance(const Gaussian& a, const Gaussian& b);

}  // namespace gan
