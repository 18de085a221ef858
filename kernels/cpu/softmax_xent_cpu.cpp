/*
 * softmax_xent_cpu.cpp — reference softmax cross-entropy: one pass per row, sums in double.
 */
#include "kernels/cpu/softmax_xent_cpu.hpp"

#include <cmath>
#include <cstddef>

#include "engine/base/error.hpp"

namespace gan::cpu {

template <typename T>
XentResult softmax_xent(int rows, int classes, const T* logits, const int32_t* labels,
                        T* dlogits) {
  GAN_CHECK(rows >= 0 && classes >= 1, "bad softmax_xent shape " << rows << "x" << classes);
  XentResult r;
  double loss_sum = 0;
  for (int i = 0; i < rows; ++i) {
    const T* l = logits + static_cast<size_t>(i) * classes;
    const int32_t y = labels[i];
    GAN_CHECK(y >= 0 && y < classes, "label " << y << " of row " << i << " is outside 0.."
                                              << classes - 1);
    int arg = 0;
    for (int c = 1; c < classes; ++c)
      if (l[c] > l[arg]) arg = c;
    const double mx = l[arg];
    double sum = 0;
    for (int c = 0; c < classes; ++c) sum += std::exp(double(l[c]) - mx);
    const double lse = mx + std::log(sum);
    loss_sum += lse - double(l[y]);
    if (arg == y) ++r.correct;
    if (dlogits) {
      T* d = dlogits + static_cast<size_t>(i) * classes;
      for (int c = 0; c < classes; ++c)
        d[c] = T((std::exp(double(l[c]) - lse) - (c == y ? 1.0 : 0.0)) / rows);
    }
  }
  r.loss = rows > 0 ? loss_sum / rows : 0.0;
  return r;
}

template XentResult softmax_xent<float>(int, int, const float*, const int32_t*, float*);
template XentResult softmax_xent<double>(int, int, const double*, const int32_t*, double*);

}  // namespace gan::cpu
