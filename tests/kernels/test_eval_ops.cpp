/*
 * test_eval_ops.cpp — the reference ops of the evaluation and the classifier:
 * softmax_xent (loss against a plain double formula, gradient against central differences,
 * accuracy with ties, no overflow at huge logits, bad labels refused) and gather_labels
 * (lines up with gather_batch); and the same three ops through the CPU backend's
 * interface (matmul in every transpose combination against a double loop, metrics written
 * to backend memory, the batch cursor read from the counters).
 */
#include <doctest/doctest.h>

#include <cmath>
#include <vector>

#include "engine/backend.hpp"
#include "engine/base/error.hpp"
#include "kernels/cpu/cpu_backend.hpp"
#include "kernels/cpu/data_pipeline_cpu.hpp"
#include "kernels/cpu/gather_labels_cpu.hpp"
#include "kernels/cpu/softmax_xent_cpu.hpp"
#include "tests/support/test_util.hpp"

namespace {

using namespace gan;
using namespace gan::test;

// Mean cross-entropy the long way: -log(exp(l_y) / sum exp(l_c)).
double naive_loss(const std::vector<double>& l, const std::vector<int32_t>& y, int classes) {
  double total = 0;
  const int rows = static_cast<int>(y.size());
  for (int r = 0; r < rows; ++r) {
    double sum = 0;
    for (int c = 0; c < classes; ++c) sum += std::exp(l[r * classes + c]);
    total += -std::log(std::exp(l[r * classes + y[r]]) / sum);
  }
  return total / rows;
}

TEST_CASE("softmax_xent: loss, gradient by central differences, float agrees with double") {
  const int rows = 7, classes = 5;
  Rng rng(3);
  std::vector<double> l = random_vector<double>(rng, rows * classes, -3, 3);
  std::vector<int32_t> y(rows);
  for (int r = 0; r < rows; ++r) y[r] = static_cast<int32_t>(rng.next() % classes);
  std::vector<double> grad(l.size());
  const cpu::XentResult r = cpu::softmax_xent<double>(rows, classes, l.data(), y.data(), grad.data());
  CHECK(r.loss == doctest::Approx(naive_loss(l, y, classes)).epsilon(1e-12));
  const std::vector<double> fd = finite_diff(l, [&] {
    return cpu::softmax_xent<double>(rows, classes, l.data(), y.data(), nullptr).loss;
  });
  check_close("dlogits vs central differences", grad, fd, 1e-8, 1e-6);
  // Each row of the gradient sums to 0 (softmax minus one-hot).
  for (int i = 0; i < rows; ++i) {
    double s = 0;
    for (int c = 0; c < classes; ++c) s += grad[i * classes + c];
    CHECK(std::abs(s) < 1e-15);
  }
  std::vector<float> lf(l.begin(), l.end()), gf(l.size());
  const cpu::XentResult rf = cpu::softmax_xent<float>(rows, classes, lf.data(), y.data(), gf.data());
  CHECK(rf.loss == doctest::Approx(r.loss).epsilon(1e-6));
  check_close("float dlogits", gf, grad, 1e-7, 1e-5);
}

TEST_CASE("softmax_xent: accuracy counts the first maximum, huge logits do not overflow") {
  // Row 0: max at class 2 (label 2, correct). Row 1: tie between 0 and 3, label 3: the first
  // maximum (0) wins, so wrong. Row 2: 1e4-sized logits, label at the max.
  const std::vector<float> l = {0, 1, 5, 2, 4, 1, 2, 4, 1e4f, -1e4f, 3e4f, 0};
  const std::vector<int32_t> y = {2, 3, 2};
  std::vector<float> g(l.size());
  const cpu::XentResult r = cpu::softmax_xent<float>(3, 4, l.data(), y.data(), g.data());
  CHECK(r.correct == 2);
  CHECK(std::isfinite(r.loss));
  for (float v : g) CHECK(std::isfinite(v));
  // Row 2 is certain and right: its loss and gradient vanish.
  for (int c = 0; c < 4; ++c) CHECK(std::abs(g[8 + c]) < 1e-12f);
  const double row0 = std::log(1 + std::exp(-4.0) + std::exp(-5.0) + std::exp(-3.0));
  const double row1 = std::log(std::exp(4.0) + std::exp(1.0) + std::exp(2.0) + std::exp(4.0)) - 4.0;
  CHECK(r.loss == doctest::Approx((row0 + row1) / 3).epsilon(1e-6));
}

TEST_CASE("softmax_xent refuses a negative row count and fewer than one class") {
  const std::vector<float> l(6, 0.0f);
  const std::vector<int32_t> y = {0, 0};
  CHECK_THROWS_WITH_AS(cpu::softmax_xent<float>(-1, 3, l.data(), y.data(), nullptr),
                       doctest::Contains("bad softmax_xent shape -1x3"), Error);
  CHECK_THROWS_WITH_AS(cpu::softmax_xent<float>(2, 0, l.data(), y.data(), nullptr),
                       doctest::Contains("bad softmax_xent shape 2x0"), Error);
  const cpu::XentResult none = cpu::softmax_xent<float>(0, 1, l.data(), y.data(), nullptr);
  CHECK(none.loss == 0.0);
  CHECK(none.correct == 0);
}

TEST_CASE("softmax_xent refuses a label outside the classes") {
  const std::vector<float> l(6, 0.0f);
  for (int32_t bad : {-1, 3}) {
    const std::vector<int32_t> y = {0, bad};
    CHECK_THROWS_AS(cpu::softmax_xent<float>(2, 3, l.data(), y.data(), nullptr), Error);
  }
}

TEST_CASE("gather_labels takes the labels of the images gather_batch takes") {
  const int n = 50, dim = 3, rows = 8;
  std::vector<uint8_t> images(n * dim), labels(n);
  for (int i = 0; i < n; ++i) {
    labels[i] = static_cast<uint8_t>(i % 10);
    for (int j = 0; j < dim; ++j) images[i * dim + j] = static_cast<uint8_t>(i);  // image i is all i
  }
  std::vector<int32_t> perm(n);
  cpu::shuffle(perm.data(), n, 9, 2);
  for (int64_t batch : {0, 3, 5}) {
    std::vector<float> x(rows * dim);
    std::vector<int32_t> y(rows + 1, -1);  // one past the rows: must stay untouched
    cpu::gather_batch(x.data(), images.data(), dim, perm.data(), batch, rows);
    cpu::gather_labels(y.data(), labels.data(), perm.data(), batch, rows);
    CHECK(y[rows] == -1);
    for (int r = 0; r < rows; ++r) {
      const int image = static_cast<int>(std::lround(x[r * dim] * 255.0f));
      CHECK(y[r] == image % 10);
      CHECK(image == perm[batch * rows + r]);
    }
  }
}

TEST_CASE("CPU backend: matmul, softmax_xent and gather_labels through the interface") {
  const auto be = make_cpu_backend();
  Rng rng(12);
  const int M = 5, N = 7, K = 3;
  for (bool ta : {false, true})
    for (bool tb : {false, true}) {
      const std::vector<float> a = random_vector<float>(rng, M * K), b = random_vector<float>(rng, K * N);
      std::vector<float> c = random_vector<float>(rng, M * N), want(M * N);
      for (int i = 0; i < M; ++i)
        for (int j = 0; j < N; ++j) {
          double s = 0;
          for (int k = 0; k < K; ++k)
            s += double(ta ? a[k * M + i] : a[i * K + k]) * (tb ? b[j * K + k] : b[k * N + j]);
          want[i * N + j] = static_cast<float>(2.0 * s + 0.5 * c[i * N + j]);
        }
      be->matmul(ta, tb, M, N, K, 2.0f, a.data(), b.data(), 0.5f, c.data());
      check_close("C", c, want, 1e-6, 1e-6);
    }

  const std::vector<float> l = {0, 3, 1, 2, 0, 0};
  const std::vector<int32_t> y = {1, 2};
  std::vector<float> d(6);
  XentMetrics m{-1.0f, -1};
  be->softmax_xent(2, 3, l.data(), y.data(), d.data(), &m);
  const cpu::XentResult r = cpu::softmax_xent<float>(2, 3, l.data(), y.data(), nullptr);
  CHECK(m.loss == static_cast<float>(r.loss));
  CHECK(m.correct == 1);

  const std::vector<uint8_t> labels = {9, 8, 7, 6, 5, 4};
  const std::vector<int32_t> perm = {5, 4, 3, 2, 1, 0};
  StepCounters c;
  c.batch_cursor = 1;
  std::vector<int32_t> out(2, -1);
  be->gather_labels(out.data(), labels.data(), perm.data(), &c, 1, 2);  // batch 2: perm[4..5]
  CHECK(out == std::vector<int32_t>{8, 9});
}

}  // namespace
