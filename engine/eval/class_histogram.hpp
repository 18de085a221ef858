/*
 * class_histogram.hpp — what a classifier says about a set of generated digits.
 *
 * Each row of logits [n, classes] votes for its first maximal class. From the counts:
 *   covered        classes with at least one vote
 *   kl_to_uniform  KL(p_gen || uniform) = sum_c p_c log(p_c * classes), p_c = count_c / n,
 *                  with 0 log 0 = 0: 0 for a perfectly balanced set, log(classes) when every
 *                  sample is one class.
 */
#pragma once

#include <cstdint>
#include <vector>

namespace gan {

struct ClassHistogram {
  std::vector<int64_t> counts;  // [classes]
  int covered = 0;
  double kl_to_uniform = 0;
};

ClassHistogram class_histogram(const float* logits, int n, int classes);

}  // namespace gan
