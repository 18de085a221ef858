/*
 * philox.h — the counter-based random numbers of gan_cuda, identical on host and device.
 *
 * Philox4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3", SC'11):
 * a pure function of a 128-bit counter and a 64-bit key. Every random quantity in the
 * engine is addressed as (seed, stream, index): key = seed, counter = (block, stream),
 * where block = index / 4 picks a 4-word output and index % 4 the word in it. Because
 * nothing is sequential, the CPU and CUDA backends draw the same random words (integer
 * arithmetic only: philox_u32 and philox_uniform are bit-identical everywhere), a resumed
 * run continues the same streams, and a replayed CUDA graph draws fresh noise by reading
 * its stream number from device memory.
 *
 * Streams are tagged by purpose in their top byte (see Stream below).
 * Normals use Box-Muller evaluated in double and rounded to float. The double log, sin and
 * cos of CUDA's device library are not glibc's: either may be off by an ulp or two of
 * double, so a normal may differ by one ulp of float between the backends (only when the
 * double result lies that close to a float rounding boundary: rarely). The CPU backend
 * alone, and the CUDA backend alone, are deterministic to the bit.
 */
#pragma once

#include <cstdint>
#include <cmath>

#include "engine/host_device.h"

namespace gan {

struct Philox4 {
  uint32_t v[4];
};

GAN_HD uint32_t philox_mulhilo(uint32_t a, uint32_t b, uint32_t* hi) {
  const uint64_t p = static_cast<uint64_t>(a) * static_cast<uint64_t>(b);
  *hi = static_cast<uint32_t>(p >> 32);
  return static_cast<uint32_t>(p);
}

// Philox4x32 with 10 rounds; constants from Random123.
GAN_HD Philox4 philox4x32_10(uint64_t block, uint64_t stream, uint64_t key) {
  uint32_t c0 = static_cast<uint32_t>(block), c1 = static_cast<uint32_t>(block >> 32);
  uint32_t c2 = static_cast<uint32_t>(stream), c3 = static_cast<uint32_t>(stream >> 32);
  uint32_t k0 = static_cast<uint32_t>(key), k1 = static_cast<uint32_t>(key >> 32);
  for (int round = 0; round < 10; ++round) {
    uint32_t hi0, hi1;
    const uint32_t lo0 = philox_mulhilo(0xD2511F53u, c0, &hi0);
    const uint32_t lo1 = philox_mulhilo(0xCD9E8D57u, c2, &hi1);
    const uint32_t n0 = hi1 ^ c1 ^ k0, n1 = lo1, n2 = hi0 ^ c3 ^ k1, n3 = lo0;
    c0 = n0; c1 = n1; c2 = n2; c3 = n3;
    k0 += 0x9E3779B9u;
    k1 += 0xBB67AE85u;
  }
  return Philox4{{c0, c1, c2, c3}};
}

// The 32-bit word number `index` of a stream.
GAN_HD uint32_t philox_u32(uint64_t key, uint64_t stream, uint64_t index) {
  return philox4x32_10(index >> 2, stream, key).v[index & 3];
}

// Uniform float in [0, 1) with 24 random bits: exact on every platform.
GAN_HD float philox_uniform(uint64_t key, uint64_t stream, uint64_t index) {
  return static_cast<float>(philox_u32(key, stream, index) >> 8) * (1.0f / 16777216.0f);
}

// Standard normal number `index` of a stream. Pairs (2j, 2j+1) share one Box-Muller
// transform of words (2j, 2j+1) of the stream.
GAN_HD float philox_normal(uint64_t key, uint64_t stream, uint64_t index) {
  const uint64_t pair = index >> 1;
  const Philox4 r = philox4x32_10(pair >> 1, stream, key);
  const uint32_t a = r.v[(pair & 1) * 2], b = r.v[(pair & 1) * 2 + 1];
  const double u1 = (static_cast<double>(a) + 1.0) * (1.0 / 4294967296.0);  // (0, 1]
  const double u2 = static_cast<double>(b) * (1.0 / 4294967296.0);          // [0, 1)
  const double radius = sqrt(-2.0 * log(u1));
  const double angle = 6.283185307179586476925 * u2;
  return static_cast<float>((index & 1) ? radius * sin(angle) : radius * cos(angle));
}

// Purposes of streams (top byte); the low 56 bits number the stream within a purpose.
enum class Stream : uint64_t {
  Init = 1,          // weight initialisation: index = parameter tensor number
  Shuffle = 2,       // per-epoch permutation keys: index = epoch
  Noise = 3,         // training noise: index = draw number (see engine/trainer.hpp)
  FixedNoise = 4,    // the fixed noise batch of the sample grids
  Sample = 5,        // `gan_cuda sample`: index = user seed
  Eval = 6,          // evaluation noise
  Dropout = 7,       // D's dropout masks: index = draw number (engine/dropout_mask.h)
};

GAN_HD uint64_t stream_id(Stream purpose, uint64_t index) {
  return (static_cast<uint64_t>(purpose) << 56) | (index & 0x00FFFFFFFFFFFFFFull);
}

}  // namespace gan
