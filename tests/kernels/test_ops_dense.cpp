/*
 * test_ops_dense.cpp — the reference dense layer (Linear [+ BatchNorm1d] + activation).
 *
 * Backward: central finite differences in double of loss = sum(dy_rand * y) with respect to
 * x, W, b, gamma, beta, for BatchNorm on/off x every activation at awkward shapes; in
 * training-mode BatchNorm every perturbation re-runs the forward, so the batch statistics
 * move with it. Samples with a pre-activation within 1e-3 of the ReLU kink are redrawn.
 * Forward: both CPU variants (reference and fast) against a naive loop; running-statistic
 * updates and eval mode against hand values; both variants' float backward against the
 * double reference.
 */
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "engine/backend.hpp"
#include "engine/base/error.hpp"
#include "kernels/cpu/cpu_backend.hpp"
#include "kernels/cpu/linear_bn_act_cpu.hpp"
#include "tests/support/test_util.hpp"

namespace {

// Both variants of the CPU backend's dense ops: the hand values and naive loops below judge
// the reference (the oracle of every other backend) as well as the fast default.
std::vector<std::pair<std::string, std::unique_ptr<gan::Backend>>> cpu_variants() {
  std::vector<std::pair<std::string, std::unique_ptr<gan::Backend>>> v;
  v.emplace_back("reference", gan::make_cpu_reference_backend());
  v.emplace_back("fast", gan::make_cpu_backend());
  return v;
}

using gan::Act;
using gan::DenseDesc;
using gan::Mode;
using gan::test::check_close;
using gan::test::make_desc;
using gan::test::random_vector;
using gan::test::Rng;
using Vec = std::vector<double>;
using VecF = std::vector<float>;

const Act kActs[] = {Act::None, Act::ReLU, Act::LeakyReLU, Act::Sigmoid};
const float kNaN = std::numeric_limits<float>::quiet_NaN();

template <typename T>
bool all_nan(const std::vector<T>& v) {
  return std::all_of(v.begin(), v.end(), [](T e) { return std::isnan(e); });
}

// One layer's inputs and a random upstream gradient, in T.
template <typename T>
struct DenseData {
  std::vector<T> x, W, b, gamma, beta, dy;
  DenseData() = default;
  DenseData(Rng& rng, const DenseDesc& d, int rows)
      : x(random_vector<T>(rng, size_t(rows) * d.in)),
        W(random_vector<T>(rng, size_t(d.out) * d.in, -0.8, 0.8)),
        b(random_vector<T>(rng, d.out, -0.5, 0.5)),
        gamma(random_vector<T>(rng, d.out, 0.5, 1.5)),
        beta(random_vector<T>(rng, d.out, -0.5, 0.5)),
        dy(random_vector<T>(rng, size_t(rows) * d.out)) {}
};

// A training-mode forward with its own scratch buffers: y, and the saved state that
// dense_backward reads.
template <typename T>
struct TrainForward {
  std::vector<T> z, mean, rstd, rm, rv, y;
  gan::cpu::DenseRef<T> p;
  TrainForward(const DenseDesc& d, int rows, const DenseData<T>& t)
      : z(size_t(rows) * d.out), mean(d.out), rstd(d.out), rm(d.out, T(0)), rv(d.out, T(1)),
        y(size_t(rows) * d.out) {
    p.W = t.W.data();
    p.b = t.b.data();
    if (d.batchnorm) {
      p.gamma = t.gamma.data();
      p.beta = t.beta.data();
      p.running_mean = rm.data();
      p.running_var = rv.data();
      p.z = z.data();
      p.mean = mean.data();
      p.rstd = rstd.data();
    }
    gan::cpu::dense_forward<T>(d, Mode::Train, rows, t.x.data(), p, y.data());
  }
};

// Training-mode forward with fresh scratch buffers; returns y.
template <typename T>
std::vector<T> forward_train(const DenseDesc& d, int rows, const DenseData<T>& t) {
  return TrainForward<T>(d, rows, t).y;
}

double dense_loss(const DenseDesc& d, int rows, const DenseData<double>& t) {
  const Vec y = forward_train(d, rows, t);
  double s = 0;
  for (size_t i = 0; i < y.size(); ++i) s += t.dy[i] * y[i];
  return s;
}

// Draws data whose pre-activations stay at least 1e-3 away from 0 (the ReLU kinks).
DenseData<double> draw_kink_free(Rng& rng, const DenseDesc& d, int rows) {
  DenseDesc linear = d;
  linear.act = Act::None;
  for (int attempt = 0; attempt < 100; ++attempt) {
    DenseData<double> t(rng, d, rows);
    const Vec h = forward_train(linear, rows, t);
    double closest = 1e300;
    for (double v : h) closest = std::min(closest, std::abs(v));
    if (closest >= 1e-3) return t;
  }
  FAIL("could not draw a sample away from the activation kink");
  return DenseData<double>(rng, d, rows);
}

struct Grads {
  Vec dx, dW, db, dgamma, dbeta;
};

// Analytic gradients: training forward, then dense_backward with dy = the upstream gradient.
// Outputs are poisoned with NaN first, so anything not written shows.
template <typename T>
void analytic_grads(const DenseDesc& d, int rows, const DenseData<T>& t, bool want_params,
                    bool want_dx, std::vector<T>* dx, std::vector<T>* dW, std::vector<T>* db,
                    std::vector<T>* dgamma, std::vector<T>* dbeta) {
  const T nan = std::numeric_limits<T>::quiet_NaN();
  TrainForward<T> f(d, rows, t);
  std::vector<T> dy = t.dy;
  dx->assign(size_t(rows) * d.in, nan);
  dW->assign(size_t(d.out) * d.in, nan);
  db->assign(d.out, nan);
  dgamma->assign(d.batchnorm ? d.out : 0, nan);
  dbeta->assign(d.batchnorm ? d.out : 0, nan);
  gan::cpu::DenseGradRef<T> g;
  if (want_params) {
    g.dW = dW->data();
    g.db = db->data();
    if (d.batchnorm) {
      g.dgamma = dgamma->data();
      g.dbeta = dbeta->data();
    }
  }
  gan::cpu::dense_backward<T>(d, rows, t.x.data(), f.p, f.y.data(), dy.data(), g,
                              want_dx ? dx->data() : nullptr);
}

}  // namespace

TEST_CASE("dense: finite differences in double match dx, dW, db, dgamma, dbeta for every variant") {
  Rng rng(20140610);
  const int shapes[][2] = {{5, 4}, {1, 3}, {6, 1}};
  for (bool bn : {false, true})
    for (Act act : kActs)
      for (int rows : {2, 3, 7})
        for (const auto& shape : shapes) {
          const DenseDesc d = make_desc(shape[0], shape[1], bn, act);
          INFO("batchnorm=" << bn << " act=" << std::string(gan::act_name(act))
                             << " rows=" << rows << " in=" << d.in << " out=" << d.out);
          DenseData<double> t = draw_kink_free(rng, d, rows);
          Grads a;
          analytic_grads<double>(d, rows, t, true, true, &a.dx, &a.dW, &a.db, &a.dgamma,
                                 &a.dbeta);
          auto loss = [&] { return dense_loss(d, rows, t); };
          const double atol = 1e-8, rtol = 1e-6;
          check_close("dx", a.dx, gan::test::finite_diff(t.x, loss), atol, rtol);
          check_close("dW", a.dW, gan::test::finite_diff(t.W, loss), atol, rtol);
          check_close("db", a.db, gan::test::finite_diff(t.b, loss), atol, rtol);
          if (bn) {
            check_close("dgamma", a.dgamma, gan::test::finite_diff(t.gamma, loss), atol, rtol);
            check_close("dbeta", a.dbeta, gan::test::finite_diff(t.beta, loss), atol, rtol);
          }

          // Asking for dx only, or for the parameter gradients only, gives the same bits.
          Grads only;
          analytic_grads<double>(d, rows, t, false, true, &only.dx, &only.dW, &only.db,
                                 &only.dgamma, &only.dbeta);
          CHECK(only.dx == a.dx);
          CHECK(all_nan(only.dW));
          analytic_grads<double>(d, rows, t, true, false, &only.dx, &only.dW, &only.db,
                                 &only.dgamma, &only.dbeta);
          CHECK(only.dW == a.dW);
          CHECK(only.db == a.db);
          CHECK(only.dgamma == a.dgamma);
          CHECK(all_nan(only.dx));
        }
}

TEST_CASE("dense: the float forward matches a naive loop, with saved z/mean/rstd, running stats") {
  for (const auto& [variant, be] : cpu_variants()) {
    INFO("variant " << variant);
    Rng rng(7);
    const int rows = 7;
    for (bool bn : {false, true})
      for (Act act : kActs) {
        const DenseDesc d = make_desc(5, 4, bn, act);
        INFO("batchnorm=" << bn << " act=" << std::string(gan::act_name(act)));
        DenseData<float> t(rng, d, rows);
        const size_t n = size_t(rows) * d.out;
        VecF y(n, kNaN), z(n, kNaN), mean(d.out, kNaN), rstd(d.out, kNaN);
        VecF rm = random_vector<float>(rng, d.out), rv = random_vector<float>(rng, d.out, 0.5, 2);
        const VecF rm0 = rm, rv0 = rv;
        gan::DenseParams p{t.W.data(), t.b.data(), bn ? t.gamma.data() : nullptr,
                           bn ? t.beta.data() : nullptr};
        gan::BnStats rs{bn ? rm.data() : nullptr, bn ? rv.data() : nullptr};
        gan::DenseSaved s{bn ? z.data() : nullptr, bn ? mean.data() : nullptr,
                          bn ? rstd.data() : nullptr};
        be->dense_forward(d, Mode::Train, rows, t.x.data(), p, rs, s, y.data());

        // The naive computation, column by column, in double.
        Vec zw(n), yw(n), mw(d.out), rw(d.out), rmw(d.out), rvw(d.out);
        for (int r = 0; r < rows; ++r)
          for (int j = 0; j < d.out; ++j) {
            double acc = t.b[j];
            for (int k = 0; k < d.in; ++k) acc += double(t.x[r * d.in + k]) * t.W[j * d.in + k];
            zw[r * d.out + j] = acc;
          }
        for (int j = 0; j < d.out; ++j) {
          double sum = 0, sq = 0;
          for (int r = 0; r < rows; ++r) sum += zw[r * d.out + j];
          const double m = sum / rows;
          for (int r = 0; r < rows; ++r) sq += (zw[r * d.out + j] - m) * (zw[r * d.out + j] - m);
          const double var = sq / rows;
          mw[j] = m;
          rw[j] = 1.0 / std::sqrt(var + 1e-5);
          rmw[j] = 0.9 * rm0[j] + 0.1 * m;
          rvw[j] = 0.9 * rv0[j] + 0.1 * (sq / (rows - 1));
          for (int r = 0; r < rows; ++r) {
            const double zz = zw[r * d.out + j];
            const double h = bn ? t.gamma[j] * (zz - m) / std::sqrt(var + 1e-5) + t.beta[j] : zz;
            double out = h;
            if (act == Act::ReLU) out = h > 0 ? h : 0.0;
            if (act == Act::LeakyReLU) out = h > 0 ? h : 0.2 * h;
            if (act == Act::Sigmoid) out = 1.0 / (1.0 + std::exp(-h));
            yw[r * d.out + j] = out;
          }
        }
        check_close("y", y, yw, 2e-6, 1e-5);
        if (bn) {
          check_close("saved z", z, zw, 2e-6, 1e-5);
          check_close("saved mean", mean, mw, 2e-6, 1e-5);
          check_close("saved rstd", rstd, rw, 2e-6, 1e-5);
          check_close("running_mean", rm, rmw, 2e-6, 1e-5);
          check_close("running_var", rv, rvw, 2e-6, 1e-5);
        } else {
          CHECK(rm == rm0);  // untouched without BatchNorm (not even passed)
          CHECK(all_nan(z));
        }
      }
  }
}

TEST_CASE("dense: running statistics follow momentum with the unbiased variance (hand values)") {
  // One feature, W = 1, b = 0, x = {1, 2, 6}: batch mean 3, biased var 14/3, unbiased var 7.
  const VecF x{1, 2, 6}, W{1}, b{0}, gamma{1}, beta{0};
  for (float momentum : {0.1f, 1.0f, 0.0f}) {
    INFO("momentum=" << momentum);
    DenseDesc d = make_desc(1, 1, true, Act::None);
    d.bn_momentum = momentum;
    VecF y(3), z(3), mean(1), rstd(1), rm{0.5f}, rv{2.0f};
    gan::cpu::DenseRef<float> p;
    p.W = W.data(); p.b = b.data(); p.gamma = gamma.data(); p.beta = beta.data();
    p.running_mean = rm.data(); p.running_var = rv.data();
    p.z = z.data(); p.mean = mean.data(); p.rstd = rstd.data();
    gan::cpu::dense_forward<float>(d, Mode::Train, 3, x.data(), p, y.data());
    const double m = momentum;
    CHECK(rm[0] == doctest::Approx((1 - m) * 0.5 + m * 3.0).epsilon(1e-6));
    CHECK(rv[0] == doctest::Approx((1 - m) * 2.0 + m * 7.0).epsilon(1e-6));
    CHECK(mean[0] == doctest::Approx(3.0).epsilon(1e-6));
    CHECK(rstd[0] == doctest::Approx(1.0 / std::sqrt(14.0 / 3.0 + 1e-5)).epsilon(1e-6));
    const double r = 1.0 / std::sqrt(14.0 / 3.0 + 1e-5);
    check_close("y", y, Vec{-2 * r, -1 * r, 3 * r}, 1e-6, 1e-6);
  }
  // The hand numbers for momentum 0.1: 0.75 and 2.5.
  DenseDesc d = make_desc(1, 1, true, Act::None);
  for (const auto& [variant, be] : cpu_variants()) {
    INFO("variant " << variant);
    VecF y(3), z(3), mean(1), rstd(1), rm{0.5f}, rv{2.0f};
    be->dense_forward(d, Mode::Train, 3, x.data(),
                      gan::DenseParams{W.data(), b.data(), gamma.data(), beta.data()},
                      gan::BnStats{rm.data(), rv.data()},
                      gan::DenseSaved{z.data(), mean.data(), rstd.data()}, y.data());
    CHECK(rm[0] == doctest::Approx(0.75).epsilon(1e-6));
    CHECK(rv[0] == doctest::Approx(2.5).epsilon(1e-6));
  }
}

TEST_CASE("dense: eval mode normalises with the running statistics and leaves them alone") {
  for (const auto& [variant, be] : cpu_variants()) {
    INFO("variant " << variant);
    const VecF x{1, 2, 6}, W{1}, b{0}, gamma{2};
    for (float beta_v : {0.5f, -2.0f}) {
      for (Act act : {Act::None, Act::ReLU}) {
        INFO("beta=" << beta_v << " act=" << std::string(gan::act_name(act)));
        const VecF beta{beta_v};
        const DenseDesc d = make_desc(1, 1, true, act);
        VecF y(3, kNaN), z(3, 123.f), mean{123.f}, rstd{123.f}, rm{0.75f}, rv{2.5f};
        be->dense_forward(d, Mode::Eval, 3, x.data(),
                          gan::DenseParams{W.data(), b.data(), gamma.data(), beta.data()},
                          gan::BnStats{rm.data(), rv.data()},
                          gan::DenseSaved{z.data(), mean.data(), rstd.data()}, y.data());
        Vec want(3);
        for (int r = 0; r < 3; ++r) {
          const double h = 2.0 * (x[r] - 0.75) / std::sqrt(2.5 + 1e-5) + beta_v;
          want[r] = act == Act::ReLU ? std::max(h, 0.0) : h;
        }
        check_close("y", y, want, 1e-6, 1e-6);
        CHECK(rm[0] == 0.75f);
        CHECK(rv[0] == 2.5f);
        CHECK(z == VecF(3, 123.f));
        CHECK(mean[0] == 123.f);
        CHECK(rstd[0] == 123.f);
      }
    }
    // One row is fine in eval mode.
    VecF y1{kNaN}, rm{0.75f}, rv{2.5f};
    const VecF beta{0.5f};
    be->dense_forward(make_desc(1, 1, true, Act::None), Mode::Eval, 1, x.data(),
                      gan::DenseParams{W.data(), b.data(), gamma.data(), beta.data()},
                      gan::BnStats{rm.data(), rv.data()}, gan::DenseSaved{}, y1.data());
    CHECK(y1[0] == doctest::Approx(2.0 * 0.25 / std::sqrt(2.5 + 1e-5) + 0.5).epsilon(1e-6));
  }
}

TEST_CASE("dense: training-mode BatchNorm refuses fewer than 2 rows") {
  const DenseDesc d = make_desc(2, 2, true, Act::ReLU);
  Rng rng(3);
  for (int rows : {0, 1}) {
    INFO("rows=" << rows);
    DenseData<double> t(rng, d, 2);
    Vec y(4), z(4), mean(2), rstd(2), rm(2, 0.0), rv(2, 1.0);
    gan::cpu::DenseRef<double> p;
    p.W = t.W.data(); p.b = t.b.data(); p.gamma = t.gamma.data(); p.beta = t.beta.data();
    p.running_mean = rm.data(); p.running_var = rv.data();
    p.z = z.data(); p.mean = mean.data(); p.rstd = rstd.data();
    CHECK_THROWS_AS(gan::cpu::dense_forward<double>(d, Mode::Train, rows, t.x.data(), p, y.data()),
                    gan::Error);
    CHECK(rm == Vec(2, 0.0));  // nothing updated before the refusal
    CHECK(rv == Vec(2, 1.0));

    auto be = gan::make_cpu_backend();
    DenseData<float> tf(rng, d, 2);
    VecF yf(4), zf(4), mf(2), rf(2), rmf(2, 0.f), rvf(2, 1.f);
    CHECK_THROWS_WITH_AS(
        be->dense_forward(d, Mode::Train, rows, tf.x.data(),
                          gan::DenseParams{tf.W.data(), tf.b.data(), tf.gamma.data(),
                                           tf.beta.data()},
                          gan::BnStats{rmf.data(), rvf.data()},
                          gan::DenseSaved{zf.data(), mf.data(), rf.data()}, yf.data()),
        doctest::Contains("at least 2 rows"), gan::Error);
  }
  // Without BatchNorm one row is an ordinary product.
  const DenseDesc plain = make_desc(2, 2, false, Act::None);
  DenseData<double> t(rng, plain, 1);
  Vec y(2);
  gan::cpu::DenseRef<double> p;
  p.W = t.W.data(); p.b = t.b.data();
  gan::cpu::dense_forward<double>(plain, Mode::Train, 1, t.x.data(), p, y.data());
  CHECK(y[0] == doctest::Approx(t.b[0] + t.x[0] * t.W[0] + t.x[1] * t.W[1]));
  CHECK(y[1] == doctest::Approx(t.b[1] + t.x[0] * t.W[2] + t.x[1] * t.W[3]));
}

TEST_CASE("dense: the float backend's backward matches the double reference, deterministically") {
  for (const auto& [variant, be] : cpu_variants()) {
    INFO("variant " << variant);
    Rng rng(99);
    const int rows = 7;
    for (bool bn : {false, true})
      for (Act act : kActs) {
        const DenseDesc d = make_desc(5, 4, bn, act);
        INFO("batchnorm=" << bn << " act=" << std::string(gan::act_name(act)));
        DenseData<double> td = draw_kink_free(rng, d, rows);
        DenseData<float> tf;
        auto to_f = [](const Vec& v) { return VecF(v.begin(), v.end()); };
        tf.x = to_f(td.x); tf.W = to_f(td.W); tf.b = to_f(td.b);
        tf.gamma = to_f(td.gamma); tf.beta = to_f(td.beta); tf.dy = to_f(td.dy);
        // The double reference starts from the float-rounded data.
        auto to_d = [](const VecF& v) { return Vec(v.begin(), v.end()); };
        td.x = to_d(tf.x); td.W = to_d(tf.W); td.b = to_d(tf.b);
        td.gamma = to_d(tf.gamma); td.beta = to_d(tf.beta); td.dy = to_d(tf.dy);
        Grads want;
        analytic_grads<double>(d, rows, td, true, true, &want.dx, &want.dW, &want.db, &want.dgamma,
                               &want.dbeta);

        const size_t n = size_t(rows) * d.out;
        VecF results[2][5];
        for (int run = 0; run < 2; ++run) {
          VecF y(n, kNaN), z(n, kNaN), mean(d.out, kNaN), rstd(d.out, kNaN);
          VecF rm(d.out, 0.f), rv(d.out, 1.f);
          gan::DenseParams p{tf.W.data(), tf.b.data(), bn ? tf.gamma.data() : nullptr,
                             bn ? tf.beta.data() : nullptr};
          gan::DenseSaved s{bn ? z.data() : nullptr, bn ? mean.data() : nullptr,
                            bn ? rstd.data() : nullptr};
          be->dense_forward(d, Mode::Train, rows, tf.x.data(), p,
                            gan::BnStats{bn ? rm.data() : nullptr, bn ? rv.data() : nullptr}, s,
                            y.data());
          VecF dy = tf.dy, dx(size_t(rows) * d.in, kNaN), dW(size_t(d.out) * d.in, kNaN);
          VecF db(d.out, kNaN), dgamma(d.out, kNaN), dbeta(d.out, kNaN);
          gan::DenseGrads g{dW.data(), db.data(), bn ? dgamma.data() : nullptr,
                            bn ? dbeta.data() : nullptr};
          be->dense_backward(d, rows, tf.x.data(), p, s, y.data(), dy.data(), g, dx.data());
          results[run][0] = dx; results[run][1] = dW; results[run][2] = db;
          results[run][3] = dgamma; results[run][4] = dbeta;
        }
        const VecF* got = results[0];
        check_close("dx", got[0], want.dx, 1e-5, 1e-4);
        check_close("dW", got[1], want.dW, 1e-5, 1e-4);
        check_close("db", got[2], want.db, 1e-5, 1e-4);
        if (bn) {
          check_close("dgamma", got[3], want.dgamma, 1e-5, 1e-4);
          check_close("dbeta", got[4], want.dbeta, 1e-5, 1e-4);
        }
        for (int k = 0; k < 5; ++k)
          CHECK(std::memcmp(results[0][k].data(), results[1][k].data(),
                            results[0][k].size() * sizeof(float)) == 0);
      }
  }
}

TEST_CASE("dense: the bias gradient of a BatchNorm layer is ~0, that of a plain layer is not") {
  for (const auto& [variant, be] : cpu_variants()) {
    INFO("variant " << variant);
    Rng rng(11);
    const int rows = 9;
    for (bool bn : {true, false}) {
      INFO("batchnorm=" << bn);
      const DenseDesc d = make_desc(6, 5, bn, Act::LeakyReLU);
      DenseData<float> t(rng, d, rows);
      const size_t n = size_t(rows) * d.out;
      VecF y(n), z(n), mean(d.out), rstd(d.out), rm(d.out, 0.f), rv(d.out, 1.f);
      gan::DenseParams p{t.W.data(), t.b.data(), bn ? t.gamma.data() : nullptr,
                         bn ? t.beta.data() : nullptr};
      gan::DenseSaved s{bn ? z.data() : nullptr, bn ? mean.data() : nullptr,
                        bn ? rstd.data() : nullptr};
      be->dense_forward(d, Mode::Train, rows, t.x.data(), p,
                        gan::BnStats{bn ? rm.data() : nullptr, bn ? rv.data() : nullptr}, s,
                        y.data());
      VecF dx(size_t(rows) * d.in), dW(size_t(d.out) * d.in), db(d.out, kNaN), dgamma(d.out),
          dbeta(d.out);
      be->dense_backward(d, rows, t.x.data(), p, s, y.data(), t.dy.data(),
                         gan::DenseGrads{dW.data(), db.data(), bn ? dgamma.data() : nullptr,
                                         bn ? dbeta.data() : nullptr},
                         dx.data());
      double largest = 0;
      for (float v : db) largest = std::max(largest, double(std::abs(v)));
      if (bn)
        CHECK(largest < 1e-5);
      else
        CHECK(largest > 1e-2);
    }
  }
}
