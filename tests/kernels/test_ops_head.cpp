/*
 * test_ops_head.cpp — the reference discriminator head fused with the GAN losses.
 *
 * Gradients dx, dw, db of every HeadMode against central finite differences in double;
 * losses and means against the direct -log(sigmoid) formulas at moderate logits; finite
 * values and the right limits at logits of +-100 and +-1e4; which StepMetrics fields each
 * mode writes through the backend; refusal of impossible row counts.
 */
#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "engine/backend.hpp"
#include "engine/base/error.hpp"
#include "kernels/cpu/cpu_backend.hpp"
#include "kernels/cpu/d_head_bce_cpu.hpp"
#include "tests/support/test_util.hpp"

namespace {

using gan::HeadMode;
using gan::test::check_close;
using gan::test::random_vector;
using gan::test::Rng;
using Vec = std::vector<double>;
using VecF = std::vector<float>;

const HeadMode kModes[] = {HeadMode::DStep, HeadMode::GNonSaturating, HeadMode::GMinimax};

const char* mode_name(HeadMode m) {
  switch (m) {
    case HeadMode::DStep: return "DStep";
    case HeadMode::GNonSaturating: return "GNonSaturating";
    case HeadMode::GMinimax: return "GMinimax";
  }
  return "?";
}

// The loss the mode minimises.
template <typename T>
T mode_loss(HeadMode mode, const gan::cpu::HeadResult<T>& r) {
  return mode == HeadMode::DStep ? r.d_loss : r.g_loss;
}

double sigmoid(double l) { return 1.0 / (1.0 + std::exp(-l)); }

}  // namespace

TEST_CASE("d head: the backend refuses a smoothed real label of 0 or less, or above 1") {
  auto be = gan::make_cpu_backend();
  const int in = 3, B = 2;
  const std::vector<float> x(size_t(2 * B) * in, 0.5f), w(in, 0.1f), b = {0.0f};
  const gan::DenseDesc d = gan::test::make_desc(in, 1, false, gan::Act::None);
  for (float label : {0.0f, -0.5f, 1.0001f, 1.05f}) {
    CAPTURE(label);
    gan::StepMetrics m;
    CHECK_THROWS_AS(be->d_head_smoothed(d, gan::HeadMode::DStep, B, B, label, x.data(),
                                        gan::DenseParams{w.data(), b.data()}, gan::DenseGrads{},
                                        nullptr, &m),
                    gan::Error);
  }
  gan::StepMetrics m;
  CHECK_NOTHROW(be->d_head_smoothed(d, gan::HeadMode::DStep, B, B, 1.0f, x.data(),
                                    gan::DenseParams{w.data(), b.data()}, gan::DenseGrads{},
                                    nullptr, &m));
}

TEST_CASE("d head: finite differences in double match dx, dw, db in every mode") {
  Rng rng(31);
  const int in = 5;
  for (HeadMode mode : kModes)
    for (int n_fake : {1, 4}) {
      const int n_real = mode == HeadMode::DStep ? 3 : 0;
      const int rows = n_real + n_fake;
      INFO("mode=" << std::string(mode_name(mode)) << " n_fake=" << n_fake);
      Vec x = random_vector<double>(rng, size_t(rows) * in, -1.5, 1.5);
      Vec w = random_vector<double>(rng, in), b = random_vector<double>(rng, 1);
      const double nan = std::numeric_limits<double>::quiet_NaN();
      Vec dx(x.size(), nan), dw(in, nan), db(1, nan);
      gan::cpu::d_head<double>(in, mode, n_real, n_fake, x.data(), w.data(), b.data(), dw.data(),
                               db.data(), dx.data());
      auto loss = [&] {
        return mode_loss(mode, gan::cpu::d_head<double>(in, mode, n_real, n_fake, x.data(),
                                                         w.data(), b.data(), nullptr, nullptr,
                                                         nullptr));
      };
      check_close("dx", dx, gan::test::finite_diff(x, loss), 1e-9, 1e-6);
      check_close("dw", dw, gan::test::finite_diff(w, loss), 1e-9, 1e-6);
      check_close("db", db, gan::test::finite_diff(b, loss), 1e-9, 1e-6);
    }
}

TEST_CASE("d head: losses and means equal the direct -log(sigmoid) formulas at moderate logits") {
  // l = x w^T + b with in = 3; the logits are computed here independently.
  Rng rng(5);
  const int in = 3, n_real = 3, n_fake = 4;
  const Vec x = random_vector<double>(rng, size_t(n_real + n_fake) * in, -2, 2);
  const Vec w{0.7, -1.3, 0.4}, b{0.25};
  Vec l(n_real + n_fake);
  for (int r = 0; r < n_real + n_fake; ++r)
    l[r] = b[0] + x[r * in] * w[0] + x[r * in + 1] * w[1] + x[r * in + 2] * w[2];

  double log_d_real = 0, log_1md_fake = 0, d_real = 0, d_fake = 0;
  for (int r = 0; r < n_real; ++r) {
    log_d_real += std::log(sigmoid(l[r])) / n_real;
    d_real += sigmoid(l[r]) / n_real;
  }
  for (int r = n_real; r < n_real + n_fake; ++r) {
    log_1md_fake += std::log(1.0 - sigmoid(l[r])) / n_fake;
    d_fake += sigmoid(l[r]) / n_fake;
  }
  auto ds = gan::cpu::d_head<double>(in, HeadMode::DStep, n_real, n_fake, x.data(), w.data(),
                                     b.data(), nullptr, nullptr, nullptr);
  CHECK(ds.d_loss == doctest::Approx(-log_d_real - log_1md_fake).epsilon(1e-12));
  CHECK(ds.value == doctest::Approx(log_d_real + log_1md_fake).epsilon(1e-12));
  CHECK(ds.value == -ds.d_loss);
  CHECK(ds.d_real == doctest::Approx(d_real).epsilon(1e-12));
  CHECK(ds.d_fake == doctest::Approx(d_fake).epsilon(1e-12));

  // The G modes see the fake rows alone.
  const double* xf = x.data() + n_real * in;
  double ns = 0, mm = 0;
  for (int r = n_real; r < n_real + n_fake; ++r) {
    ns += -std::log(sigmoid(l[r])) / n_fake;
    mm += std::log(1.0 - sigmoid(l[r])) / n_fake;
  }
  auto gn = gan::cpu::d_head<double>(in, HeadMode::GNonSaturating, 0, n_fake, xf, w.data(),
                                     b.data(), nullptr, nullptr, nullptr);
  auto gm = gan::cpu::d_head<double>(in, HeadMode::GMinimax, 0, n_fake, xf, w.data(), b.data(),
                                     nullptr, nullptr, nullptr);
  CHECK(gn.g_loss == doctest::Approx(ns).epsilon(1e-12));
  CHECK(gm.g_loss == doctest::Approx(mm).epsilon(1e-12));
  CHECK(gn.g_fake == doctest::Approx(d_fake).epsilon(1e-12));
  CHECK(gm.g_fake == doctest::Approx(d_fake).epsilon(1e-12));

  // The float backend gives the same numbers and writes only its mode's fields.
  auto be = gan::make_cpu_backend();
  const VecF xf32(x.begin(), x.end()), wf(w.begin(), w.end()), bf(b.begin(), b.end());
  gan::DenseDesc d;
  d.in = in;
  d.out = 1;
  gan::DenseParams p{wf.data(), bf.data(), nullptr, nullptr};
  gan::StepMetrics m;
  m.d_loss = m.d_real = m.d_fake = m.value = m.g_loss = m.g_fake = 42.f;
  be->d_head(d, HeadMode::DStep, n_real, n_fake, xf32.data(), p, gan::DenseGrads{}, nullptr, &m);
  CHECK(m.d_loss == doctest::Approx(-log_d_real - log_1md_fake).epsilon(1e-5));
  CHECK(m.value == -m.d_loss);
  CHECK(m.d_real == doctest::Approx(d_real).epsilon(1e-5));
  CHECK(m.d_fake == doctest::Approx(d_fake).epsilon(1e-5));
  CHECK(m.g_loss == 42.f);
  CHECK(m.g_fake == 42.f);
  gan::StepMetrics mg;
  mg.d_loss = mg.d_real = mg.d_fake = mg.value = mg.g_loss = mg.g_fake = 42.f;
  be->d_head(d, HeadMode::GMinimax, 0, n_fake, xf32.data() + n_real * in, p, gan::DenseGrads{},
             nullptr, &mg);
  CHECK(mg.g_loss == doctest::Approx(mm).epsilon(1e-5));
  CHECK(mg.g_fake == doctest::Approx(d_fake).epsilon(1e-5));
  CHECK(mg.d_loss == 42.f);
  CHECK(mg.d_real == 42.f);
  CHECK(mg.d_fake == 42.f);
  CHECK(mg.value == 42.f);
  be->d_head(d, HeadMode::GNonSaturating, 0, n_fake, xf32.data() + n_real * in, p,
             gan::DenseGrads{}, nullptr, &mg);
  CHECK(mg.g_loss == doctest::Approx(ns).epsilon(1e-5));
  CHECK(mg.d_loss == 42.f);
}

TEST_CASE("d head: the float backend's gradients match the double reference") {
  auto be = gan::make_cpu_backend();
  Rng rng(8);
  const int in = 7;
  for (HeadMode mode : kModes) {
    INFO("mode=" << std::string(mode_name(mode)));
    const int n_real = mode == HeadMode::DStep ? 5 : 0, n_fake = 6;
    const int rows = n_real + n_fake;
    const VecF x = random_vector<float>(rng, size_t(rows) * in, -2, 2);
    const VecF w = random_vector<float>(rng, in), b = random_vector<float>(rng, 1);
    const Vec xd(x.begin(), x.end()), wd(w.begin(), w.end()), bd(b.begin(), b.end());
    Vec dxd(x.size()), dwd(in), dbd(1);
    gan::cpu::d_head<double>(in, mode, n_real, n_fake, xd.data(), wd.data(), bd.data(),
                             dwd.data(), dbd.data(), dxd.data());
    const float nan = std::numeric_limits<float>::quiet_NaN();
    VecF dx(x.size(), nan), dw(in, nan), db(1, nan);
    gan::DenseDesc d;
    d.in = in;
    d.out = 1;
    gan::StepMetrics m;
    be->d_head(d, mode, n_real, n_fake, x.data(), gan::DenseParams{w.data(), b.data()},
               gan::DenseGrads{dw.data(), db.data()}, dx.data(), &m);
    check_close("dx", dx, dxd, 1e-7, 1e-6);
    check_close("dw", dw, dwd, 1e-7, 1e-6);
    check_close("db", db, dbd, 1e-7, 1e-6);
  }
}

TEST_CASE("d head: logits of +-100 and +-1e4 give finite losses with the right limits") {
  // in = 1, w = 1, b = 0: the logit is x itself.
  const Vec w{1.0}, b{0.0};
  SUBCASE("D step, D right about everything: loss ~0, D(x) = 1, D(G(z)) = 0") {
    const Vec x{100, 1e4, -100, -1e4};  // two real rows, then two fake rows
    Vec dx(4), dw(1), db(1);
    auto r = gan::cpu::d_head<double>(1, HeadMode::DStep, 2, 2, x.data(), w.data(), b.data(),
                                      dw.data(), db.data(), dx.data());
    CHECK(std::isfinite(r.d_loss));
    CHECK(r.d_loss >= 0.0);
    CHECK(r.d_loss < 1e-40);
    CHECK(r.value == -r.d_loss);
    CHECK(r.d_real == 1.0);
    CHECK(r.d_fake < 1e-40);
    for (double v : dx) CHECK(std::abs(v) < 1e-40);
    CHECK(std::isfinite(dw[0]));
    CHECK(std::abs(dw[0]) < 1e-38);
    CHECK(std::abs(db[0]) < 1e-40);
  }
  SUBCASE("D step, D wrong about everything: loss = mean |l| per side, gradients +-1/n") {
    const Vec x{-100, -1e4, 100, 1e4};
    Vec dx(4), dw(1), db(1);
    auto r = gan::cpu::d_head<double>(1, HeadMode::DStep, 2, 2, x.data(), w.data(), b.data(),
                                      dw.data(), db.data(), dx.data());
    CHECK(r.d_loss == doctest::Approx(5050.0 + 5050.0).epsilon(1e-12));
    CHECK(r.value == -r.d_loss);
    CHECK(r.d_real < 1e-40);
    CHECK(r.d_fake == 1.0);
    check_close("dx", dx, Vec{-0.5, -0.5, 0.5, 0.5}, 1e-12, 0);
    CHECK(dw[0] == doctest::Approx(0.5 * 100 + 0.5 * 1e4 + 0.5 * 100 + 0.5 * 1e4));
    CHECK(std::abs(db[0]) < 1e-12);

    // The same in float through the backend.
    auto be = gan::make_cpu_backend();
    const VecF xf(x.begin(), x.end()), wf{1.f}, bf{0.f};
    VecF dxf(4), dwf(1), dbf(1);
    gan::DenseDesc d;
    d.in = 1;
    d.out = 1;
    gan::StepMetrics m;
    be->d_head(d, HeadMode::DStep, 2, 2, xf.data(), gan::DenseParams{wf.data(), bf.data()},
               gan::DenseGrads{dwf.data(), dbf.data()}, dxf.data(), &m);
    CHECK(m.d_loss == 10100.f);
    CHECK(m.value == -10100.f);
    CHECK(m.d_real < 1e-40f);
    CHECK(m.d_fake == 1.f);
    check_close("dx (float)", dxf, Vec{-0.5, -0.5, 0.5, 0.5}, 1e-7, 0);
    CHECK(dwf[0] == doctest::Approx(10100.0));
  }
  SUBCASE("G non-saturating: loss |l| and gradient -1/n where D rejects the fakes") {
    for (double l : {-100.0, -1e4}) {
      const Vec x{l, l};
      Vec dx(2);
      auto r = gan::cpu::d_head<double>(1, HeadMode::GNonSaturating, 0, 2, x.data(), w.data(),
                                        b.data(), nullptr, nullptr, dx.data());
      CHECK(r.g_loss == doctest::Approx(-l).epsilon(1e-12));
      CHECK(r.g_fake < 1e-40);
      check_close("dx", dx, Vec{-0.5, -0.5}, 1e-12, 0);  // does not vanish
    }
    for (double l : {100.0, 1e4}) {
      const Vec x{l, l};
      Vec dx(2);
      auto r = gan::cpu::d_head<double>(1, HeadMode::GNonSaturating, 0, 2, x.data(), w.data(),
                                        b.data(), nullptr, nullptr, dx.data());
      CHECK(r.g_loss >= 0.0);
      CHECK(r.g_loss < 1e-40);
      CHECK(r.g_fake == 1.0);
      for (double v : dx) CHECK(std::abs(v) < 1e-40);
    }
  }
  SUBCASE("G minimax: loss -l and gradient -1/n where D accepts the fakes; saturates otherwise") {
    for (double l : {100.0, 1e4}) {
      const Vec x{l, l};
      Vec dx(2);
      auto r = gan::cpu::d_head<double>(1, HeadMode::GMinimax, 0, 2, x.data(), w.data(),
                                        b.data(), nullptr, nullptr, dx.data());
      CHECK(r.g_loss == doctest::Approx(-l).epsilon(1e-12));
      check_close("dx", dx, Vec{-0.5, -0.5}, 1e-12, 0);
    }
    for (double l : {-100.0, -1e4}) {
      const Vec x{l, l};
      Vec dx(2);
      auto r = gan::cpu::d_head<double>(1, HeadMode::GMinimax, 0, 2, x.data(), w.data(),
                                        b.data(), nullptr, nullptr, dx.data());
      CHECK(std::isfinite(r.g_loss));
      CHECK(r.g_loss <= 0.0);
      CHECK(r.g_loss > -1e-40);
      CHECK(r.g_fake < 1e-40);
      for (double v : dx) CHECK(std::abs(v) < 1e-40);  // the minimax gradient vanishes
    }
  }
  SUBCASE("float: every mode stays finite at +-1e4") {
    const VecF x{1e4f, -1e4f, 100.f, -100.f}, wf{1.f}, bf{0.f};
    for (HeadMode mode : kModes) {
      INFO("mode=" << std::string(mode_name(mode)));
      const int n_real = mode == HeadMode::DStep ? 2 : 0;
      VecF dx(4), dw(1), db(1);
      auto r = gan::cpu::d_head<float>(1, mode, n_real, 4 - n_real, x.data(), wf.data(),
                                       bf.data(), dw.data(), db.data(), dx.data());
      CHECK(std::isfinite(mode_loss(mode, r)));
      CHECK(std::isfinite(r.value));
      for (float v : dx) CHECK(std::isfinite(v));
      CHECK(std::isfinite(dw[0]));
      CHECK(std::isfinite(db[0]));
    }
  }
}

TEST_CASE("d head: impossible row counts and a head wider than one output are refused") {
  const Vec x(8, 0.5), w(2, 0.1), b(1, 0.0);
  auto call = [&](HeadMode mode, int n_real, int n_fake) {
    return gan::cpu::d_head<double>(2, mode, n_real, n_fake, x.data(), w.data(), b.data(),
                                    nullptr, nullptr, nullptr);
  };
  CHECK_THROWS_WITH_AS(call(HeadMode::DStep, 2, 0), doctest::Contains("fake rows"), gan::Error);
  CHECK_THROWS_WITH_AS(call(HeadMode::DStep, 0, 2), doctest::Contains("real rows"), gan::Error);
  CHECK_THROWS_AS(call(HeadMode::DStep, -1, 2), gan::Error);
  CHECK_THROWS_AS(call(HeadMode::GNonSaturating, 0, 0), gan::Error);
  CHECK_THROWS_AS(call(HeadMode::GNonSaturating, 1, 2), gan::Error);
  CHECK_THROWS_AS(call(HeadMode::GMinimax, 1, 2), gan::Error);
  CHECK_THROWS_AS(call(HeadMode::GMinimax, 0, -3), gan::Error);
  CHECK_NOTHROW(call(HeadMode::GMinimax, 0, 4));
  CHECK_NOTHROW(call(HeadMode::DStep, 1, 3));

  auto be = gan::make_cpu_backend();
  const VecF xf(8, 0.5f), wf(4, 0.1f), bf(2, 0.f);
  gan::DenseDesc d;
  d.in = 2;
  d.out = 2;
  gan::StepMetrics m;
  CHECK_THROWS_WITH_AS(be->d_head(d, HeadMode::DStep, 2, 2, xf.data(),
                                  gan::DenseParams{wf.data(), bf.data()}, gan::DenseGrads{},
                                  nullptr, &m),
                       doctest::Contains("one output"), gan::Error);
  d.out = 1;
  CHECK_THROWS_AS(be->d_head(d, HeadMode::GNonSaturating, 2, 2, xf.data(),
                             gan::DenseParams{wf.data(), bf.data()}, gan::DenseGrads{}, nullptr,
                             &m),
                  gan::Error);
}

namespace {

TEST_CASE("CPU backend: ops it cannot compute are refused before anything is read") {
  // every pointer is null: a refusal must come before the first read
  const auto be = gan::make_cpu_backend();
  const gan::DenseDesc two = gan::test::make_desc(4, 2, false, gan::Act::None);
  const gan::DenseDesc one = gan::test::make_desc(4, 1, false, gan::Act::None);
  for (HeadMode mode : {HeadMode::DStep, HeadMode::GNonSaturating}) {
    CHECK_THROWS_WITH_AS(be->d_head(two, mode, 1, 1, nullptr, {}, {}, nullptr, nullptr),
                         doctest::Contains("the D head has one output"), gan::Error);
    CHECK_THROWS_WITH_AS(
        be->d_head_smoothed(two, mode, 1, 1, 0.9f, nullptr, {}, {}, nullptr, nullptr),
        doctest::Contains("the D head has one output"), gan::Error);
    for (float label : {0.0f, -0.5f, 1.5f})
      CHECK_THROWS_WITH_AS(
          be->d_head_smoothed(one, mode, 1, 1, label, nullptr, {}, {}, nullptr, nullptr),
          doctest::Contains("the real label must be in (0, 1]"), gan::Error);
  }
  // dropout: only after a layer without BatchNorm whose activation keeps its sign
  const gan::DropoutMask half{0.5f, 1, nullptr, 0, 0, 0};
  for (const gan::DenseDesc& d : {gan::test::make_desc(4, 4, true, gan::Act::ReLU),
                                  gan::test::make_desc(4, 4, false, gan::Act::Sigmoid)}) {
    const auto why =
        doctest::Contains("dropout follows a layer without BatchNorm whose activation keeps its sign");
    CHECK_THROWS_WITH_AS(be->dense_forward_dropout(d, 2, nullptr, {}, half, nullptr), why,
                         gan::Error);
    CHECK_THROWS_WITH_AS(be->dense_backward_dropout(d, 2, nullptr, {}, half, nullptr, nullptr,
                                                    {}, nullptr),
                         why, gan::Error);
  }
  const gan::DenseDesc leaky = gan::test::make_desc(4, 4, false, gan::Act::LeakyReLU);
  for (float p : {-0.1f, 1.0f}) {
    const gan::DropoutMask bad{p, 1, nullptr, 0, 0, 0};
    CHECK_THROWS_WITH_AS(be->dense_forward_dropout(leaky, 2, nullptr, {}, bad, nullptr),
                         doctest::Contains("the dropout probability must be in [0, 1)"), gan::Error);
  }
}

}  // namespace
