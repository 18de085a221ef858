/*
 * class_histogram.cpp — argmax votes, coverage and KL to the uniform distribution.
 */
#include "engine/eval/class_histogram.hpp"

#include <cmath>
#include <cstddef>

#include "engine/base/error.hpp"

namespace gan {

ClassHistogram class_histogram(const float* logits, int n, int classes) {
  GAN_CHECK(n >= 1 && classes >= 1, "a class histogram of " << n << " rows and " << classes
                                                            << " classes");
  ClassHistogram h;
  h.counts.assign(static_cast<size_t>(classes), 0);
  for (int r = 0; r < n; ++r) {
    const float* l = logits + static_cast<size_t>(r) * classes;
    int arg = 0;
    for (int c = 1; c < classes; ++c)
      if (l[c] > l[arg]) arg = c;
    ++h.counts[arg];
  }
  for (int64_t c : h.counts) {
    if (c == 0) continue;
    ++h.covered;
    const double p = double(c) / n;
    h.kl_to_uniform += p * std::log(p * classes);
  }
  return h;
}

}  // namespace gan
