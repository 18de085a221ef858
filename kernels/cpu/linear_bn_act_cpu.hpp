/*
 * linear_bn_act_cpu.hpp — reference Linear (+ BatchNorm1d) + activation, forward and backward.
 *
 * Layouts: x [rows, in], W [out, in] (nn.Linear), z and y [rows, out], all row-major.
 *   forward:   z = x W^T + b;  BN (train): mean, var = batch statistics of z (biased var),
 *              rstd = 1/sqrt(var + eps), h = gamma (z - mean) rstd + beta,
 *              running = (1 - momentum) running + momentum * stat (var unbiased; skipped
              when running_mean is null);
 *              BN (eval): h = gamma (z - running_mean) / sqrt(running_var + eps) + beta;
 *              no BN: h = z;   y = act(h).
 *   backward:  g = dy * act'(y) (derivatives read from y), then BN backward
 *              dz = gamma rstd / rows * (rows g - sum_rows g - xhat sum_rows(g xhat)),
 *              dgamma = sum_rows g xhat, dbeta = sum_rows g, db = sum_rows dz,
 *              dW = dz^T x, dx = dz W.
 * Column reductions accumulate in double. Templated on float (the backend) and double
 * (finite-difference gradient tests).
 */
#pragma once

#include "engine/backend.hpp"

namespace gan::cpu {

template <typename T>
struct DenseRef {  // one layer's tensors; null where the layer or the call has none
  const T* W = nullptr;
  const T* b = nullptr;
  const T* gamma = nullptr;
  const T* beta = nullptr;
  T* running_mean = nullptr;
  T* running_var = nullptr;
  T* z = nullptr;     // saved pre-BN linear output [rows, out]
  T* mean = nullptr;  // saved batch mean [out]
  T* rstd = nullptr;  // saved 1/sqrt(var + eps) [out]
};

template <typename T>
struct DenseGradRef {
  T* dW = nullptr;
  T* db = nullptr;
  T* dgamma = nullptr;
  T* dbeta = nullptr;
};

template <typename T>
void dense_forward(const DenseDesc& d, Mode mode, int rows, const T* x, const DenseRef<T>& p, T* y);

// dy [rows, out] is overwritten with dz.
template <typename T>
void dense_backward(const DenseDesc& d, int rows, const T* x, const DenseRef<T>& p, const T* y,
                    T* dy, const DenseGradRef<T>& g, T* dx);

// The row counts both CPU variants refuse (the CUDA backend refuses the same): BatchNorm in
// training mode needs the batch statistics of at least 2 rows, forward and backward.
void check_forward_rows(const DenseDesc& d, Mode mode, int rows);
void check_backward_rows(const DenseDesc& d, int rows);

template <typename T>
T activate(Act a, T h, float slope);
// d act / d h, expressed through the output y = act(h).
template <typename T>
T activation_grad_from_output(Act a, T y, float slope);

}  // namespace gan::cpu
