/*
 * softmax_xent_cpu.hpp — reference softmax cross-entropy head with accuracy (the digit
 * classifier's loss).
 *
 * logits [rows, classes] row-major, labels [rows] in 0..classes-1. Per row r, with
 * lse_r = max_c l[r,c] + log sum_c exp(l[r,c] - max_c l[r,c]) (never overflowing):
 *   loss    = mean_r (lse_r - l[r, y_r])                    (mean cross-entropy, in double)
 *   correct = #{r : argmax_c l[r,c] == y_r}                  (the first maximum on ties)
 *   dlogits = (softmax(l[r,:]) - onehot(y_r)) / rows         (only when dlogits is non-null)
 * A label outside 0..classes-1 is a gan::Error.
 */
#pragma once

#include <cstdint>

namespace gan::cpu {

struct XentResult {
  double loss = 0;  // mean cross-entropy over the rows
  int correct = 0;  // rows whose first maximal logit is the label
};

template <typename T>
XentResult softmax_xent(int rows, int classes, const T* logits, const int32_t* labels, T* dlogits);

}  // namespace gan::cpu
