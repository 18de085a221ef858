/*
 * pairwise_distance.cpp — chunked distance matrices: Backend::matmul for the products, the
 * norms and the reductions on the host.
 */
#include "engine/eval/pairwise_distance.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include "engine/backend_buffer.hpp"
#include "engine/base/error.hpp"

namespace gan {

namespace {

std::vector<double> row_norms(const float* x, int n, int dim) {
  std::vector<double> out(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) {
    double s = 0;
    const float* r = x + static_cast<size_t>(i) * dim;
    for (int j = 0; j < dim; ++j) s += double(r[j]) * r[j];
    out[i] = s;
  }
  return out;
}

}  // namespace

void for_each_distance_chunk(Backend& be, const float* a, int na, const float* b, int nb, int dim,
                             const DistanceChunkFn& fn) {
  GAN_CHECK(na >= 0 && nb >= 1 && dim >= 1, "distance sets of " << na << " and " << nb
                                                                 << " rows of " << dim);
  if (na == 0) return;
  const std::vector<double> norm_a = row_norms(a, na, dim), norm_b = row_norms(b, nb, dim);
  const int chunk = static_cast<int>(
      std::clamp<size_t>(kChunkFloats / static_cast<size_t>(nb), 1, static_cast<size_t>(na)));
  const size_t D = static_cast<size_t>(dim);
  BackendBuffer db(be, static_cast<size_t>(nb) * D * sizeof(float));
  BackendBuffer da(be, static_cast<size_t>(chunk) * D * sizeof(float));
  BackendBuffer dp(be, static_cast<size_t>(chunk) * nb * sizeof(float));
  be.upload(db.f(), b, static_cast<size_t>(nb) * D * sizeof(float));
  std::vector<float> d2(static_cast<size_t>(chunk) * nb);
  for (int first = 0; first < na; first += chunk) {
    const int rows = std::min(chunk, na - first);
    be.upload(da.f(), a + static_cast<size_t>(first) * D, static_cast<size_t>(rows) * D * sizeof(float));
    be.matmul(false, true, rows, nb, dim, 1.0f, da.f(), db.f(), 0.0f, dp.f());
    be.download(d2.data(), dp.f(), static_cast<size_t>(rows) * nb * sizeof(float));
    for (int i = 0; i < rows; ++i) {
      const double ni = norm_a[first + i];
      float* row = d2.data() + static_cast<size_t>(i) * nb;
      for (int j = 0; j < nb; ++j)
        row[j] = static_cast<float>(std::max(0.0, ni + norm_b[j] - 2.0 * double(row[j])));
    }
    fn(first, rows, d2.data());
  }
}

std::vector<float> nearest_distance(Backend& be, const float* a, int na, const float* b, int nb,
                                    int dim) {
  std::vector<float> out(static_cast<size_t>(na));
  for_each_distance_chunk(be, a, na, b, nb, dim, [&](int first, int rows, const float* d2) {
    for (int i = 0; i < rows; ++i) {
      const float* row = d2 + static_cast<size_t>(i) * nb;
      out[first + i] = std::sqrt(*std::min_element(row, row + nb));
    }
  });
  return out;
}

std::vector<float> kth_neighbour_distance(Backend& be, const float* a, int na, int dim, int k) {
  GAN_CHECK(k >= 1 && na > k, "the " << k << "-th neighbour of each of " << na
                                     << " points needs more than " << k << " points");
  std::vector<float> out(static_cast<size_t>(na)), others(static_cast<size_t>(na) - 1);
  for_each_distance_chunk(be, a, na, a, na, dim, [&](int first, int rows, const float* d2) {
    for (int i = 0; i < rows; ++i) {
      const float* row = d2 + static_cast<size_t>(i) * na;
      const int self = first + i;
      std::copy(row, row + self, others.begin());
      std::copy(row + self + 1, row + na, others.begin() + self);
      std::nth_element(others.begin(), others.begin() + (k - 1), others.end());
      out[self] = std::sqrt(others[k - 1]);
    }
  });
  return out;
}

std::vector<uint8_t> inside_any_ball(Backend& be, const float* a, int na, const float* b, int nb,
                                     int dim, const std::vector<float>& radius) {
  GAN_CHECK(radius.size() == static_cast<size_t>(nb), "one radius per ball");
  std::vector<float> r2(radius.size());
  for (size_t j = 0; j < radius.size(); ++j) r2[j] = radius[j] * radius[j];
  std::vector<uint8_t> out(static_cast<size_t>(na), 0);
  for_each_distance_chunk(be, a, na, b, nb, dim, [&](int first, int rows, const float* d2) {
    for (int i = 0; i < rows; ++i) {
      const float* row = d2 + static_cast<size_t>(i) * nb;
      uint8_t in = 0;
      for (int j = 0; j < nb && !in; ++j) in = row[j] <= r2[j];
      out[first + i] = in;
    }
  });
  return out;
}

double median(std::vector<float> v) {
  GAN_CHECK(!v.empty(), "the median of nothing");
  const size_t mid = v.size() / 2;
  std::nth_element(v.begin(), v.begin() + mid, v.end());
  const double hi = v[mid];
  if (v.size() % 2) return hi;
  const double lo = *std::max_element(v.begin(), v.begin() + mid);
  return 0.5 * (lo + hi);
}

}  // namespace gan
