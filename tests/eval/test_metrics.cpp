/*
 * test_metrics.cpp — the metrics of the evaluation on constructed cases, on the CPU
 * backend: chunked distances against brute force in double (several chunks), nearest and
 * k-th neighbour distances, ball membership, precision/recall of equal, disjoint and
 * half-covering sets, the Parzen log-likelihood against a direct double computation and
 * its sigma selection, and the class histogram (coverage, KL to uniform, ties).
 */
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "engine/eval/class_histogram.hpp"
#include "engine/base/error.hpp"
#include "engine/eval/pairwise_distance.hpp"
#include "engine/eval/parzen.hpp"
#include "engine/eval/precision_recall.hpp"
#include "kernels/cpu/cpu_backend.hpp"
#include "tests/support/test_util.hpp"

namespace {

using namespace gan;
using namespace gan::test;

double d2_ref(const float* a, const float* b, int dim) {
  double s = 0;
  for (int k = 0; k < dim; ++k) s += (double(a[k]) - b[k]) * (double(a[k]) - b[k]);
  return s;
}

TEST_CASE("distance chunks equal brute force, over several chunks") {
  const auto be = make_cpu_backend();
  Rng rng(21);
  const int dim = 3, na = 3000, nb = 6000;  // 2^24 / 6000 = 2796 rows per chunk: 2 chunks
  const std::vector<float> a = random_vector<float>(rng, size_t(na) * dim, 0, 1);
  const std::vector<float> b = random_vector<float>(rng, size_t(nb) * dim, 0, 1);
  int chunks = 0, next_row = 0;
  double worst = 0;
  for_each_distance_chunk(*be, a.data(), na, b.data(), nb, dim,
                          [&](int first, int rows, const float* d2) {
                            ++chunks;
                            CHECK(first == next_row);
                            next_row = first + rows;
                            for (int i = 0; i < rows; i += 97)
                              for (int j = 0; j < nb; j += 13) {
                                const double want = d2_ref(&a[(first + i) * dim], &b[j * dim], dim);
                                worst = std::max(worst, std::abs(d2[size_t(i) * nb + j] - want));
                              }
                          });
  CHECK(chunks == 2);
  CHECK(next_row == na);
  CHECK(worst < 1e-5);
}

TEST_CASE("nearest, k-th neighbour and ball queries against brute force") {
  const auto be = make_cpu_backend();
  Rng rng(4);
  const int dim = 5, na = 40, nb = 30, k = 3;
  const std::vector<float> a = random_vector<float>(rng, na * dim), b = random_vector<float>(rng, nb * dim);
  const std::vector<float> nn = nearest_distance(*be, a.data(), na, b.data(), nb, dim);
  const std::vector<float> kth = kth_neighbour_distance(*be, a.data(), na, dim, k);
  std::vector<float> radius(nb);
  for (int j = 0; j < nb; ++j) radius[j] = static_cast<float>(rng.uniform(0.5, 1.5));
  const std::vector<uint8_t> in = inside_any_ball(*be, a.data(), na, b.data(), nb, dim, radius);
  int inside = 0;
  for (int i = 0; i < na; ++i) {
    double best = 1e300;
    std::vector<double> others;
    bool want_in = false;
    for (int j = 0; j < nb; ++j) {
      const double d = std::sqrt(d2_ref(&a[i * dim], &b[j * dim], dim));
      best = std::min(best, d);
      want_in = want_in || d <= radius[j];
    }
    for (int j = 0; j < na; ++j)
      if (j != i) others.push_back(std::sqrt(d2_ref(&a[i * dim], &a[j * dim], dim)));
    std::sort(others.begin(), others.end());
    CHECK(nn[i] == doctest::Approx(best).epsilon(1e-5));
    CHECK(kth[i] == doctest::Approx(others[k - 1]).epsilon(1e-5));
    CHECK(bool(in[i]) == want_in);
    inside += want_in;
  }
  CHECK(inside > 0);  // the radii make both outcomes occur
  CHECK(inside < na);
  CHECK_THROWS_AS(kth_neighbour_distance(*be, a.data(), 3, dim, 3), Error);
}

TEST_CASE("median of odd and even counts") {
  CHECK(median({3, 1, 2}) == 2.0);
  CHECK(median({4, 1, 3, 2}) == 2.5);
  CHECK_THROWS_AS(median({}), Error);
}

TEST_CASE("precision and recall: equal sets, disjoint sets, one of two clusters") {
  const auto be = make_cpu_backend();
  Rng rng(17);
  const int dim = 4, n = 200;
  auto cluster = [&](int count, double centre) {
    std::vector<float> x(size_t(count) * dim);
    for (float& v : x) v = static_cast<float>(centre + rng.uniform(-1, 1));
    return x;
  };
  std::vector<float> real = cluster(n / 2, 0.0), far_cluster = cluster(n / 2, 50.0);
  real.insert(real.end(), far_cluster.begin(), far_cluster.end());

  const PrecisionRecall same = precision_recall(*be, real.data(), n, real.data(), n, dim, 3);
  CHECK(same.precision == 1.0);
  CHECK(same.recall == 1.0);
  CHECK(same.k == 3);

  const std::vector<float> away = cluster(n, 500.0);
  const PrecisionRecall disjoint = precision_recall(*be, real.data(), n, away.data(), n, dim, 3);
  CHECK(disjoint.precision == 0.0);
  CHECK(disjoint.recall == 0.0);

  // Fresh points of the first cluster only: precise, but they recall about half the reals.
  const std::vector<float> half = cluster(n, 0.0);
  const PrecisionRecall pr = precision_recall(*be, real.data(), n, half.data(), n, dim, 3);
  CHECK(pr.precision > 0.9);
  CHECK(pr.recall > 0.4);
  CHECK(pr.recall <= 0.5);
}

// log p(x) by the definition, in double, one exp at a time.
double parzen_ref(const std::vector<float>& s, int n, const float* x, int dim, double sigma) {
  double mx = -1e300;
  std::vector<double> e(n);
  for (int i = 0; i < n; ++i) {
    e[i] = -d2_ref(x, &s[i * dim], dim) / (2 * sigma * sigma);
    mx = std::max(mx, e[i]);
  }
  double sum = 0;
  for (double v : e) sum += std::exp(v - mx);
  return mx + std::log(sum) - std::log(double(n)) -
         0.5 * dim * std::log(2 * 3.14159265358979323846 * sigma * sigma);
}

TEST_CASE("Parzen log-likelihood equals the definition computed in double") {
  const auto be = make_cpu_backend();
  Rng rng(6);
  const int n = 7, m = 5, dim = 6;
  const std::vector<float> s = random_vector<float>(rng, n * dim, 0, 1);
  const std::vector<float> x = random_vector<float>(rng, m * dim, 0, 1);
  const std::vector<double> sigmas = {0.05, 0.3, 1.0};
  const std::vector<double> ll = parzen_log_likelihood(*be, s.data(), n, x.data(), m, dim, sigmas);
  REQUIRE(ll.size() == size_t(m) * sigmas.size());
  // Distances come from float products: an error of about 1e-6 in |x - s|^2 becomes
  // 1e-6 / (2 sigma^2) in the exponent.
  for (int r = 0; r < m; ++r)
    for (size_t k = 0; k < sigmas.size(); ++k) {
      const double want = parzen_ref(s, n, &x[r * dim], dim, sigmas[k]);
      const double got = ll[r * sigmas.size() + k];
      CAPTURE(sigmas[k]);
      CHECK(std::abs(got - want) <= 1e-6 / (2 * sigmas[k] * sigmas[k]) + 1e-9 * std::abs(want));
    }
  // sigma = 0.05 puts the x far out in the tails (exponents around -100): still finite.
  for (double v : ll) CHECK(std::isfinite(v));
  CHECK_THROWS_AS(parzen_log_likelihood(*be, s.data(), n, x.data(), m, dim, {0.0}), Error);
}

TEST_CASE("Parzen evaluation: the grid, sigma cross-fitted on held-out folds, mean and error") {
  const std::vector<double> grid = parzen_sigma_grid();
  REQUIRE(grid.size() == 10);
  CHECK(grid.front() == doctest::Approx(0.1));
  CHECK(grid.back() == doctest::Approx(1.0));
  for (size_t i = 1; i < grid.size(); ++i)
    CHECK(grid[i] / grid[i - 1] == doctest::Approx(std::pow(10.0, 1.0 / 9)));

  const auto be = make_cpu_backend();
  Rng rng(30);
  const int n = 300, dim = 8, nt = 61;  // 61 test rows: folds of 20, 20, 21 with 3 folds
  // "Data" near the corners of a cube, samples equal to them or uniform noise.
  std::vector<float> data(size_t(n) * dim);
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < dim; ++j)
      data[i * dim + j] = static_cast<float>(((i >> (j % 4)) & 1) * 0.8 + rng.uniform(0, 0.2));
  const std::vector<float> noise = random_vector<float>(rng, size_t(n) * dim, 0, 1);
  // Test rows: the first nt data rows; and the same with the second half shifted away from
  // the samples, so that the two halves prefer different bandwidths.
  const std::vector<float> clean(data.begin(), data.begin() + size_t(nt) * dim);
  std::vector<float> shifted = clean;
  for (size_t i = size_t(nt / 2) * dim; i < shifted.size(); ++i) shifted[i] += 0.35f;
  const std::vector<const std::vector<float>*> test_sets = {&clean, &shifted};
  for (int folds : {2, 3}) for (const std::vector<float>* t : test_sets) {
    CAPTURE(folds);
    CAPTURE(t == &shifted);
    const std::vector<float>& test = *t;
    const ParzenResult good = parzen_evaluate(*be, data.data(), n, test.data(), nt, dim, grid, folds);
    const ParzenResult bad = parzen_evaluate(*be, noise.data(), n, test.data(), nt, dim, grid, folds);
    if (t == &clean) CHECK(good.mean > bad.mean + 1.0);
    for (const ParzenResult* r : {&good, &bad}) {
      const float* fit = r == &good ? data.data() : noise.data();
      // The reference: every row at every sigma, folds cut by hand.
      const std::vector<double> ll = parzen_log_likelihood(*be, fit, n, test.data(), nt, dim, grid);
      REQUIRE(r->fold_first.size() == size_t(folds));
      REQUIRE(r->fold_sigma.size() == size_t(folds));
      REQUIRE(r->fold_mean.size() == size_t(folds));
      std::vector<double> score;
      for (int f = 0; f < folds; ++f) {
        CHECK(r->fold_first[f] == nt * f / folds);
        const int lo = nt * f / folds, hi = nt * (f + 1) / folds;
        // The chosen sigma maximises the mean over the rows outside this fold.
        size_t best = 0;
        double best_mean = -1e300;
        for (size_t k = 0; k < grid.size(); ++k) {
          double m = 0;
          int count = 0;
          for (int i = 0; i < nt; ++i)
            if (i < lo || i >= hi) m += ll[size_t(i) * grid.size() + k], ++count;
          m /= count;
          if (m > best_mean) best_mean = m, best = k;
          double own = 0;
          for (int i = lo; i < hi; ++i) own += ll[size_t(i) * grid.size() + k];
          CHECK(r->fold_mean[f][k] == doctest::Approx(own / (hi - lo)).epsilon(1e-12));
        }
        CHECK(r->fold_sigma[f] == grid[best]);
        for (int i = lo; i < hi; ++i) score.push_back(ll[size_t(i) * grid.size() + best]);
      }
      // Mean and standard error (divisor m) over every test row at its fold's sigma.
      REQUIRE(score.size() == size_t(nt));
      double mean = 0, sq = 0;
      for (double v : score) mean += v / nt;
      for (double v : score) sq += (v - mean) * (v - mean);
      CHECK(r->mean == doctest::Approx(mean).epsilon(1e-12));
      CHECK(r->std_error == doctest::Approx(std::sqrt(sq / nt / nt)).epsilon(1e-9));
      CHECK(r->n_samples == n);
      CHECK(r->n_test == nt);
    }
    if (folds == 2 && t == &shifted) CHECK(good.fold_sigma[0] != good.fold_sigma[1]);
  }
  CHECK_THROWS_AS(parzen_evaluate(*be, data.data(), n, clean.data(), 1, dim, grid, 2), Error);
  CHECK_THROWS_AS(parzen_evaluate(*be, data.data(), n, clean.data(), nt, dim, grid, 1), Error);
}

TEST_CASE("class histogram: coverage, KL to uniform, the first maximum on ties") {
  const int classes = 10, n = 40;
  std::vector<float> one(n * classes, 0.0f), balanced(n * classes, 0.0f);
  for (int r = 0; r < n; ++r) {
    one[r * classes + 7] = 1.0f;                 // every sample is a 7
    balanced[r * classes + r % classes] = 2.0f;  // four of each
  }
  const ClassHistogram h1 = class_histogram(one.data(), n, classes);
  CHECK(h1.covered == 1);
  CHECK(h1.counts[7] == n);
  CHECK(h1.kl_to_uniform == doctest::Approx(std::log(10.0)).epsilon(1e-12));
  const ClassHistogram hb = class_histogram(balanced.data(), n, classes);
  CHECK(hb.covered == 10);
  CHECK(hb.kl_to_uniform == doctest::Approx(0.0));
  for (int64_t c : hb.counts) CHECK(c == 4);
  // Half 0s, half 1s: KL = log(10) - log(2). All-zero logits tie: the first class wins.
  std::vector<float> two(4 * classes, 0.0f);
  two[0 * classes + 1] = two[1 * classes + 1] = 1.0f;
  const ClassHistogram h2 = class_histogram(two.data(), 4, classes);
  CHECK(h2.counts[0] == 2);
  CHECK(h2.counts[1] == 2);
  CHECK(h2.kl_to_uniform == doctest::Approx(std::log(5.0)).epsilon(1e-12));
  CHECK_THROWS_AS(class_histogram(two.data(), 0, classes), Error);
}

}  // namespace
