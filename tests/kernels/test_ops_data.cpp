/*
 * test_ops_data.cpp — the reference data pipeline: epoch shuffle, batch gather, noise.
 *
 * Shuffle: a permutation, deterministic, different across epochs and seeds, equal to an
 * independent stable sort by philox_u32 keys (ties included). Gather: /255 conversion and
 * the rows perm[(batch_cursor + slot) * rows + r]. Noise: deterministic, addressed by
 * stream k = counter * k_mul + k_add read at call time, and standard normal in its moments.
 */
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <numeric>
#include <utility>
#include <vector>

#include "engine/backend.hpp"
#include "kernels/cpu/cpu_backend.hpp"
#include "kernels/cpu/data_pipeline_cpu.hpp"
#include "engine/philox.h"

namespace {

using gan::StepCounters;
using gan::Stream;

std::vector<int32_t> shuffled(int n, uint64_t seed, uint64_t epoch) {
  std::vector<int32_t> perm(size_t(n), -1);
  gan::cpu::shuffle(perm.data(), n, seed, epoch);
  return perm;
}

}  // namespace

TEST_CASE("data: shuffle is a deterministic permutation that changes with epoch and seed") {
  auto be = gan::make_cpu_backend();
  const int n = 1000;
  StepCounters c;
  c.batch_cursor = 17;
  std::vector<int32_t> perm(n, -1);
  be->shuffle(perm.data(), n, 42, 3, &c);
  CHECK(c.batch_cursor == 0);

  std::vector<int32_t> sorted = perm;
  std::sort(sorted.begin(), sorted.end());
  std::vector<int32_t> iota(n);
  std::iota(iota.begin(), iota.end(), 0);
  CHECK(sorted == iota);
  CHECK(perm != iota);

  CHECK(shuffled(n, 42, 3) == perm);
  const std::vector<int32_t> other_epoch = shuffled(n, 42, 4), other_seed = shuffled(n, 43, 3);
  CHECK(other_epoch != perm);
  CHECK(other_seed != perm);
  // Not merely different somewhere: most positions differ.
  int same_epoch = 0, same_seed = 0;
  for (int i = 0; i < n; ++i) {
    same_epoch += other_epoch[i] == perm[i];
    same_seed += other_seed[i] == perm[i];
  }
  CHECK(same_epoch < 20);
  CHECK(same_seed < 20);

  // Edge sizes.
  CHECK(shuffled(1, 42, 0) == std::vector<int32_t>{0});
  std::vector<int32_t> none;
  gan::cpu::shuffle(none.data(), 0, 42, 0);
}

TEST_CASE("data: shuffle equals a stable sort by philox_u32 keys, ties in index order") {
  // 2^18 32-bit keys hold a few equal pairs (about n^2 / 2^33 = 8 expected).
  const int n = 1 << 18;
  const uint64_t seed = 7, epoch = 2;
  const uint64_t stream = gan::stream_id(Stream::Shuffle, epoch);
  std::vector<std::pair<uint32_t, int32_t>> keyed(n);
  for (int i = 0; i < n; ++i) keyed[i] = {gan::philox_u32(seed, stream, uint64_t(i)), i};
  std::sort(keyed.begin(), keyed.end());  // (key, index): what a stable sort by key gives
  int ties = 0;
  for (int i = 1; i < n; ++i) ties += keyed[i].first == keyed[i - 1].first;
  REQUIRE(ties > 0);  // so the tie rule below is exercised
  const std::vector<int32_t> perm = shuffled(n, seed, epoch);
  size_t first_bad = perm.size();
  for (int i = 0; i < n && first_bad == perm.size(); ++i)
    if (perm[i] != keyed[i].second) first_bad = size_t(i);
  INFO("ties=" << ties << " first mismatch at " << first_bad);
  CHECK(first_bad == perm.size());
}

TEST_CASE("data: gather converts /255 and reads row perm of (batch_cursor + slot) * rows + r") {
  auto be = gan::make_cpu_backend();
  const int count = 40, dim = 7, rows = 3;
  std::vector<uint8_t> images(size_t(count) * dim);
  for (size_t i = 0; i < images.size(); ++i) images[i] = uint8_t((i * 37 + 11) % 256);
  images[5 * dim] = 0;
  images[5 * dim + 1] = 255;
  std::vector<int32_t> perm(count);
  std::iota(perm.begin(), perm.end(), 0);
  std::reverse(perm.begin(), perm.end());
  perm[(2 + 1) * rows + 1] = 5;  // the row holding 0 and 255

  StepCounters c;
  c.batch_cursor = 2;
  std::vector<float> out(size_t(rows) * dim, -1.f);
  be->gather_batch(out.data(), images.data(), dim, perm.data(), &c, 1, rows);
  for (int r = 0; r < rows; ++r) {
    const int src = perm[(2 + 1) * rows + r];
    for (int k = 0; k < dim; ++k) {
      INFO("row " << r << " col " << k);
      CHECK(out[r * dim + k] == float(images[size_t(src) * dim + k]) / 255.0f);
    }
  }
  CHECK(out[1 * dim + 0] == 0.0f);
  CHECK(out[1 * dim + 1] == 1.0f);

  // Slot 0 at the same cursor reads the batch before.
  be->gather_batch(out.data(), images.data(), dim, perm.data(), &c, 0, rows);
  CHECK(out[0] == float(images[size_t(perm[2 * rows]) * dim]) / 255.0f);
  CHECK(out[2 * dim + 6] == float(images[size_t(perm[2 * rows + 2]) * dim + 6]) / 255.0f);

  // Every byte value converts to v / 255 in float, monotonically, 0 -> 0 and 255 -> 1.
  std::vector<uint8_t> all(256);
  std::iota(all.begin(), all.end(), 0);
  const std::vector<int32_t> one{0};
  std::vector<float> row(256);
  gan::cpu::gather_batch(row.data(), all.data(), 256, one.data(), 0, 1);
  for (int v = 0; v < 256; ++v) CHECK(row[v] == float(v) / 255.0f);
  CHECK(row[0] == 0.0f);
  CHECK(row[255] == 1.0f);
  CHECK(std::is_sorted(row.begin(), row.end()));
}

TEST_CASE("data: noise is deterministic, stream k = counter * k_mul + k_add read at call time") {
  auto be = gan::make_cpu_backend();
  const size_t n = 64;
  const uint64_t seed = 1234;
  auto direct = [&](Stream purpose, uint64_t k) {
    std::vector<float> v(n);
    for (size_t i = 0; i < n; ++i) v[i] = gan::philox_normal(seed, gan::stream_id(purpose, k), i);
    return v;
  };
  int64_t counter = 5;
  std::vector<float> a(n), b(n);
  be->noise(a.data(), n, seed, Stream::Noise, &counter, 3, 1);  // k = 16
  be->noise(b.data(), n, seed, Stream::Noise, &counter, 3, 1);
  CHECK(a == b);
  CHECK(a == direct(Stream::Noise, 16));

  counter = 6;  // read when the op runs, not when it was set up
  be->noise(b.data(), n, seed, Stream::Noise, &counter, 3, 1);
  CHECK(b == direct(Stream::Noise, 19));
  CHECK(b != a);

  be->noise(b.data(), n, seed, Stream::Noise, nullptr, 3, 16);  // no counter: k = k_add
  CHECK(b == a);
  be->noise(b.data(), n, seed, Stream::FixedNoise, nullptr, 0, 16);
  CHECK(b == direct(Stream::FixedNoise, 16));
  CHECK(b != a);
  be->noise(b.data(), n, seed + 1, Stream::Noise, &counter, 3, -2);  // k = 16, other seed
  CHECK(b != a);

  // A prefix of a longer draw is the shorter draw.
  std::vector<float> longer(3 * n + 1, -7.0f);  // one past the draw: must stay untouched
  gan::cpu::noise(longer.data(), 3 * n, seed, gan::stream_id(Stream::Noise, 16));
  CHECK(std::equal(a.begin(), a.end(), longer.begin()));
  CHECK(longer.back() == -7.0f);
}

TEST_CASE("data: 1e5 noise draws have the moments of a standard normal") {
  const size_t n = 100000;
  std::vector<float> z(n);
  gan::cpu::noise(z.data(), n, 2014, gan::stream_id(Stream::Noise, 0));
  double s1 = 0, s2 = 0, s4 = 0;
  size_t within1 = 0, not_finite = 0;
  for (float v : z) {
    not_finite += !std::isfinite(v);
    s1 += v;
    s2 += double(v) * v;
    s4 += double(v) * v * v * v;
    within1 += std::abs(v) < 1.0f;
  }
  REQUIRE(not_finite == 0);
  const double mean = s1 / n, var = s2 / n - mean * mean, kurt = s4 / n;
  // Bounds at ~5 standard errors: mean 1/sqrt(n), var sqrt(2/n), E z^4 sqrt(96/n),
  // P(|z| < 1) = 0.682689 with sqrt(p (1 - p) / n).
  CHECK(std::abs(mean) < 5 * std::sqrt(1.0 / n));
  CHECK(std::abs(var - 1.0) < 5 * std::sqrt(2.0 / n));
  CHECK(std::abs(kurt - 3.0) < 5 * std::sqrt(96.0 / n));
  const double p = 0.682689492;
  CHECK(std::abs(double(within1) / n - p) < 5 * std::sqrt(p * (1 - p) / n));
}
