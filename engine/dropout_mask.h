/*
 * dropout_mask.h — the inverted-dropout mask of D's hidden layers, identical on host and device.
 *
 * A mask element is addressed by (seed, draw, layer, element): draw numbers a pass through D
 * within the run (the trainer uses the noise draw number iteration * (k + 1) + j, read from
 * backend memory at run time so that a replayed CUDA graph draws fresh masks), layer is the
 * hidden layer's index in D, element is r * width + c of the layer's [rows, width] output.
 * Element e of layer L of draw t is kept when
 *   philox_uniform(seed, stream_id(Dropout, t), (L << 32) | e) >= p
 * (24-bit uniforms: exact on every platform), and a kept value is multiplied by
 * scale = 1 / (1 - p), rounded to float once on the host. So the CPU and CUDA backends drop
 * the same elements, and forward and backward (which recomputes the mask) agree.
 */
#pragma once

#include <cstdint>

#include "engine/philox.h"

namespace gan {

GAN_HD uint64_t dropout_stream(int64_t draw) {
  return stream_id(Stream::Dropout, static_cast<uint64_t>(draw));
}

GAN_HD bool dropout_keep(uint64_t seed, uint64_t stream, uint32_t layer, uint64_t element,
                         float p) {
  return philox_uniform(seed, stream, (static_cast<uint64_t>(layer) << 32) | element) >= p;
}

// 1 / (1 - p) rounded to float: the factor of a kept element.
inline float dropout_scale(float p) { return static_cast<float>(1.0 / (1.0 - static_cast<double>(p))); }

}  // namespace gan
