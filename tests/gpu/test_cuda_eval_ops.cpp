/*
 * test_cuda_eval_ops.cpp — the CUDA ops of the evaluation and the digit classifier against
 * the CPU backend: matmul (every transpose combination, awkward sizes, alpha/beta, FP32 even
 * on a TF32 backend), softmax_xent (loss, accuracy, gradient; huge logits), gather_labels
 * (bit-identical), and end to end: the classifier trained on both backends, and every
 * metric of GanEvaluator on both backends.
 */
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <vector>

#include "engine/eval/classifier.hpp"
#include "engine/eval/gan_eval.hpp"
#include "engine/io/idx.hpp"
#include "engine/eval/pairwise_distance.hpp"
#include "engine/eval/parzen.hpp"
#include "kernels/cpu/cpu_backend.hpp"
#include "kernels/cuda/cuda_backend.hpp"
#include "tests/gpu/gpu_test_util.hpp"
#include "tests/support/test_util.hpp"

namespace {

using namespace gan;
using namespace gan::gpu_test;

using gan::test::first_images;
using gan::test::Rng;

std::vector<float> random_floats(Rng& rng, size_t n, double lo = -1, double hi = 1) {
  return gan::test::random_vector<float>(rng, n, lo, hi);
}

using MirrorF = Mirror<float>;

void run_matmul(Backend& be, bool ta, bool tb, int M, int N, int K, float alpha, float beta,
                const MirrorF& A, const MirrorF& B, MirrorF& C, bool gpu) {
  be.matmul(ta, tb, M, N, K, alpha, gpu ? A.g() : A.c(), gpu ? B.g() : B.c(), beta,
            gpu ? C.g() : C.c());
}

TEST_CASE("cuda matmul: every transpose combination and awkward size matches the CPU") {
  Rng rng(71);
  const int sizes[][3] = {{1, 1, 1}, {7, 33, 17}, {128, 10, 784}, {257, 129, 65}, {3, 1000, 2}};
  for (const auto& s : sizes)
    for (int ta = 0; ta < 2; ++ta)
      for (int tb = 0; tb < 2; ++tb)
        for (float beta : {0.0f, 0.5f}) {
          const int M = s[0], N = s[1], K = s[2];
          INFO("M=" << M << " N=" << N << " K=" << K << " ta=" << ta << " tb=" << tb
                    << " beta=" << beta);
          MirrorF A(random_floats(rng, size_t(M) * K)), B(random_floats(rng, size_t(K) * N)),
              C(random_floats(rng, size_t(M) * N));
          run_matmul(cpu(), ta, tb, M, N, K, 1.5f, beta, A, B, C, false);
          run_matmul(cuda(), ta, tb, M, N, K, 1.5f, beta, A, B, C, true);
          expect_close("C", C.gpu(), C.cpu(), Tol{2e-6 * K, 1e-5});
        }
}

TEST_CASE("cuda matmul with K = 0 gives beta C, like the CPU, in every transpose combination") {
  Rng rng(72);
  const int M = 5, N = 3;
  MirrorF A(1), B(1);  // never read
  for (int ta = 0; ta < 2; ++ta)
    for (int tb = 0; tb < 2; ++tb)
      for (float beta : {0.0f, 0.5f, 1.0f}) {
        INFO("ta=" << ta << " tb=" << tb << " beta=" << beta);
        MirrorF C(random_floats(rng, size_t(M) * N));
        const std::vector<float> c0 = C.cpu();
        run_matmul(cpu(), ta, tb, M, N, 0, 1.5f, beta, A, B, C, false);
        run_matmul(cuda(), ta, tb, M, N, 0, 1.5f, beta, A, B, C, true);
        // BLAS: beta = 0 writes C without reading it (+0, never 0 * C's -x or NaN).
        std::vector<float> want(c0.size());
        for (size_t i = 0; i < c0.size(); ++i) want[i] = beta == 0.0f ? 0.0f : beta * c0[i];
        expect_equal("matmul K=0, cpu", C.cpu(), want);
        expect_equal("matmul K=0", C.gpu(), want);
      }
}

TEST_CASE("cuda matmul stays FP32 on a backend in TF32 mode") {
  CudaOptions opt;
  opt.tf32 = true;
  const auto tf32 = make_cuda_backend(opt);
  Rng rng(72);
  const int M = 64, N = 96, K = 784;
  const std::vector<float> a = random_floats(rng, size_t(M) * K, 0, 1);
  const std::vector<float> b = random_floats(rng, size_t(N) * K, 0, 1);
  Buf<float> A(*tf32, a), B(*tf32, b), C(*tf32, size_t(M) * N);
  tf32->matmul(false, true, M, N, K, 1.0f, A.get(), B.get(), 0.0f, C.get());
  const std::vector<float> got = C.read();
  std::vector<float> want(size_t(M) * N);
  for (int i = 0; i < M; ++i)
    for (int j = 0; j < N; ++j) {
      double s = 0;
      for (int k = 0; k < K; ++k) s += double(a[i * K + k]) * b[j * K + k];
      want[i * N + j] = static_cast<float>(s);
    }
  // TF32 (10-bit mantissa) would be off by ~1e-3 relative; FP32 by ~1e-6.
  expect_close("A B^T", got, want, Tol{0, 2e-5});
}

TEST_CASE("cuda softmax_xent: loss, accuracy and gradient match the CPU") {
  Rng rng(73);
  for (int rows : {1, 7, 128, 1000})
    for (int classes : {2, 10, 37})
      for (bool grad : {true, false}) {
        INFO("rows=" << rows << " classes=" << classes << " grad=" << grad);
        std::vector<float> l = random_floats(rng, size_t(rows) * classes, -6, 6);
        if (rows > 2) {
          l[0] = 1e4f;  // huge logits stay finite
          l[classes] = -1e4f;
        }
        std::vector<int32_t> y(rows);
        for (int32_t& v : y) v = static_cast<int32_t>(rng.next() % classes);
        MirrorF logits(l);
        Mirror<int32_t> labels(y);
        MirrorF d(size_t(rows) * classes);
        d.poison();
        Mirror<XentMetrics> m(std::vector<XentMetrics>{XentMetrics{-1.0f, -1}});
        cpu().softmax_xent(rows, classes, logits.c(), labels.c(), grad ? d.c() : nullptr, m.c());
        cuda().softmax_xent(rows, classes, logits.g(), labels.g(), grad ? d.g() : nullptr, m.g());
        const XentMetrics mc = m.cpu()[0], mg = m.gpu()[0];
        CHECK(std::isfinite(mg.loss));
        CHECK(mg.loss == doctest::Approx(mc.loss).epsilon(1e-6));
        CHECK(mg.correct == mc.correct);
        if (grad) expect_close("dlogits", d.gpu(), d.cpu(), Tol{1e-9, 1e-5});
      }
}

TEST_CASE("cuda gather_labels: the labels of the permuted batch, bit-identical") {
  Rng rng(74);
  const int count = 1000;
  std::vector<uint8_t> lab(count);
  for (uint8_t& v : lab) v = static_cast<uint8_t>(rng.next() % 10);
  Mirror<uint8_t> labels(lab);
  Mirror<int32_t> perm(static_cast<size_t>(count));
  Mirror<StepCounters> c(std::vector<StepCounters>{StepCounters{}});
  cpu().shuffle(perm.c(), count, 5, 2, c.c());
  perm.set(perm.cpu());
  StepCounters c0;
  c0.batch_cursor = 3;
  c.set({c0});
  for (int rows : {1, 7, 128})
    for (int slot : {0, 1}) {
      INFO("rows=" << rows << " slot=" << slot);
      Mirror<int32_t> out(std::vector<int32_t>(rows, -1));
      cpu().gather_labels(out.c(), labels.c(), perm.c(), c.c(), slot, rows);
      cuda().gather_labels(out.g(), labels.g(), perm.g(), c.g(), slot, rows);
      expect_equal("labels", out.gpu(), out.cpu());
    }
}

TEST_CASE("cuda classifier: training and inference agree with the CPU backend") {
  const Dataset train = first_images(load_mnist(GAN_SOURCE_DIR "/data/mnist", Split::Train), 2000);
  const Dataset test = first_images(load_mnist(GAN_SOURCE_DIR "/data/mnist", Split::Test), 1000);
  ClassifierTraining cfg;
  cfg.epochs = 1;
  Classifier c(cpu(), ClassifierSpec{}), g(cuda(), ClassifierSpec{});
  c.init_weights(3);
  g.init_weights(3);
  CHECK(c.params() == g.params());
  std::vector<double> lc, lg;
  c.train(train, cfg, [&](int, double loss, double) { lc.push_back(loss); });
  g.train(train, cfg, [&](int, double loss, double) { lg.push_back(loss); });
  REQUIRE(lc.size() == 1);
  REQUIRE(lg.size() == 1);
  CHECK(lg[0] == doctest::Approx(lc[0]).epsilon(1e-3));
  // Adam normalises gradients, so product-order differences grow over 78 steps: loose.
  expect_close("parameters after an epoch", g.params(), c.params(), Tol{5e-3, 2e-2});
  CHECK(std::abs(g.accuracy(test) - c.accuracy(test)) <= 0.01);
  // Same weights on both: the same logits and features.
  g.set_params(c.params());
  const std::vector<float> x = images_to_float(test.images.data(), size_t(300) * 784);
  std::vector<float> lc2, fc, lg2, fg;
  c.predict(x.data(), 300, &lc2, &fc);
  g.predict(x.data(), 300, &lg2, &fg);
  expect_close("logits", lg2, lc2, Tol{1e-4, 1e-4});
  expect_close("features", fg, fc, Tol{1e-4, 1e-4});
  CHECK(std::abs(g.accuracy(test) - c.accuracy(test)) <= 0.002);  // a near-tie may flip
}

TEST_CASE("cuda evaluation: distances, Parzen and every metric of GanEvaluator match the CPU") {
  Rng rng(75);
  const int na = 300, nb = 500, dim = 784;
  const std::vector<float> a = random_floats(rng, size_t(na) * dim, 0, 1);
  const std::vector<float> b = random_floats(rng, size_t(nb) * dim, 0, 1);
  {
    const std::vector<float> nc = nearest_distance(cpu(), a.data(), na, b.data(), nb, dim);
    const std::vector<float> ng = nearest_distance(cuda(), a.data(), na, b.data(), nb, dim);
    expect_close("nearest distance", ng, nc, Tol{1e-4, 1e-5});
  }
  const std::vector<double> sig = parzen_sigma_grid();
  const std::vector<double> pc = parzen_log_likelihood(cpu(), b.data(), nb, a.data(), na, dim, sig);
  const std::vector<double> pg = parzen_log_likelihood(cuda(), b.data(), nb, a.data(), na, dim, sig);
  REQUIRE(pc.size() == pg.size());
  for (size_t i = 0; i < pc.size(); ++i) CHECK(pg[i] == doctest::Approx(pc[i]).epsilon(1e-5));

  const Dataset all = load_mnist(GAN_SOURCE_DIR "/data/mnist", Split::Train);
  const Dataset train = first_images(all, 1500);
  const Dataset test = first_images(load_mnist(GAN_SOURCE_DIR "/data/mnist", Split::Test), 400);
  ClassifierTraining cfg;
  cfg.epochs = 1;
  Classifier c(cpu(), ClassifierSpec{}), g(cuda(), ClassifierSpec{});
  c.init_weights(0);
  c.train(train, cfg);
  g.set_params(c.params());
  EvalConfig ec;
  GanEvaluator ev_c(cpu(), train, test, c, ec), ev_g(cuda(), train, test, g, ec);
  CHECK(std::abs(ev_g.classifier_test_accuracy() - ev_c.classifier_test_accuracy()) <= 2.0 / 400);
  CHECK(ev_g.nn_median_test() == doctest::Approx(ev_c.nn_median_test()).epsilon(1e-5));
  // "Samples": training digits the evaluator has not seen (1500..1899).
  const std::vector<float> samples =
      images_to_float(all.images.data() + size_t(1500) * 784, size_t(400) * 784);
  const EvalReport rc = ev_c.evaluate(samples.data(), 400), rg = ev_g.evaluate(samples.data(), 400);
  CHECK(rg.parzen.fold_sigma == rc.parzen.fold_sigma);
  CHECK(rg.parzen.mean == doctest::Approx(rc.parzen.mean).epsilon(1e-5));
  CHECK(rg.parzen.std_error == doctest::Approx(rc.parzen.std_error).epsilon(1e-3));
  int64_t votes_moved = 0;  // near-ties between two logits may flip
  for (size_t k = 0; k < rc.classes.counts.size(); ++k)
    votes_moved += std::abs(rg.classes.counts[k] - rc.classes.counts[k]);
  CHECK(votes_moved <= 2);
  CHECK(rg.frechet == doctest::Approx(rc.frechet).epsilon(1e-3));
  CHECK(std::abs(rg.pr.precision - rc.pr.precision) <= 2.0 / 400);
  CHECK(std::abs(rg.pr.recall - rc.pr.recall) <= 2.0 / 400);
  CHECK(rg.nn_median_samples == doctest::Approx(rc.nn_median_samples).epsilon(1e-4));
}

}  // namespace
