/*
 * dropout_cpu.hpp — reference inverted dropout of a layer's output (engine/dropout_mask.h).
 *
 * Over y [rows, out] flattened to n = rows * out elements, with keep(e) the mask of
 * (seed, stream, layer, e) and scale = dropout_scale(p):
 *   forward:   y[e] = keep(e) ? y[e] * scale : 0
 *   backward:  dy[e] = keep(e) ? dy[e] * scale : 0   (before the activation's derivative)
 * The backend's dense_forward_dropout is dense_forward followed by dropout_forward; its
 * dense_backward_dropout is dropout_backward followed by dense_backward.
 */
#pragma once

#include <cstddef>
#include <cstdint>

namespace gan::cpu {

struct DropoutDraw {  // a mask with its draw number resolved
  float p = 0.0f;
  uint64_t seed = 0;
  int64_t draw = 0;
  uint32_t layer = 0;
};

template <typename T>
void dropout_forward(size_t n, const DropoutDraw& m, T* y);
template <typename T>
void dropout_backward(size_t n, const DropoutDraw& m, T* dy);

}  // namespace gan::cpu
