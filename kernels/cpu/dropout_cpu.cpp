/*
 * dropout_cpu.cpp — reference inverted dropout: the mask of engine/dropout_mask.h applied
 * elementwise.
 */
#include "kernels/cpu/dropout_cpu.hpp"

#include "engine/dropout_mask.h"

namespace gan::cpu {

template <typename T>
void dropout_forward(size_t n, const DropoutDraw& m, T* v) {
  const uint64_t stream = dropout_stream(m.draw);
  const T scale = T(dropout_scale(m.p));
  for (size_t e = 0; e < n; ++e)
    v[e] = dropout_keep(m.seed, stream, m.layer, e, m.p) ? v[e] * scale : T(0);
}

template <typename T>
void dropout_backward(size_t n, const DropoutDraw& m, T* dy) {
  dropout_forward<T>(n, m, dy);  // the same mask and factor
}

template void dropout_forward<float>(size_t, const DropoutDraw&, float*);
template void dropout_forward<double>(size_t, const DropoutDraw&, double*);
template void dropout_backward<float>(size_t, const DropoutDraw&, float*);
template void dropout_backward<double>(size_t, const DropoutDraw&, double*);

}  // namespace gan::cpu
