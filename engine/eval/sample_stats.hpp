/*
 * sample_stats.hpp — order statistics of timing samples: median, 10th and 90th percentiles.
 *
 * percentile(v, q) interpolates linearly between the closest ranks (NumPy's default,
 * statistics.quantiles' "inclusive" method): with v sorted, position q/100 * (n - 1).
 */
#pragma once

#include <cstddef>
#include <vector>

namespace gan {

struct SampleSummary {
  size_t n = 0;
  double median = 0, p10 = 0, p90 = 0, mean = 0, min = 0, max = 0;
};

// q in [0, 100]; v must be non-empty (gan::Error otherwise).
double percentile(std::vector<double> v, double q);
SampleSummary summarize(const std::vector<double>& v);

}  // namespace gan
