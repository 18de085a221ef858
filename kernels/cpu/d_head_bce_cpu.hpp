/*
 * d_head_bce_cpu.hpp — reference discriminator head fused with the GAN losses.
 *
 * Rows of x [n_real + n_fake, in]: real rows first. Logit l = x w^T + b (w is [1, in]).
 * With log D = -softplus(-l) and log(1 - D) = -softplus(l) (softplus(t) = max(t, 0) +
 * log1p(exp(-|t|)), never overflowing):
 *   DStep:           d_loss = mean_real softplus(-l) + mean_fake softplus(l) = -V(D, G)
 *                    dL/dl = (sigmoid(l) - 1) / n_real on real rows, sigmoid(l) / n_fake on fake
 *   GNonSaturating:  g_loss = mean softplus(-l)         dL/dl = (sigmoid(l) - 1) / n_fake
 *   GMinimax:        g_loss = -mean softplus(l)         dL/dl = -sigmoid(l) / n_fake
 * then dw = sum_rows dL/dl x, db = sum_rows dL/dl, dx = dL/dl w. Sums in double.
 * One-sided label smoothing (real_label L, DStep only): the real rows' BCE target is L, so
 *   d_loss = mean_real [L softplus(-l) + (1 - L) softplus(l)] + mean_fake softplus(l),
 *   dL/dl = (sigmoid(l) - L) / n_real on real rows; value stays V(D,G) = -(mean_real
 *   softplus(-l) + mean_fake softplus(l)). L = 1 takes the unsmoothed expressions exactly.
 */
#pragma once

#include "engine/backend.hpp"

namespace gan::cpu {

template <typename T>
T softplus(T t);
template <typename T>
T sigmoid(T t);

template <typename T>
struct HeadResult {  // the scalars of StepMetrics, in T
  T d_loss = 0, d_real = 0, d_fake = 0, value = 0, g_loss = 0, g_fake = 0;
};

// dw, db, dx may be null. Returns the scalars; the caller stores the mode's fields.
template <typename T>
HeadResult<T> d_head(int in, HeadMode mode, int n_real, int n_fake, const T* x, const T* w,
                     const T* b, T* dw, T* db, T* dx, double real_label = 1.0);

}  // namespace gan::cpu
