/*
 * sample_stats.cpp — percentiles by linear interpolation between the closest ranks.
 */
#include "engine/eval/sample_stats.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "engine/base/error.hpp"

namespace gan {

double percentile(std::vector<double> v, double q) {
  GAN_CHECK(!v.empty(), "percentile of no samples");
  GAN_CHECK(q >= 0 && q <= 100, "percentile " << q << " is outside 0..100");
  std::sort(v.begin(), v.end());
  const double pos = q / 100.0 * static_cast<double>(v.size() - 1);
  const size_t lo = static_cast<size_t>(std::floor(pos));
  const size_t hi = std::min(lo + 1, v.size() - 1);
  return v[lo] + (pos - static_cast<double>(lo)) * (v[hi] - v[lo]);
}

SampleSummary summarize(const std::vector<double>& v) {
  GAN_CHECK(!v.empty(), "summary of no samples");
  SampleSummary s;
  s.n = v.size();
  s.median = percentile(v, 50);
  s.p10 = percentile(v, 10);
  s.p90 = percentile(v, 90);
  s.mean = std::accumulate(v.begin(), v.end(), 0.0) / static_cast<double>(v.size());
  s.min = *std::min_element(v.begin(), v.end());
  s.max = *std::max_element(v.begin(), v.end());
  return s;
}

}  // namespace gan
