/*
 * test_philox.cpp — the counter-based generator of engine/philox.h.
 *
 * Known answers of Philox4x32-10 from Random123's kat_vectors, mapped onto our arguments:
 * counter words (c0, c1, c2, c3) = (block lo, block hi, stream lo, stream hi) and key words
 * (k0, k1) = (key lo, key hi); then the addressing of philox_u32 / philox_uniform /
 * philox_normal on top of it, the range of uniforms and normals, and stream_id tagging.
 */
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "engine/philox.h"

namespace {

uint64_t words(uint32_t lo, uint32_t hi) { return (uint64_t(hi) << 32) | lo; }

}  // namespace

TEST_CASE("philox: Random123 known-answer vectors of Philox4x32-10") {
  struct Kat {
    uint32_t ctr[4], key[2], out[4];
  };
  const Kat kats[] = {
      {{0, 0, 0, 0}, {0, 0}, {0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8}},
      {{0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff},
       {0xffffffff, 0xffffffff},
       {0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd}},
      {{0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344},
       {0xa4093822, 0x299f31d0},
       {0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1}},
  };
  for (int i = 0; i < 3; ++i) {
    const Kat& k = kats[i];
    const uint64_t block = words(k.ctr[0], k.ctr[1]), stream = words(k.ctr[2], k.ctr[3]);
    const uint64_t key = words(k.key[0], k.key[1]);
    const gan::Philox4 r = gan::philox4x32_10(block, stream, key);
    INFO("known-answer vector " << i);
    for (int w = 0; w < 4; ++w) CHECK(r.v[w] == k.out[w]);
  }
}

TEST_CASE("philox: word `index` of a stream is word index % 4 of block index / 4") {
  // Counter 0, key 0 through philox_u32: the first known-answer vector, word by word.
  const uint32_t kat0[] = {0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8};
  for (int i = 0; i < 4; ++i) CHECK(gan::philox_u32(0, 0, uint64_t(i)) == kat0[i]);

  const uint64_t key = words(0xa4093822, 0x299f31d0), stream = words(0x13198a2e, 0x03707344);
  for (uint64_t block : {uint64_t(0), uint64_t(1), uint64_t(12345), (uint64_t(1) << 40) + 3}) {
    const gan::Philox4 r = gan::philox4x32_10(block, stream, key);
    for (uint64_t w = 0; w < 4; ++w) CHECK(gan::philox_u32(key, stream, block * 4 + w) == r.v[w]);
  }
  // Key, stream and index all matter.
  CHECK(gan::philox_u32(1, 0, 0) != gan::philox_u32(0, 0, 0));
  CHECK(gan::philox_u32(0, 1, 0) != gan::philox_u32(0, 0, 0));
  CHECK(gan::philox_u32(0, 0, 4) != gan::philox_u32(0, 0, 0));
}

TEST_CASE("philox: uniforms are the top 24 bits scaled into 0 <= u < 1") {
  const uint64_t key = 99, stream = gan::stream_id(gan::Stream::Init, 3);
  double sum = 0;
  float lo = 1, hi = 0;
  const int n = 100000;
  for (int i = 0; i < n; ++i) {
    const float u = gan::philox_uniform(key, stream, uint64_t(i));
    const uint32_t bits = gan::philox_u32(key, stream, uint64_t(i));
    if (i < 64) CHECK(u == float(bits >> 8) / 16777216.0f);
    lo = std::min(lo, u);
    hi = std::max(hi, u);
    sum += u;
  }
  CHECK(lo >= 0.0f);
  CHECK(hi < 1.0f);
  CHECK(lo < 1e-3f);
  CHECK(hi > 0.999f);
  // Mean 1/2 within 5 standard errors (sd 1/sqrt(12 n)).
  CHECK(std::abs(sum / n - 0.5) < 5 / std::sqrt(12.0 * n));
  // The largest 24-bit value is the largest float below 1.
  CHECK(float(0xffffffu) / 16777216.0f < 1.0f);
}

TEST_CASE("philox: normals are finite, bounded by the Box-Muller radius, paired by word") {
  const uint64_t key = 5, stream = gan::stream_id(gan::Stream::Noise, 77);
  // u1 >= 2^-32, so |z| <= sqrt(-2 ln 2^-32) = 6.6604.
  const double max_radius = std::sqrt(2.0 * 32.0 * std::log(2.0));
  const int n = 20000;
  int not_finite = 0, too_large = 0, bad_radius = 0;
  for (int j = 0; j < n / 2; ++j) {
    const float a = gan::philox_normal(key, stream, uint64_t(2 * j));
    const float b = gan::philox_normal(key, stream, uint64_t(2 * j + 1));
    not_finite += !std::isfinite(a) + !std::isfinite(b);
    too_large += (std::abs(a) > max_radius) + (std::abs(b) > max_radius);
    // The pair shares the radius drawn from word 2j of the stream: a^2 + b^2 = -2 ln u1.
    const uint32_t w = gan::philox_u32(key, stream, uint64_t(2 * j));
    const double u1 = (double(w) + 1.0) / 4294967296.0;
    const double r2 = -2.0 * std::log(u1);
    const double got = double(a) * a + double(b) * b;
    bad_radius += !(std::abs(got - r2) <= 1e-6 * (1.0 + r2));
  }
  CHECK(not_finite == 0);
  CHECK(too_large == 0);
  CHECK(bad_radius == 0);
}

TEST_CASE("philox: stream_id puts the purpose in the top byte and keeps 56 index bits") {
  CHECK(gan::stream_id(gan::Stream::Init, 0) == (uint64_t(1) << 56));
  CHECK(gan::stream_id(gan::Stream::Noise, 5) == ((uint64_t(3) << 56) | 5));
  CHECK(gan::stream_id(gan::Stream::Eval, 0xFFFFFFFFFFFFFFFFull) ==
        ((uint64_t(6) << 56) | 0x00FFFFFFFFFFFFFFull));
  CHECK(gan::stream_id(gan::Stream::Shuffle, 1) != gan::stream_id(gan::Stream::Noise, 1));
}
