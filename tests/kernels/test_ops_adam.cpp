/*
 * test_ops_adam.cpp — the reference Adam update and the backend's finite-check / skip logic.
 *
 * Steps t = 1, 2, 3 against arithmetic written out by hand, in double and in float; the
 * first step moves every parameter by ~lr against the sign of its gradient; bias correction
 * makes a constant gradient move by ~lr every step; CpuBackend::adam skips a net whose
 * latest check_finite failed; check_finite flags NaN and Inf in the loss and the gradients
 * and records only the first failing iteration; neither Adam variant writes past its n
 * elements; the learning-rate decay (lr_scale) is 1 before its start, a straight line over
 * it and 0 from its end, and the backend scales the rate by it at the counters' iteration in
 * both Adam variants.
 */
#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "engine/backend.hpp"
#include "engine/lr_schedule.h"
#include "kernels/cpu/adam_cpu.hpp"
#include "kernels/cpu/adam_fast.hpp"
#include "kernels/cpu/cpu_backend.hpp"
#include "tests/support/test_util.hpp"

namespace {

using gan::AdamConfig;
using gan::Net;
using gan::StepCounters;
using gan::test::check_close;
using gan::test::Rng;

// Numbers exact in float, so the hand arithmetic below is exact too.
AdamConfig hand_config() {
  AdamConfig c;
  c.lr = 0.125f;
  c.beta1 = 0.5f;
  c.beta2 = 0.75f;
  c.eps = 1e-8f;
  return c;
}

template <typename T>
void hand_steps() {
  const AdamConfig cfg = hand_config();
  const double eps = double(cfg.eps);
  // Tolerances: float arithmetic per element rounds to a few ulps.
  const double tol = sizeof(T) == sizeof(float) ? 1e-6 : 1e-12;
  // Scalars: A with gradients 2, -1, 0.5; B always 0; C with -3, -3, -3; D with 1e3, 1e-3, 0.
  std::vector<T> p{T(1), T(-2), T(0.5), T(4)}, m(4, T(0)), v(4, T(0));
  const T g1[] = {T(2), T(0), T(-3), T(1e3)};
  const T g2[] = {T(-1), T(0), T(-3), T(1e-3)};
  const T g3[] = {T(0.5), T(0), T(-3), T(0)};

  // t = 1: bc1 = 1 - 0.5 = 0.5, bc2 = 1 - 0.75 = 0.25, step size = 0.125 / 0.5 = 0.25.
  //  A: m = 0.5 * 2 = 1, v = 0.25 * 4 = 1, denom = sqrt(1) / sqrt(0.25) + eps = 2 + eps,
  //     p = 1 - 0.25 * 1 / (2 + eps)                                       (~ 1 - lr)
  //  B: m = v = 0, p unchanged.
  //  C: m = -1.5, v = 0.25 * 9 = 2.25, denom = 1.5 / 0.5 + eps = 3 + eps,
  //     p = 0.5 + 0.25 * 1.5 / (3 + eps)                                   (~ 0.5 + lr)
  //  D: m = 500, v = 250000, denom = 500 / 0.5 + eps = 1000 + eps, p = 4 - 0.25 * 500 / 1000
  gan::cpu::adam_update<T>(p.data(), g1, m.data(), v.data(), 4, cfg, 1);
  double pA = 1 - 0.25 * 1 / (2 + eps), pC = 0.5 + 0.25 * 1.5 / (3 + eps);
  double pD = 4 - 0.25 * 500 / (1000 + eps);
  check_close("m after t=1", m, std::vector<double>{1, 0, -1.5, 500}, tol, tol);
  check_close("v after t=1", v, std::vector<double>{1, 0, 2.25, 250000}, tol, tol);
  check_close("p after t=1", p, std::vector<double>{pA, -2, pC, pD}, tol, tol);

  // t = 2: bc1 = 0.75, bc2 = 1 - 0.5625 = 0.4375, step size = 0.125 / 0.75 = 1/6.
  //  A: m = 0.5 * 1 + 0.5 * (-1) = 0, v = 0.75 * 1 + 0.25 * 1 = 1: m = 0, p unchanged.
  //  C: m = -0.75 - 1.5 = -2.25, v = 0.75 * 2.25 + 2.25 = 3.9375,
  //     p += (1/6) * 2.25 / (sqrt(3.9375 / 0.4375) + eps) = (1/6) * 2.25 / (3 + eps)
  //  D: m = 250 + 0.0005 = 250.0005, v = 187500 + 0.25e-6 = 187500.00000025,
  //     p -= (1/6) * 250.0005 / (sqrt(187500.00000025 / 0.4375) + eps)
  gan::cpu::adam_update<T>(p.data(), g2, m.data(), v.data(), 4, cfg, 2);
  pC += (1.0 / 6) * 2.25 / (3 + eps);
  pD -= (1.0 / 6) * 250.0005 / (std::sqrt(187500.00000025 / 0.4375) + eps);
  check_close("m after t=2", m, std::vector<double>{0, 0, -2.25, 250.0005}, tol, tol);
  check_close("v after t=2", v, std::vector<double>{1, 0, 3.9375, 187500.00000025}, tol, tol);
  check_close("p after t=2", p, std::vector<double>{pA, -2, pC, pD}, tol, tol);

  // t = 3: bc1 = 0.875, bc2 = 1 - 0.421875 = 0.578125, step size = 0.125 / 0.875 = 1/7.
  //  A: m = 0.25, v = 0.75 + 0.25 * 0.25 = 0.8125,
  //     p -= (1/7) * 0.25 / (sqrt(0.8125 / 0.578125) + eps)
  //  C: m = -1.125 - 1.5 = -2.625, v = 0.75 * 3.9375 + 2.25 = 5.203125,
  //     p += (1/7) * 2.625 / (sqrt(5.203125 / 0.578125) + eps) = (1/7) * 2.625 / (3 + eps)
  //  D: m = 125.00025, v = 140625.0000001875,
  //     p -= (1/7) * 125.00025 / (sqrt(140625.0000001875 / 0.578125) + eps)
  gan::cpu::adam_update<T>(p.data(), g3, m.data(), v.data(), 4, cfg, 3);
  pA -= (1.0 / 7) * 0.25 / (std::sqrt(0.8125 / 0.578125) + eps);
  pC += (1.0 / 7) * 2.625 / (3 + eps);
  pD -= (1.0 / 7) * 125.00025 / (std::sqrt(140625.0000001875 / 0.578125) + eps);
  check_close("m after t=3", m, std::vector<double>{0.25, 0, -2.625, 125.00025}, tol, tol);
  check_close("v after t=3", v, std::vector<double>{0.8125, 0, 5.203125, 140625.0000001875}, tol,
              tol);
  check_close("p after t=3", p, std::vector<double>{pA, -2, pC, pD}, tol, tol);
}

}  // namespace

TEST_CASE("adam: steps t = 1, 2, 3 match the hand arithmetic in double and float") {
  SUBCASE("double") { hand_steps<double>(); }
  SUBCASE("float") { hand_steps<float>(); }
}

TEST_CASE("adam: the first step moves each parameter by ~lr against the sign of its gradient") {
  Rng rng(1);
  const size_t n = 1000;
  AdamConfig cfg;  // the defaults: lr 2e-4, betas (0.5, 0.999), eps 1e-8
  std::vector<float> p(n), g(n), m(n, 0.f), v(n, 0.f);
  for (size_t i = 0; i < n; ++i) {
    p[i] = float(rng.uniform(-1, 1));
    // Magnitudes from 1e-3 to 1e3, either sign.
    const double mag = std::pow(10.0, rng.uniform(-3, 3));
    g[i] = float(rng.uniform() < 0.5 ? -mag : mag);
  }
  const std::vector<float> p0 = p;
  gan::cpu::adam_update<float>(p.data(), g.data(), m.data(), v.data(), n, cfg, 1);
  size_t bad = 0;
  for (size_t i = 0; i < n; ++i) {
    const double step = double(p[i]) - double(p0[i]);
    const double want = g[i] > 0 ? -double(cfg.lr) : double(cfg.lr);
    if (!(std::abs(step - want) <= 1e-3 * cfg.lr + 1e-7)) {
      if (bad++ == 0)
        FAIL_CHECK("first mismatch at " << i << ": g " << g[i] << ", step " << step << ", want "
                                        << want);
    }
  }
  CHECK(bad == 0);
}

TEST_CASE("adam: bias correction makes a constant gradient move by ~lr at every step") {
  // With g constant, m_hat = g and v_hat = g^2 exactly, so each step is lr g / (|g| + eps).
  // Without the corrections, step t would be lr (1 - beta1^t) / sqrt(1 - beta2^t) instead.
  AdamConfig cfg;
  cfg.lr = 0.01f;
  std::vector<double> p{0.0, 0.0}, m(2, 0.0), v(2, 0.0);
  const double g[] = {0.3, -7.0};
  for (int t = 1; t <= 20; ++t) {
    const double before0 = p[0], before1 = p[1];
    gan::cpu::adam_update<double>(p.data(), g, m.data(), v.data(), 2, cfg, t);
    INFO("t=" << t);
    CHECK(before0 - p[0] == doctest::Approx(double(cfg.lr) * 0.3 / (0.3 + double(cfg.eps))));
    CHECK(p[1] - before1 == doctest::Approx(double(cfg.lr) * 7.0 / (7.0 + double(cfg.eps))));
  }
  CHECK(p[0] == doctest::Approx(-20 * 0.01).epsilon(1e-6));
  CHECK(p[1] == doctest::Approx(20 * 0.01).epsilon(1e-6));
}

TEST_CASE("adam: the backend counts steps per net and skips the net whose check failed") {
  auto be = gan::make_cpu_backend();
  const AdamConfig cfg = hand_config();
  const size_t n = 3;
  std::vector<float> pg{1, 2, 3}, gg{0.5f, -0.5f, 1}, mg(n, 0.f), vg(n, 0.f);
  std::vector<float> pd{-1, 0, 1}, gd{2, 2, -2}, md(n, 0.f), vd(n, 0.f);
  StepCounters c;
  const float loss = 0.7f;

  // Both fine: each net takes its own first step.
  be->check_finite(gg.data(), n, &loss, Net::G, &c);
  be->check_finite(gd.data(), n, &loss, Net::D, &c);
  be->adam(pg.data(), gg.data(), mg.data(), vg.data(), n, cfg, Net::G, &c);
  be->adam(pd.data(), gd.data(), md.data(), vd.data(), n, cfg, Net::D, &c);
  CHECK(c.adam_step[0] == 1);
  CHECK(c.adam_step[1] == 1);
  check_close("G after step 1", pg, std::vector<double>{0.875, 2.125, 2.875}, 1e-6, 0);
  check_close("D after step 1", pd, std::vector<double>{-1.125, -0.125, 1.125}, 1e-6, 0);

  // D's gradients turn bad: D is skipped (params, m, v untouched), G still steps.
  gd[1] = std::numeric_limits<float>::quiet_NaN();
  be->check_finite(gd.data(), n, &loss, Net::D, &c);
  be->check_finite(gg.data(), n, &loss, Net::G, &c);
  REQUIRE(c.bad_now[1] == 1);
  REQUIRE(c.bad_now[0] == 0);
  const std::vector<float> pd0 = pd, md0 = md, vd0 = vd, pg0 = pg;
  be->adam(pd.data(), gd.data(), md.data(), vd.data(), n, cfg, Net::D, &c);
  be->adam(pg.data(), gg.data(), mg.data(), vg.data(), n, cfg, Net::G, &c);
  CHECK(pd == pd0);
  CHECK(md == md0);
  CHECK(vd == vd0);
  CHECK(c.skipped[1] == 1);
  CHECK(c.adam_step[1] == 1);
  CHECK(c.skipped[0] == 0);
  CHECK(c.adam_step[0] == 2);
  CHECK(pg != pg0);

  // A second skip counts again; recovery resumes at t = 2.
  be->adam(pd.data(), gd.data(), md.data(), vd.data(), n, cfg, Net::D, &c);
  CHECK(c.skipped[1] == 2);
  CHECK(pd == pd0);
  gd[1] = 2;
  be->check_finite(gd.data(), n, &loss, Net::D, &c);
  CHECK(c.bad_now[1] == 0);
  std::vector<float> pw = pd, mw = md, vw = vd;
  gan::cpu::adam_update<float>(pw.data(), gd.data(), mw.data(), vw.data(), n, cfg, 2);
  be->adam(pd.data(), gd.data(), md.data(), vd.data(), n, cfg, Net::D, &c);
  CHECK(c.adam_step[1] == 2);
  CHECK(pd == pw);
  CHECK(md == mw);
  CHECK(vd == vw);
}

TEST_CASE("adam: check_finite flags NaN and Inf in the loss and the gradients, first time kept") {
  auto be = gan::make_cpu_backend();
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const float inf = std::numeric_limits<float>::infinity();
  std::vector<float> g(100, 0.25f);
  float loss = 1.f;
  StepCounters c;

  c.iteration = 3;
  be->check_finite(g.data(), g.size(), &loss, Net::D, &c);
  CHECK(c.bad_now[1] == 0);
  CHECK(c.first_bad_iteration[1] == -1);

  loss = nan;
  be->check_finite(g.data(), g.size(), &loss, Net::D, &c);
  CHECK(c.bad_now[1] == 1);
  CHECK(c.first_bad_iteration[1] == 3);
  CHECK(c.bad_now[0] == 0);  // the other net is not touched
  CHECK(c.first_bad_iteration[0] == -1);

  // Later failures keep the first iteration; success clears bad_now only.
  const float bad_values[] = {inf, -inf, nan};
  for (float bad : bad_values) {
    for (size_t where : {size_t(0), size_t(57), g.size() - 1}) {
      INFO("value=" << bad << " at " << where);
      c.iteration += 1;
      loss = 1.f;
      be->check_finite(g.data(), g.size(), &loss, Net::D, &c);
      CHECK(c.bad_now[1] == 0);
      g[where] = bad;
      be->check_finite(g.data(), g.size(), &loss, Net::D, &c);
      CHECK(c.bad_now[1] == 1);
      CHECK(c.first_bad_iteration[1] == 3);
      g[where] = 0.25f;
    }
  }
  for (float bad : {inf, -inf}) {
    loss = bad;
    be->check_finite(g.data(), g.size(), &loss, Net::D, &c);
    CHECK(c.bad_now[1] == 1);
  }
  loss = 1.f;
  be->check_finite(g.data(), g.size(), &loss, Net::D, &c);
  CHECK(c.bad_now[1] == 0);
  CHECK(c.first_bad_iteration[1] == 3);

  // G's first failure is recorded at its own iteration; an empty gradient checks the loss only.
  c.iteration = 11;
  loss = inf;
  be->check_finite(g.data(), 0, &loss, Net::G, &c);
  CHECK(c.bad_now[0] == 1);
  CHECK(c.first_bad_iteration[0] == 11);
  CHECK(c.first_bad_iteration[1] == 3);
  loss = 2.f;
  g[0] = nan;
  be->check_finite(g.data(), 0, &loss, Net::G, &c);
  CHECK(c.bad_now[0] == 0);
}

TEST_CASE("adam: end_iteration advances the iteration and the batch cursor") {
  auto be = gan::make_cpu_backend();
  StepCounters c;
  c.batch_cursor = 4;
  be->end_iteration(&c, 1);
  be->end_iteration(&c, 3);
  CHECK(c.iteration == 2);
  CHECK(c.batch_cursor == 8);
}

TEST_CASE("adam: both variants write nothing past the n elements they are given") {
  Rng rng(81);
  const size_t n = 37;
  for (bool fast : {false, true}) {
    CAPTURE(fast);
    const std::vector<float> g = gan::test::random_vector<float>(rng, n + 1);
    std::vector<float> p = gan::test::random_vector<float>(rng, n + 1);
    std::vector<float> m(n + 1, 0.0f), v(n + 1, 0.0f);
    p[n] = m[n] = v[n] = 7.0f;  // a sentinel after the arena
    gan::AdamConfig cfg;
    if (fast)
      gan::cpu::adam_update_fast(p.data(), g.data(), m.data(), v.data(), n, cfg, 1);
    else
      gan::cpu::adam_update<float>(p.data(), g.data(), m.data(), v.data(), n, cfg, 1);
    CHECK(p[n] == 7.0f);
    CHECK(m[n] == 7.0f);
    CHECK(v[n] == 7.0f);
    CHECK(m[n - 1] != 0.0f);  // the last element was updated
  }
}

// ---- the learning-rate decay -------------------------------------------------------------

TEST_CASE("lr decay: 1 before the start, a straight line to 0 over the decay, 0 from its end") {
  for (int64_t i : {int64_t(0), int64_t(7), int64_t(1) << 40}) {
    CHECK(gan::lr_scale(0, 0, i) == 1.0);  // no decay
    CHECK(gan::lr_scale(5, 5, i) == 1.0);  // an empty decay is none
    CHECK(gan::lr_scale(9, 4, i) == 1.0);  // end before start: none
  }
  CHECK(gan::lr_scale(10, 20, 0) == 1.0);
  CHECK(gan::lr_scale(10, 20, 9) == 1.0);
  CHECK(gan::lr_scale(10, 20, 10) == 1.0);  // the first decayed iteration is at full rate
  CHECK(gan::lr_scale(10, 20, 15) == 0.5);
  CHECK(gan::lr_scale(10, 20, 19) == doctest::Approx(0.1).epsilon(1e-15));
  CHECK(gan::lr_scale(10, 20, 20) == 0.0);
  CHECK(gan::lr_scale(10, 20, 21) == 0.0);
  CHECK(gan::lr_scale(0, 3, 1) == 2.0 / 3.0);
  // Equal steps down: every iteration of the decay lowers the scale by 1 / (end - start).
  const int64_t start = 1000, end = 1000 + 23400;
  for (int64_t i = start; i + 1 < end; i += 97)
    CHECK(gan::lr_scale(start, end, i) - gan::lr_scale(start, end, i + 1) ==
          doctest::Approx(1.0 / (end - start)).epsilon(1e-9));
}

TEST_CASE("adam: a scaled rate scales the step, and a scale of 0 leaves the parameters") {
  const AdamConfig cfg = hand_config();
  const double g[] = {2.0, -3.0}, start[] = {1.0, 0.5};
  std::vector<double> p[3], m[3], v[3];
  const double scales[] = {1.0, 0.5, 0.0};
  for (int k = 0; k < 3; ++k) {
    p[k] = {start[0], start[1]};
    m[k] = v[k] = {0.0, 0.0};
    gan::cpu::adam_update<double>(p[k].data(), g, m[k].data(), v[k].data(), 2, cfg, 1,
                                  scales[k]);
  }
  for (int i = 0; i < 2; ++i) {
    CAPTURE(i);
    CHECK(p[0][i] != start[i]);
    CHECK(p[1][i] - start[i] == doctest::Approx(0.5 * (p[0][i] - start[i])).epsilon(1e-14));
    CHECK(p[2][i] == start[i]);
    for (int k = 1; k < 3; ++k) {  // the moments do not depend on the rate
      CHECK(m[k][i] == m[0][i]);
      CHECK(v[k][i] == v[0][i]);
    }
  }
}

TEST_CASE("adam: the backend scales the rate by the decay at the counters' iteration") {
  AdamConfig cfg = hand_config();
  cfg.decay_start = 2;
  cfg.decay_end = 6;
  Rng rng(12);
  const size_t n = 37;  // not a multiple of the fast variant's chunks
  for (const char* variant : {"fast", "reference"}) {
    auto be = gan::make_cpu_backend();
    be->select_kernel("adam", variant);
    for (int64_t iteration : {0, 2, 3, 5, 6, 9}) {
      CAPTURE(variant);
      CAPTURE(iteration);
      std::vector<float> p(n), g(n), m(n), v(n);
      for (size_t i = 0; i < n; ++i) {
        p[i] = float(rng.uniform(-1, 1));
        g[i] = float(rng.uniform(-1, 1));
        m[i] = float(rng.uniform(-0.1, 0.1));
        v[i] = float(rng.uniform(0, 0.1));
      }
      const std::vector<float> p0 = p, m0 = m, v0 = v;
      std::vector<float> pw = p, mw = m, vw = v;
      StepCounters c;
      c.iteration = iteration;
      c.adam_step[1] = 4;
      be->adam(p.data(), g.data(), m.data(), v.data(), n, cfg, Net::D, &c);
      const double scale = gan::lr_scale(2, 6, iteration);
      gan::cpu::adam_update<float>(pw.data(), g.data(), mw.data(), vw.data(), n, cfg, 5, scale);
      CHECK(c.adam_step[1] == 5);
      CHECK(p == pw);
      CHECK(m == mw);
      CHECK(v == vw);
      CHECK(m != m0);
      CHECK((p == p0) == (iteration >= 6));  // past the end only the moments move
      // The undecayed step: the same before the decay and at its first iteration only.
      std::vector<float> pu = p0, mu = m0, vu = v0;
      gan::cpu::adam_update<float>(pu.data(), g.data(), mu.data(), vu.data(), n, cfg, 5);
      CHECK((p == pu) == (iteration <= 2));
    }
  }
}
