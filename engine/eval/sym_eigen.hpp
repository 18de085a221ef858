/*
 * sym_eigen.hpp — eigen-decomposition of a real symmetric matrix by cyclic Jacobi rotations.
 *
 * A [n, n] row-major, double; only symmetry is assumed (the lower triangle is read as the
 * mirror of the upper). Sweeps rotate every pair (p, q), p < q, with the stable rotation
 * t = sgn(theta) / (|theta| + sqrt(theta^2 + 1)), theta = (a_qq - a_pp) / (2 a_pq), until the
 * off-diagonal Frobenius norm is below 1e-13 of the whole norm (or 100 sweeps: gan::Error).
 * Result: A = V diag(values) V^T with V orthogonal; values ascending, vectors[:, i] (column i
 * of the row-major [n, n] matrix) the unit eigenvector of values[i]. About 10 sweeps of
 * O(n^3) each for the 128 x 128 covariances of the Fréchet distance.
 */
#pragma once

#include <vector>

namespace gan {

struct SymEigen {
  std::vector<double> values;   // [n], ascending
  std::vector<double> vectors;  // [n, n] row-major; column i belongs to values[i]
};

SymEigen sym_eigen(const std::vector<double>& a, int n);

// V diag(f(values)) V^T for a symmetric PSD matrix with f = sqrt of max(value, 0).
std::vector<double> sym_sqrt_psd(const std::vector<double>& a, int n);

}  // namespace gan
