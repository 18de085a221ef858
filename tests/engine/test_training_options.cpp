/*
 * test_training_options.cpp — the training options of issue 9 on the CPU reference:
 *
 *   - dropout in D: finite differences in double through a fixed mask, the keep rate and the
 *     1/(1-p) factor, the same mask on forward and backward, the draw number read from
 *     memory when the op runs;
 *   - one-sided label smoothing: loss, value and gradients against hand formulas and
 *     finite differences; label 1 gives d_head's bits;
 *   - the weight average: the update rule, its skip, the trainer's average after one step;
 *   - BatchNorm momentum of the running statistics;
 *   - the learning-rate decay: epochs turned into iterations, the undecayed run up to its
 *     start, weights that stop at its end;
 *   - sampling with batch-statistics BatchNorm: chunks by hand, prefixes, running statistics
 *     untouched, the averaged weights, refusals;
 *   - training with every option: deterministic, and a checkpoint (save -> load) continues
 *     bit-exactly; checkpoint names, weights-only files, files without the average, JSON of
 *     the new fields and of older configurations.
 */
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "engine/checkpoint.hpp"
#include "engine/base/error.hpp"
#include "engine/io/idx.hpp"
#include "engine/io/safetensors.hpp"
#include "engine/train_config.hpp"
#include "engine/trainer.hpp"
#include "kernels/cpu/cpu_backend.hpp"
#include "kernels/cpu/d_head_bce_cpu.hpp"
#include "kernels/cpu/dropout_cpu.hpp"
#include "kernels/cpu/ema_cpu.hpp"
#include "kernels/cpu/linear_bn_act_cpu.hpp"
#include "engine/dropout_mask.h"
#include "tests/support/process_runner.hpp"
#include "tests/support/safetensors_copy.hpp"
#include "tests/support/test_util.hpp"

namespace {

using namespace gan;
using test::check_close;
using test::finite_diff;
using test::make_desc;
using test::random_vector;
using test::Rng;
using Vec = std::vector<double>;

// ---- dropout -------------------------------------------------------------------------

// loss = sum(u * dropout(act(x W^T + b))) for a fixed mask, in double.
struct DropoutLayer {
  DenseDesc d;
  int rows;
  cpu::DropoutDraw m;
  Vec x, W, b, u;

  Vec forward() const {
    cpu::DenseRef<double> p;
    p.W = W.data();
    p.b = b.data();
    Vec y(size_t(rows) * d.out);
    cpu::dense_forward<double>(d, Mode::Train, rows, x.data(), p, y.data());
    cpu::dropout_forward<double>(y.size(), m, y.data());
    return y;
  }
  double loss() const {
    const Vec y = forward();
    double s = 0;
    for (size_t i = 0; i < y.size(); ++i) s += u[i] * y[i];
    return s;
  }
};

TEST_CASE("dropout: finite differences through a fixed mask match the backward") {
  for (Act act : {Act::LeakyReLU, Act::ReLU, Act::None}) {
    CAPTURE(act_name(act));
    DropoutLayer L{make_desc(7, 9, false, act), 5, cpu::DropoutDraw{0.4f, 11, 3, 2}, {}, {}, {},
                   {}};
    // Inputs whose pre-activations stay away from the kink (central differences need it).
    for (uint64_t seed = 1;; ++seed) {
      Rng rng(seed);
      L.x = random_vector<double>(rng, size_t(L.rows) * L.d.in);
      L.W = random_vector<double>(rng, size_t(L.d.out) * L.d.in, -0.8, 0.8);
      L.b = random_vector<double>(rng, L.d.out, -0.5, 0.5);
      L.u = random_vector<double>(rng, size_t(L.rows) * L.d.out);
      double nearest = 1e9;
      for (int r = 0; r < L.rows; ++r)
        for (int j = 0; j < L.d.out; ++j) {
          double z = L.b[j];
          for (int k = 0; k < L.d.in; ++k) z += L.x[r * L.d.in + k] * L.W[j * L.d.in + k];
          nearest = std::min(nearest, std::abs(z));
        }
      if (nearest > 1e-3) break;
    }
    const Vec y = L.forward();
    const size_t dropped = std::count(y.begin(), y.end(), 0.0);
    CHECK(dropped > 0);  // the mask does something at these sizes
    CHECK(dropped < y.size());
    Vec dy = L.u, dx(L.x.size()), dW(L.W.size()), db(L.b.size());
    cpu::DenseRef<double> p;
    p.W = L.W.data();
    p.b = L.b.data();
    cpu::dropout_backward<double>(dy.size(), L.m, dy.data());
    cpu::dense_backward<double>(L.d, L.rows, L.x.data(), p, y.data(), dy.data(),
                                cpu::DenseGradRef<double>{dW.data(), db.data()}, dx.data());
    auto f = [&] { return L.loss(); };
    check_close("dx", dx, finite_diff(L.x, f), 1e-7, 1e-6);
    check_close("dW", dW, finite_diff(L.W, f), 1e-7, 1e-6);
    check_close("db", db, finite_diff(L.b, f), 1e-7, 1e-6);
  }
}

TEST_CASE("dropout: the keep rate is 1 - p and kept values are scaled by 1/(1-p)") {
  const size_t n = 200000;
  for (float p : {0.1f, 0.3f, 0.5f}) {
    CAPTURE(p);
    std::vector<float> v(n, 1.0f);
    cpu::dropout_forward<float>(n, cpu::DropoutDraw{p, 5, 17, 1}, v.data());
    size_t kept = 0;
    for (float e : v) {
      if (e != 0.0f) {
        ++kept;
        CHECK(e == dropout_scale(p));
      }
    }
    const double rate = double(kept) / n, want = 1.0 - p;
    const double sigma = std::sqrt(want * (1 - want) / n);
    CHECK(std::abs(rate - want) < 5 * sigma);
  }
  std::vector<float> v(1000, 2.0f);
  cpu::dropout_forward<float>(v.size(), cpu::DropoutDraw{0.0f, 5, 17, 1}, v.data());
  CHECK(std::all_of(v.begin(), v.end(), [](float e) { return e == 2.0f; }));
}

TEST_CASE("dropout: masks differ between draws, layers and seeds, and repeat exactly") {
  const size_t n = 4096;
  auto mask = [&](cpu::DropoutDraw m) {
    std::vector<float> v(n, 1.0f);
    cpu::dropout_forward<float>(n, m, v.data());
    return v;
  };
  const auto base = mask({0.5f, 1, 10, 0});
  CHECK(mask({0.5f, 1, 10, 0}) == base);
  CHECK(mask({0.5f, 1, 11, 0}) != base);
  CHECK(mask({0.5f, 1, 10, 1}) != base);
  CHECK(mask({0.5f, 2, 10, 0}) != base);
  // The element address is (layer << 32) | e of stream Dropout:draw.
  for (size_t e : {size_t(0), size_t(1), size_t(4095)})
    CHECK((base[e] != 0.0f) ==
          (philox_uniform(1, stream_id(Stream::Dropout, 10), e) >= 0.5f));
}

TEST_CASE("dropout: the backend applies one mask to forward and backward, drawn at run time") {
  auto be = make_cpu_backend();
  const DenseDesc d = make_desc(6, 40, false, Act::None);
  const int rows = 9;
  Rng rng(3);
  const auto x = random_vector<float>(rng, size_t(rows) * d.in);
  const auto W = random_vector<float>(rng, size_t(d.out) * d.in);
  const auto b = random_vector<float>(rng, d.out);
  int64_t counter = 4;
  const DropoutMask m{0.3f, 8, &counter, 3, 1, 2};  // draw 4 * 3 + 1 = 13
  const DenseParams p{W.data(), b.data()};
  std::vector<float> y(size_t(rows) * d.out), plain(y.size());
  be->dense_forward_dropout(d, rows, x.data(), p, m, y.data());
  be->dense_forward(d, Mode::Train, rows, x.data(), p, BnStats{}, DenseSaved{}, plain.data());
  const float scale = dropout_scale(0.3f);
  for (size_t e = 0; e < y.size(); ++e) {
    const bool keep = dropout_keep(8, dropout_stream(13), 2, e, 0.3f);
    CHECK(y[e] == (keep ? plain[e] * scale : 0.0f));
  }
  std::vector<float> dy(y.size(), 1.0f), dW(W.size()), db(b.size()), dx(x.size());
  be->dense_backward_dropout(d, rows, x.data(), p, m, y.data(), dy.data(),
                             DenseGrads{dW.data(), db.data()}, dx.data());
  for (size_t e = 0; e < y.size(); ++e) CHECK(dy[e] == (y[e] != 0.0f ? scale : 0.0f));
  // The draw number is read when the op runs: a new counter value, a new mask.
  counter = 5;
  std::vector<float> y2(y.size());
  be->dense_forward_dropout(d, rows, x.data(), p, m, y2.data());
  CHECK(y2 != y);
  counter = 4;
  be->dense_forward_dropout(d, rows, x.data(), p, m, y2.data());
  CHECK(y2 == y);
  CHECK_THROWS_AS(be->dense_forward_dropout(make_desc(6, 4, true, Act::ReLU), rows, x.data(), p,
                                            m, y.data()),
                  Error);
}

// ---- label smoothing -----------------------------------------------------------------

TEST_CASE("real label: the D loss, value and gradients of one-sided label smoothing") {
  const int in = 5, n_real = 4, n_fake = 3, rows = n_real + n_fake;
  Rng rng(21);
  Vec x = random_vector<double>(rng, size_t(rows) * in, -2, 2);
  Vec w = random_vector<double>(rng, in, -1, 1);
  Vec b = {0.3};
  const double L = 0.9;
  auto logit = [&](int r) {
    double l = b[0];
    for (int k = 0; k < in; ++k) l += x[r * in + k] * w[k];
    return l;
  };
  auto sp = [](double t) { return std::log1p(std::exp(t)); };
  double want_loss = 0, want_value = 0;
  for (int r = 0; r < rows; ++r) {
    const double l = logit(r);
    if (r < n_real) {
      want_loss += (L * sp(-l) + (1 - L) * sp(l)) / n_real;
      want_value -= sp(-l) / n_real;
    } else {
      want_loss += sp(l) / n_fake;
      want_value -= sp(l) / n_fake;
    }
  }
  Vec dw(in), db(1), dx(x.size());
  const auto r = cpu::d_head<double>(in, HeadMode::DStep, n_real, n_fake, x.data(), w.data(),
                                     b.data(), dw.data(), db.data(), dx.data(), L);
  CHECK(r.d_loss == doctest::Approx(want_loss).epsilon(1e-12));
  CHECK(r.value == doctest::Approx(want_value).epsilon(1e-12));
  auto f = [&] {
    return cpu::d_head<double>(in, HeadMode::DStep, n_real, n_fake, x.data(), w.data(), b.data(),
                               nullptr, nullptr, nullptr, L)
        .d_loss;
  };
  check_close("dx", dx, finite_diff(x, f), 1e-8, 1e-6);
  check_close("dw", dw, finite_diff(w, f), 1e-8, 1e-6);
  check_close("db", db, finite_diff(b, f), 1e-8, 1e-6);
  // dL/dl of a real row is (sigmoid(l) - L) / n_real: read it off dx = dL/dl w.
  const double l0 = logit(0), s0 = 1 / (1 + std::exp(-l0));
  CHECK(dx[0] == doctest::Approx((s0 - L) / n_real * w[0]).epsilon(1e-12));
}

TEST_CASE("real label: label 1 is d_head to the bit, and the G modes ignore the label") {
  auto be = make_cpu_backend();
  const int in = 16, B = 8;
  Rng rng(4);
  const auto x = random_vector<float>(rng, size_t(2 * B) * in, -2, 2);
  const auto w = random_vector<float>(rng, in);
  const std::vector<float> b = {0.1f};
  const DenseDesc d = make_desc(in, 1, false, Act::None);
  for (HeadMode mode : {HeadMode::DStep, HeadMode::GNonSaturating, HeadMode::GMinimax}) {
    const int n_real = mode == HeadMode::DStep ? B : 0;
    const float* xs = mode == HeadMode::DStep ? x.data() : x.data() + size_t(B) * in;
    std::vector<float> dw1(in), dw2(in), db1(1), db2(1), dx1(size_t(n_real + B) * in),
        dx2(dx1.size());
    StepMetrics m1, m2;
    be->d_head(d, mode, n_real, B, xs, DenseParams{w.data(), b.data()},
               DenseGrads{dw1.data(), db1.data()}, dx1.data(), &m1);
    be->d_head_smoothed(d, mode, n_real, B, mode == HeadMode::DStep ? 1.0f : 0.9f, xs,
                        DenseParams{w.data(), b.data()}, DenseGrads{dw2.data(), db2.data()},
                        dx2.data(), &m2);
    CHECK(dw1 == dw2);
    CHECK(db1 == db2);
    CHECK(dx1 == dx2);
    CHECK(std::memcmp(&m1, &m2, sizeof m1) == 0);
  }
  StepMetrics m1, m2;
  be->d_head(d, HeadMode::DStep, B, B, x.data(), DenseParams{w.data(), b.data()}, DenseGrads{},
             nullptr, &m1);
  be->d_head_smoothed(d, HeadMode::DStep, B, B, 0.9f, x.data(), DenseParams{w.data(), b.data()},
                      DenseGrads{}, nullptr, &m2);
  CHECK(m2.value == m1.value);  // V(D,G) does not depend on the target
  CHECK(m2.d_loss > m1.d_loss);  // a target of 0.9 costs more at these logits
}

// ---- the weight average ------------------------------------------------------------------

TEST_CASE("ema: the update rule, and no update after a skipped G step") {
  std::vector<float> ema = {1.0f, -2.0f, 0.5f}, src = {3.0f, 0.0f, 0.5f};
  cpu::ema_update(ema.data(), src.data(), 3, 0.75f, 0.25f);
  CHECK(ema == std::vector<float>{1.5f, -1.5f, 0.5f});

  auto be = make_cpu_backend();
  std::vector<float> e = {1.0f}, s = {2.0f}, es = {4.0f}, ss = {0.0f};
  StepCounters c;
  c.bad_now[0] = 1;
  be->ema_update(e.data(), s.data(), 1, es.data(), ss.data(), 1, 0.5f, &c);
  CHECK(e[0] == 1.0f);
  CHECK(es[0] == 4.0f);
  c.bad_now[0] = 0;
  c.bad_now[1] = 1;  // D's flag does not matter
  be->ema_update(e.data(), s.data(), 1, es.data(), ss.data(), 1, 0.5f, &c);
  CHECK(e[0] == 1.5f);
  CHECK(es[0] == 2.0f);
}

TrainConfig small_config() {
  return test::small_train_config({8, {16, 24}, {20, 12}, 6, 5, 8}, 3);
}

TrainConfig all_options() {
  TrainConfig c = small_config();
  c.adam_g.lr = 1e-3f;
  c.adam_d.lr = 4e-4f;
  c.spec.bn_momentum = 0.3f;
  c.d_dropout = 0.3f;
  c.real_label = 0.9f;
  c.g_ema = 0.9f;
  c.d_steps = 2;
  c.lr_decay_start = 1;  // with 5 iterations per epoch: the rates fall over iterations 5..9
  c.lr_decay_end = 2;
  return c;
}

TEST_CASE("ema: the average starts at the initial weights and follows each G step") {
  auto be = make_cpu_backend();
  TrainConfig cfg = small_config();
  cfg.g_ema = 0.75f;
  Trainer t(*be, cfg);
  const Dataset data = test::random_dataset(64, 6, 5, 1);
  t.set_data(data);
  t.init_weights();
  const TrainState s0 = t.state();
  CHECK(s0.ema_params == s0.params[0]);
  CHECK(s0.ema_stats == s0.bn_stats);
  t.run_iteration();
  const TrainState s1 = t.state();
  for (size_t i = 0; i < s1.ema_params.size(); ++i)
    CHECK(s1.ema_params[i] == 0.75f * s0.params[0][i] + 0.25f * s1.params[0][i]);
  for (size_t i = 0; i < s1.ema_stats.size(); ++i)
    CHECK(s1.ema_stats[i] == 0.75f * s0.bn_stats[i] + 0.25f * s1.bn_stats[i]);
  CHECK(s1.ema_params != s1.params[0]);
}

// ---- BatchNorm momentum --------------------------------------------------------------

TEST_CASE("bn momentum: running statistics move by the configured momentum") {
  DenseDesc d = make_desc(2, 1, true, Act::None);
  d.bn_momentum = 0.3f;
  const std::vector<double> x = {1, 0, 3, 0, 8, 0}, W = {1, 0}, b = {0}, gamma = {1}, beta = {0};
  std::vector<double> z(3), mean(1), rstd(1), rm = {1.0}, rv = {2.0}, y(3);
  cpu::DenseRef<double> p;
  p.W = W.data(); p.b = b.data(); p.gamma = gamma.data(); p.beta = beta.data();
  p.running_mean = rm.data(); p.running_var = rv.data();
  p.z = z.data(); p.mean = mean.data(); p.rstd = rstd.data();
  cpu::dense_forward<double>(d, Mode::Train, 3, x.data(), p, y.data());
  // batch mean 4, unbiased variance ((9 + 1 + 16) / 2) = 13
  CHECK(rm[0] == doctest::Approx(0.7 * 1.0 + 0.3 * 4.0));
  CHECK(rv[0] == doctest::Approx(0.7 * 2.0 + 0.3 * 13.0));
  // Null running statistics: batch statistics only (sampling in training mode).
  p.running_mean = p.running_var = nullptr;
  std::vector<double> y2(3);
  cpu::dense_forward<double>(d, Mode::Train, 3, x.data(), p, y2.data());
  CHECK(y2 == y);
}

TEST_CASE("bn momentum: the trainer's G uses --bn-momentum") {
  auto be = make_cpu_backend();
  const Dataset data = test::random_dataset(64, 6, 5, 1);
  std::vector<float> stats[2];
  for (int i = 0; i < 2; ++i) {
    TrainConfig cfg = small_config();
    cfg.spec.bn_momentum = i == 0 ? 0.1f : 0.5f;
    Trainer t(*be, cfg);
    t.set_data(data);
    t.init_weights();
    t.run_iteration();
    stats[i] = t.state().bn_stats;
  }
  // Both runs start from running mean 0 and var 1 and see the same first batch; the larger
  // momentum moves the statistics further from that start.
  double moved[2] = {0, 0};
  for (int i = 0; i < 2; ++i)
    for (size_t j = 0; j < stats[i].size(); ++j)
      moved[i] += std::abs(stats[i][j] - (j % 2 ? 1.0 : 0.0));
  CHECK(stats[0] != stats[1]);
  CHECK(moved[1] > moved[0]);
}

// ---- sampling --------------------------------------------------------------------------

TEST_CASE("sampling with BatchNorm in training mode: chunk statistics, prefixes, no side effects") {
  auto be = make_cpu_reference_backend();  // compared bit for bit with the reference op below
  TrainConfig cfg = small_config();
  cfg.g_ema = 0.5f;
  Trainer t(*be, cfg);
  const Dataset data = test::random_dataset(64, 6, 5, 1);
  t.set_data(data);
  t.init_weights();
  for (int i = 0; i < 3; ++i) t.run_iteration();
  const TrainState before = t.state();

  GenerateOptions opt;
  opt.bn = SampleBn::Train;
  opt.bn_batch = 4;
  const std::vector<float> s10 = t.generate(10, Stream::Sample, 2, opt);
  const std::vector<float> s6 = t.generate(6, Stream::Sample, 2, opt);
  CHECK(std::equal(s6.begin(), s6.end(), s10.begin()));  // a prefix
  const TrainState after = t.state();
  CHECK(after.bn_stats == before.bn_stats);
  CHECK(after.ema_stats == before.ema_stats);

  // By hand: chunk c of 4 noise rows through G with batch statistics.
  const NetLayout g = t.layout(Net::G);
  const int zd = cfg.spec.z_dim, dim = cfg.spec.image_dim();
  std::vector<float> z(12 * zd);
  for (size_t i = 0; i < z.size(); ++i)
    z[i] = philox_normal(cfg.seed, stream_id(Stream::Sample, 2), i);
  for (int c = 0; c < 3; ++c) {
    std::vector<float> x(z.begin() + c * 4 * zd, z.begin() + (c + 1) * 4 * zd);
    for (size_t l = 0; l < g.layers.size(); ++l) {
      const DenseDesc& d = g.layers[l];
      const DenseOffsets& o = g.offsets[l];
      std::vector<float> y(4 * d.out), zz(4 * d.out), mean(d.out), rstd(d.out);
      cpu::DenseRef<float> p;
      p.W = before.params[0].data() + o.W;
      p.b = before.params[0].data() + o.b;
      if (d.batchnorm) {
        p.gamma = before.params[0].data() + o.gamma;
        p.beta = before.params[0].data() + o.beta;
        p.z = zz.data(); p.mean = mean.data(); p.rstd = rstd.data();
      }
      cpu::dense_forward<float>(d, Mode::Train, 4, x.data(), p, y.data());
      x = y;
    }
    const int keep = std::min(4, 10 - 4 * c);
    CHECK(std::equal(x.begin(), x.begin() + keep * dim, s10.begin() + 4 * c * dim));
  }
  // Eval mode is the plain generate(); the average differs from the raw weights.
  GenerateOptions eval;
  CHECK(t.generate(5, Stream::Sample, 2, eval) == t.generate(5, Stream::Sample, 2));
  GenerateOptions ema = eval;
  ema.weights = SampleWeights::Ema;
  CHECK(t.generate(5, Stream::Sample, 2, ema) != t.generate(5, Stream::Sample, 2));
  CHECK(t.default_generate_options().weights == SampleWeights::Ema);
  CHECK(t.default_generate_options().bn_batch == cfg.batch_size);

  Trainer plain(*be, small_config());
  plain.set_data(data);
  plain.init_weights();
  CHECK_THROWS_WITH_AS(plain.generate(4, Stream::Sample, 0, ema),
                       doctest::Contains("without --g-ema"), InputError);
  opt.bn_batch = 1;
  CHECK_THROWS_AS(t.generate(4, Stream::Sample, 0, opt), InputError);
}

// ---- training with every option ----------------------------------------------------------

bool same_state(const TrainState& a, const TrainState& b) {
  for (int q = 0; q < 2; ++q)
    if (a.params[q] != b.params[q] || a.adam_m[q] != b.adam_m[q] || a.adam_v[q] != b.adam_v[q])
      return false;
  return a.bn_stats == b.bn_stats && a.ema_params == b.ema_params &&
         a.ema_stats == b.ema_stats && a.counters.iteration == b.counters.iteration &&
         a.counters.adam_step[0] == b.counters.adam_step[0] &&
         a.counters.adam_step[1] == b.counters.adam_step[1];
}

TEST_CASE("all options: deterministic, they change the run, and a checkpoint resumes bit-exactly") {
  auto be = make_cpu_backend();
  const TrainConfig cfg = all_options();
  const Dataset data = test::random_dataset(80, 6, 5, 1);  // 5 iterations per epoch
  auto run = [&](Trainer& t, int from, int to) {
    const int per_epoch = t.iterations_per_epoch();
    for (int i = from; i < to; ++i) {
      if (i > from && i % per_epoch == 0) t.begin_epoch(i / per_epoch);
      t.run_iteration();
    }
  };
  Trainer a(*be, cfg), b(*be, cfg);
  for (Trainer* t : {&a, &b}) {
    t->set_data(data);
    t->init_weights();
  }
  run(a, 0, 8);
  run(b, 0, 3);
  test::TempDir tmp("options");
  const std::string path = tmp / "ck.safetensors";
  save_checkpoint(path, cfg, b.state());
  const Checkpoint ck = load_checkpoint(path);
  CHECK(to_json(ck.config) == to_json(cfg));
  CHECK(same_state(ck.state, b.state()));
  Trainer c(*be, ck.config);
  c.set_data(data);
  c.set_state(ck.state);
  run(c, 3, 8);
  CHECK(same_state(c.state(), a.state()));
  const StepMetrics ma = a.metrics(), mc = c.metrics();
  CHECK(std::memcmp(&ma, &mc, sizeof ma) == 0);

  // Each option changes the run.
  const TrainState full = a.state();
  auto without = [&](auto&& change) {
    TrainConfig o = cfg;
    change(o);
    Trainer t(*be, o);
    t.set_data(data);
    t.init_weights();
    run(t, 0, 8);
    return t.state();
  };
  CHECK(without([](TrainConfig& o) { o.d_dropout = 0; }).params[1] != full.params[1]);
  CHECK(without([](TrainConfig& o) { o.real_label = 1; }).params[1] != full.params[1]);
  CHECK(without([](TrainConfig& o) { o.adam_d.lr = o.adam_g.lr; }).params[1] != full.params[1]);
  CHECK(without([](TrainConfig& o) { o.spec.bn_momentum = 0.1f; }).bn_stats != full.bn_stats);
  CHECK(without([](TrainConfig& o) { o.lr_decay_end = 0; }).params[0] != full.params[0]);
  const TrainState no_ema = without([](TrainConfig& o) { o.g_ema = 0; });
  CHECK(no_ema.params[0] == full.params[0]);  // the average does not feed back
  CHECK(no_ema.ema_params.empty());
}

// ---- the learning-rate decay -----------------------------------------------------------

TEST_CASE("lr decay: the trainer turns epochs into iterations and stops the weights at the end") {
  auto be = make_cpu_backend();
  const Dataset data = test::random_dataset(64, 6, 5, 1);  // 8 iterations per epoch
  TrainConfig decayed = small_config();
  decayed.lr_decay_start = 1;
  decayed.lr_decay_end = 2;
  Trainer a(*be, small_config()), b(*be, decayed);
  for (Trainer* t : {&a, &b}) {
    t->set_data(data);
    t->init_weights();
    REQUIRE(t->iterations_per_epoch() == 8);
  }
  // Epoch 0 and the first iteration of epoch 1 (scale 1) are the undecayed run's.
  for (int i = 0; i < 9; ++i) {
    if (i == 8) {
      a.begin_epoch(1);
      b.begin_epoch(1);
    }
    a.run_iteration();
    b.run_iteration();
  }
  CHECK(same_state(a.state(), b.state()));
  a.run_iteration();
  b.run_iteration();  // iteration 9: scale 7/8
  CHECK(b.state().params[0] != a.state().params[0]);
  CHECK(b.state().params[1] != a.state().params[1]);
  for (int i = 10; i < 16; ++i) b.run_iteration();
  // From iteration 16 (epoch 2) both rates are 0: the weights stay, the moments move on.
  b.begin_epoch(2);
  const TrainState end = b.state();
  b.run_iteration();
  b.run_iteration();
  const TrainState after = b.state();
  for (int q = 0; q < 2; ++q) {
    CHECK(after.params[q] == end.params[q]);
    CHECK(after.adam_m[q] != end.adam_m[q]);
  }
  CHECK(after.counters.adam_step[0] == end.counters.adam_step[0] + 2);
}

TEST_CASE("checkpoint: G_ema tensors under PyTorch names, weights-only files, refusals") {
  auto be = make_cpu_backend();
  TrainConfig cfg = small_config();
  cfg.g_ema = 0.99f;
  Trainer t(*be, cfg);
  const Dataset data = test::random_dataset(64, 6, 5, 1);
  t.set_data(data);
  t.init_weights();
  t.run_iteration();
  t.run_iteration();
  const TrainState s = t.state();
  test::TempDir tmp("ema");
  for (bool weights_only : {false, true}) {
    const std::string path = tmp / (weights_only ? "w.safetensors" : "f.safetensors");
    save_checkpoint(path, cfg, s, weights_only);
    const SafetensorsFile f = SafetensorsFile::read(path);
    const NetLayout g = layout_generator(cfg.spec);
    for (const TensorEntry& e : g.params) {
      const auto v = f.f32("G_ema." + e.name, e.shape);
      CHECK(std::equal(v.begin(), v.end(), s.ema_params.begin() + e.offset));
    }
    CHECK(f.has("G_ema.net.0.weight"));
    CHECK(f.has("G_ema.net.1.running_mean"));
    CHECK(f.has("G_ema.net.1.running_var"));
    CHECK(f.i64_scalar("G_ema.net.1.num_batches_tracked") == 2 * 2);
    const Checkpoint ck = load_checkpoint(path);
    CHECK(ck.state.ema_params == s.ema_params);
    CHECK(ck.state.ema_stats == s.ema_stats);
  }
  // A file whose configuration asks for the average but lacks it.
  {
    const std::string path = tmp / "no_ema.safetensors";
    TrainConfig plain = cfg;
    plain.g_ema = 0;
    save_checkpoint(path, plain, s);
    SafetensorsWriter w = test::copy_safetensors(path);
    w.set_metadata("config", to_json(cfg));
    w.write(path);
    CHECK_THROWS_WITH_AS(load_checkpoint(path), doctest::Contains("G_ema.net.0.weight"),
                         InputError);
  }
  // A checkpoint without the average has none: asking for it is refused.
  {
    TrainConfig plain = cfg;
    plain.g_ema = 0;
    TrainState st = s;
    st.ema_params.clear();
    st.ema_stats.clear();
    const std::string path = tmp / "plain.safetensors";
    save_checkpoint(path, plain, st);
    const SafetensorsFile f = SafetensorsFile::read(path);
    CHECK_FALSE(f.has("G_ema.net.0.weight"));
    const Checkpoint ck = load_checkpoint(path);
    CHECK(ck.state.ema_params.empty());
    const test::ProcessResult r =
        test::run_gan({"sample", "--checkpoint", path, "--n", "4", "--weights", "ema", "--out",
                       tmp / "x.png", "--device", "cpu"});
    CHECK(r.status == 2);
    CHECK(r.err.find("without --g-ema") != std::string::npos);
    CHECK_FALSE(std::filesystem::exists(tmp / "x.png"));
    const test::ProcessResult e = test::run_gan(
        {"eval", "--checkpoint", path, "--weights", "ema", "--device", "cpu"});
    CHECK(e.status == 2);
    CHECK(e.err.find("without --g-ema") != std::string::npos);
  }
}

TEST_CASE("config JSON: the options round trip, and older configurations keep their meaning") {
  TrainConfig c = all_options();
  c.sample_bn = SampleBn::Train;
  c.sample_bn_batch = 64;
  const TrainConfig r = train_config_from_json(to_json(c));
  CHECK(to_json(r) == to_json(c));
  CHECK(r.adam_g.lr == c.adam_g.lr);
  CHECK(r.adam_d.lr == c.adam_d.lr);
  CHECK(r.d_dropout == c.d_dropout);
  CHECK(r.real_label == c.real_label);
  CHECK(r.g_ema == c.g_ema);
  CHECK(r.spec.bn_momentum == c.spec.bn_momentum);
  CHECK(r.sample_bn == SampleBn::Train);
  CHECK(r.sample_bn_batch == 64);
  CHECK(r.lr_decay_start == 1);
  CHECK(r.lr_decay_end == 2);
  // The plain iteration writes the JSON of before the options: one lr, none of the new keys.
  const std::string plain = to_json(TrainConfig::plain());
  for (const char* key :
       {"lr_g", "lr_d", "d_dropout", "real_label", "g_ema", "lr_decay", "sample_bn"})
    CHECK(plain.find(key) == std::string::npos);
  CHECK(plain.find("\"lr\":") != std::string::npos);
  const TrainConfig old = train_config_from_json(plain);
  CHECK(old.adam_g.lr == old.adam_d.lr);
  CHECK(old.d_dropout == 0.0f);
  CHECK(old.real_label == 1.0f);
  CHECK_FALSE(old.has_ema());
  CHECK_FALSE(old.has_lr_decay());
  CHECK(old.sample_bn == SampleBn::Eval);
  CHECK(old.adam_g.lr == 2e-4f);
  // The defaults (the recipe) are not the plain iteration: they write their options, and read
  // back as themselves.
  const TrainConfig defaults;
  const TrainConfig back = train_config_from_json(to_json(defaults));
  CHECK(to_json(back) == to_json(defaults));
  CHECK(back.real_label == defaults.real_label);
  CHECK(back.g_ema == defaults.g_ema);
  CHECK(back.adam_g.lr == defaults.adam_g.lr);
  CHECK(to_json(defaults).find("real_label") != std::string::npos);
  // Refusals.
  std::string both = to_json(c);
  both.insert(1, "\"lr\":0.1,");
  CHECK_THROWS_WITH_AS(train_config_from_json(both), doctest::Contains("lr_g"), InputError);
  for (auto [key, value] : {std::pair{"d_dropout", "0.95"}, {"real_label", "0.2"},
                            {"g_ema", "1.0"}, {"sample_bn", "\"batch\""},
                            {"sample_bn_batch", "1"}, {"lr_decay", "[2,1]"},
                            {"lr_decay", "[0,0]"}, {"lr_decay", "[3]"}, {"lr_decay", "[-1,2]"},
                            {"lr_decay", "[0,1000001]"}, {"lr_decay", "5"}}) {
    std::string j = to_json(TrainConfig::plain());
    j.insert(1, std::string("\"") + key + "\":" + value + ",");
    CAPTURE(j);
    CHECK_THROWS_AS(train_config_from_json(j), InputError);
  }
  // A key this build does not know (an option of a newer build) is refused, not dropped.
  std::string newer = to_json(defaults);
  newer.insert(1, "\"lr_warmup\":[0,5],");
  CHECK_THROWS_WITH_AS(train_config_from_json(newer),
                       doctest::Contains("unknown key 'lr_warmup'"), InputError);
  CHECK_THROWS_WITH_AS(train_config_from_json("[1,2]"), doctest::Contains("not an object"),
                       InputError);
}

}  // namespace
