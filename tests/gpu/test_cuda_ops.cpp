/*
 * test_cuda_ops.cpp — every variant of every CUDA op against the CPU backend.
 *
 * Each case draws fresh random inputs, uploads the same bits to both backends, poisons
 * every output with NaN (so an element a kernel forgets to write shows), runs the op on
 * both and compares. Sizes are awkward on purpose: rows 1, 7, 128, 1000 and widths 1, 33,
 * 100, 784 (not multiples of the 32-column tiles, 4-float vectors or 1024-thread blocks).
 * Tolerances, |gpu - cpu| <= atol + rtol |cpu|:
 *   dense forward     y, z: 1e-4 + 1e-4|ref| (cuBLAS and OpenBLAS sum x W^T in different
 *                     orders); mean, rstd, running stats: 1e-5 + 1e-4|ref|.
 *   dense backward    dz: 1e-5 + 1e-4|ref|; db, dgamma, dbeta: 1e-4 + 1e-5|ref| (double
 *                     sums of equal inputs); dW, dx: 1e-3 + 1e-4|ref| (float products over
 *                     up to 1000 terms).
 *   d_head            metrics, dw, db, dx: 1e-6 + 1e-5|ref| (double throughout).
 *   adam              1e-7 + 1e-6|ref| (the same roundings as the CPU: normally bit-exact).
 *   shuffle, gather, check_finite, counters: bit-exact.  noise: within 1 ulp.
 * The inputs of a backward op are the CPU forward's outputs, uploaded to both backends,
 * so that an activation kink cannot flip between them.
 */
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>
#include <numeric>
#include <string>
#include <vector>

#include "engine/backend.hpp"
#include "engine/base/error.hpp"
#include "tests/gpu/gpu_test_util.hpp"
#include "tests/support/test_util.hpp"

namespace {

using namespace gan;
using namespace gan::gpu_test;
using gan::test::make_desc;
using gan::test::Rng;
using MirrorF = Mirror<float>;
using MirrorPtr = std::unique_ptr<MirrorF>;

const int kRows[] = {1, 7, 128, 1000};
const int kShapes[][2] = {{1, 1}, {33, 100}, {784, 33}, {100, 784}};  // {in, out}

struct LayerKind {
  bool bn;
  Act act;
};
const LayerKind kKinds[] = {{true, Act::ReLU},       {true, Act::Sigmoid}, {false, Act::LeakyReLU},
                            {false, Act::Sigmoid},   {false, Act::None}};

std::vector<float> uniform(Rng& rng, size_t n, double lo, double hi) {
  std::vector<float> v(n);
  for (float& e : v) e = static_cast<float>(rng.uniform(lo, hi));
  return v;
}

// PyTorch's init scale 1/sqrt(in), magnitudes kept >= 1/4 of it: a column of z = x W^T + b
// never has a near-zero variance that BatchNorm would blow up (rstd up to 1/sqrt(eps)),
// which would turn the GEMMs' legitimate rounding differences into test failures.
std::vector<float> weights(Rng& rng, size_t n, int in) {
  const double bound = 1.0 / std::sqrt(double(in));
  std::vector<float> v(n);
  for (float& e : v) {
    const double mag = rng.uniform(0.25 * bound, bound);
    e = static_cast<float>(rng.next() & 1 ? mag : -mag);
  }
  return v;
}

MirrorPtr mirror_if(bool cond, std::vector<float> v) {
  return cond ? std::make_unique<MirrorF>(v) : nullptr;
}
MirrorPtr poisoned_if(bool cond, size_t n) {
  if (!cond) return nullptr;
  auto m = std::make_unique<MirrorF>(n);
  m->poison();
  return m;
}

// One layer's input and parameters (PyTorch-like init scale), on both backends.
struct Layer {
  DenseDesc d;
  int rows;
  MirrorF x, W, b;
  MirrorPtr gamma, beta, rmean, rvar;
  Layer(Rng& rng, const DenseDesc& desc, int n_rows)
      : d(desc),
        rows(n_rows),
        x(uniform(rng, size_t(n_rows) * desc.in, -1, 1)),
        W(weights(rng, size_t(desc.out) * desc.in, desc.in)),
        b(uniform(rng, desc.out, -0.5, 0.5)),
        gamma(mirror_if(desc.batchnorm, uniform(rng, desc.out, 0.5, 1.5))),
        beta(mirror_if(desc.batchnorm, uniform(rng, desc.out, -0.5, 0.5))),
        rmean(mirror_if(desc.batchnorm, uniform(rng, desc.out, -0.5, 0.5))),
        rvar(mirror_if(desc.batchnorm, uniform(rng, desc.out, 0.5, 1.5))) {}
  DenseParams params(bool gpu) const {
    return gpu ? DenseParams{W.g(), b.g(), g_or_null(gamma), g_or_null(beta)}
               : DenseParams{W.c(), b.c(), c_or_null(gamma), c_or_null(beta)};
  }
  BnStats stats(bool gpu) const {
    return gpu ? BnStats{g_or_null(rmean), g_or_null(rvar)}
               : BnStats{c_or_null(rmean), c_or_null(rvar)};
  }
};

std::string describe(const DenseDesc& d, int rows, Mode mode) {
  return std::string("rows=") + std::to_string(rows) + " in=" + std::to_string(d.in) +
         " out=" + std::to_string(d.out) + " bn=" + (d.batchnorm ? "yes" : "no") +
         " act=" + act_name(d.act) + (mode == Mode::Train ? " train" : " eval");
}

bool all_nan(const std::vector<float>& v) {
  return std::all_of(v.begin(), v.end(), [](float e) { return std::isnan(e); });
}

}  // namespace

// ---- dense layers ----------------------------------------------------------------------

TEST_CASE("cuda dense_forward: every variant matches the CPU backend") {
  Rng rng(101);
  for_each_variant("dense_forward", [&](const std::string&) {
    for (int rows : kRows)
      for (const auto& shape : kShapes)
        for (const LayerKind& kind : kKinds)
          for (Mode mode : {Mode::Train, Mode::Eval}) {
            if (!kind.bn && mode == Mode::Eval && rows != 7) continue;  // same path as train
            if (kind.bn && mode == Mode::Train && rows < 2) continue;   // needs 2 rows
            const DenseDesc d = make_desc(shape[0], shape[1], kind.bn, kind.act);
            INFO(describe(d, rows, mode));
            Layer L(rng, d, rows);
            const std::vector<float> rmean0 = L.rmean ? L.rmean->cpu() : std::vector<float>{};
            const size_t n = size_t(rows) * d.out;
            const bool bn_train = kind.bn && mode == Mode::Train;
            MirrorF y(n);
            y.poison();
            MirrorPtr z = poisoned_if(bn_train, n), mean = poisoned_if(bn_train, d.out),
                      rstd = poisoned_if(bn_train, d.out);
            cpu().dense_forward(d, mode, rows, L.x.c(), L.params(false), L.stats(false),
                                DenseSaved{c_or_null(z), c_or_null(mean), c_or_null(rstd)},
                                y.c());
            cuda().dense_forward(d, mode, rows, L.x.g(), L.params(true), L.stats(true),
                                 DenseSaved{g_or_null(z), g_or_null(mean), g_or_null(rstd)},
                                 y.g());
            const Tol big{1e-4, 1e-4}, stat{1e-5, 1e-4};
            expect_close("y", y.gpu(), y.cpu(), big);
            if (bn_train) {
              expect_close("z", z->gpu(), z->cpu(), big);
              expect_close("mean", mean->gpu(), mean->cpu(), stat);
              expect_close("rstd", rstd->gpu(), rstd->cpu(), stat);
              expect_close("running_mean", L.rmean->gpu(), L.rmean->cpu(), stat);
              expect_close("running_var", L.rvar->gpu(), L.rvar->cpu(), stat);
              CHECK(L.rmean->gpu() != rmean0);  // the update happened
            } else if (kind.bn) {
              CHECK(L.rmean->gpu() == rmean0);  // eval mode leaves running stats alone
            }
          }
  });
}

TEST_CASE("cuda dense_backward: every variant matches the CPU backend, for every grad set") {
  Rng rng(202);
  for_each_variant("dense_backward", [&](const std::string&) {
    for (int rows : kRows)
      for (const auto& shape : kShapes)
        for (const LayerKind& kind : kKinds) {
          if (kind.bn && rows < 2) continue;
          const DenseDesc d = make_desc(shape[0], shape[1], kind.bn, kind.act);
          INFO(describe(d, rows, Mode::Train));
          Layer L(rng, d, rows);
          const size_t n = size_t(rows) * d.out;
          // The CPU's training forward provides y and the saved tensors for both backends.
          MirrorF y(n);
          MirrorPtr z = poisoned_if(kind.bn, n), mean = poisoned_if(kind.bn, d.out),
                    rstd = poisoned_if(kind.bn, d.out);
          cpu().dense_forward(d, Mode::Train, rows, L.x.c(), L.params(false), L.stats(false),
                              DenseSaved{c_or_null(z), c_or_null(mean), c_or_null(rstd)}, y.c());
          y.set(y.cpu());
          for (MirrorF* m : {z.get(), mean.get(), rstd.get()})
            if (m) m->set(m->cpu());
          const DenseSaved sc{c_or_null(z), c_or_null(mean), c_or_null(rstd)};
          const DenseSaved sg{g_or_null(z), g_or_null(mean), g_or_null(rstd)};
          const std::vector<float> dy0 = uniform(rng, n, -1, 1);

          struct Want {
            bool params, dx;
          };
          for (Want want : {Want{true, true}, Want{false, true}, Want{true, false}}) {
            INFO("param grads " << want.params << ", dx " << want.dx);
            MirrorF dy(dy0);
            MirrorF dW(size_t(d.out) * d.in), db(d.out), dx(size_t(rows) * d.in);
            MirrorPtr dgamma = poisoned_if(kind.bn, d.out), dbeta = poisoned_if(kind.bn, d.out);
            dW.poison();
            db.poison();
            dx.poison();
            auto grads = [&](bool gpu) {
              if (!want.params) return DenseGrads{};
              return gpu ? DenseGrads{dW.g(), db.g(), g_or_null(dgamma), g_or_null(dbeta)}
                         : DenseGrads{dW.c(), db.c(), c_or_null(dgamma), c_or_null(dbeta)};
            };
            cpu().dense_backward(d, rows, L.x.c(), L.params(false), sc, y.c(), dy.c(),
                                 grads(false), want.dx ? dx.c() : nullptr);
            cuda().dense_backward(d, rows, L.x.g(), L.params(true), sg, y.g(), dy.g(),
                                  grads(true), want.dx ? dx.g() : nullptr);
            const Tol dz_tol{1e-5, 1e-4}, sum_tol{1e-4, 1e-5}, gemm_tol{1e-3, 1e-4};
            expect_close("dz (in dy)", dy.gpu(), dy.cpu(), dz_tol);
            if (want.params) {
              expect_close("dW", dW.gpu(), dW.cpu(), gemm_tol);
              expect_close("db", db.gpu(), db.cpu(), sum_tol);
              if (kind.bn) {
                expect_close("dgamma", dgamma->gpu(), dgamma->cpu(), sum_tol);
                expect_close("dbeta", dbeta->gpu(), dbeta->cpu(), sum_tol);
              }
            } else {
              CHECK(all_nan(dW.gpu()));
              CHECK(all_nan(db.gpu()));
            }
            if (want.dx)
              expect_close("dx", dx.gpu(), dx.cpu(), gemm_tol);
            else
              CHECK(all_nan(dx.gpu()));
          }
        }
  });
}

TEST_CASE("cuda dense_backward: an empty batch gives the CPU's zero gradients") {
  // Without BatchNorm, the parameter gradients over no rows are zeros on both backends (the
  // buffers start poisoned); with it, both refuse fewer than 2 rows.
  Rng rng(203);
  for_each_variant("dense_backward", [&](const std::string&) {
    for (bool bn : {false, true}) {
      const DenseDesc d = make_desc(33, 130, bn, bn ? Act::ReLU : Act::LeakyReLU);
      INFO(describe(d, 0, Mode::Train));
      Layer L(rng, d, 0);
      MirrorF one(std::vector<float>{0.5f}), dy(std::vector<float>{1.0f});  // never read
      MirrorF dW(size_t(d.out) * d.in), db(d.out), stat(d.out);
      MirrorPtr dgamma = poisoned_if(bn, d.out), dbeta = poisoned_if(bn, d.out);
      dW.poison();
      db.poison();
      const DenseSaved sc{bn ? one.c() : nullptr, bn ? stat.c() : nullptr,
                          bn ? stat.c() : nullptr};
      const DenseSaved sg{bn ? one.g() : nullptr, bn ? stat.g() : nullptr,
                          bn ? stat.g() : nullptr};
      const DenseGrads gc{dW.c(), db.c(), c_or_null(dgamma), c_or_null(dbeta)};
      const DenseGrads gg{dW.g(), db.g(), g_or_null(dgamma), g_or_null(dbeta)};
      if (bn) {
        CHECK_THROWS_AS(cpu().dense_backward(d, 0, one.c(), L.params(false), sc, one.c(),
                                             dy.c(), gc, nullptr),
                        gan::Error);
        CHECK_THROWS_AS(cuda().dense_backward(d, 0, one.g(), L.params(true), sg, one.g(),
                                              dy.g(), gg, nullptr),
                        gan::Error);
        continue;
      }
      cpu().dense_backward(d, 0, one.c(), L.params(false), sc, one.c(), dy.c(), gc, nullptr);
      cuda().dense_backward(d, 0, one.g(), L.params(true), sg, one.g(), dy.g(), gg, nullptr);
      for (const std::vector<float>& v : {dW.cpu(), dW.gpu(), db.cpu(), db.gpu()})
        CHECK(std::all_of(v.begin(), v.end(), [](float e) { return e == 0.0f; }));
    }
  });
}

// ---- the D head --------------------------------------------------------------------------

namespace {

struct HeadCase {
  HeadMode mode;
  int n_real, n_fake;
};

std::vector<HeadCase> head_cases() {
  std::vector<HeadCase> v;
  for (int rows : kRows) {
    v.push_back({HeadMode::GNonSaturating, 0, rows});
    v.push_back({HeadMode::GMinimax, 0, rows});
    v.push_back({HeadMode::DStep, std::max(1, rows / 2), std::max(1, rows - rows / 2)});
  }
  v.push_back({HeadMode::DStep, 7, 1000});      // uneven halves
  v.push_back({HeadMode::DStep, 2500, 2600});   // dL/dl beyond shared memory (fused)
  return v;
}

const char* head_mode_name(HeadMode m) {
  switch (m) {
    case HeadMode::DStep: return "DStep";
    case HeadMode::GNonSaturating: return "GNonSaturating";
    case HeadMode::GMinimax: return "GMinimax";
  }
  return "?";
}

constexpr float kSentinel = 1234.5f;

StepMetrics sentinel_metrics() {
  StepMetrics m;
  m.d_loss = m.d_real = m.d_fake = m.value = m.g_loss = m.g_fake = kSentinel;
  return m;
}

std::vector<float> metric_fields(const StepMetrics& m) {
  return {m.d_loss, m.d_real, m.d_fake, m.value, m.g_loss, m.g_fake};
}

// Runs d_head on both backends and compares everything it writes.
void compare_head(const HeadCase& hc, int in, const std::vector<float>& xv,
                  const std::vector<float>& wv, float bias, bool want_params, bool want_dx) {
  const int rows = hc.n_real + hc.n_fake;
  const DenseDesc d = make_desc(in, 1, false, Act::None);
  MirrorF x(xv), w(wv), b(std::vector<float>{bias});
  MirrorF dw(in), db(1), dx(size_t(rows) * in);
  dw.poison();
  db.poison();
  dx.poison();
  Mirror<StepMetrics> m(std::vector<StepMetrics>{sentinel_metrics()});
  auto grads = [&](bool gpu) {
    if (!want_params) return DenseGrads{};
    return gpu ? DenseGrads{dw.g(), db.g(), nullptr, nullptr}
               : DenseGrads{dw.c(), db.c(), nullptr, nullptr};
  };
  cpu().d_head(d, hc.mode, hc.n_real, hc.n_fake, x.c(), DenseParams{w.c(), b.c()}, grads(false),
               want_dx ? dx.c() : nullptr, m.c());
  cuda().d_head(d, hc.mode, hc.n_real, hc.n_fake, x.g(), DenseParams{w.g(), b.g()}, grads(true),
                want_dx ? dx.g() : nullptr, m.g());
  const Tol tol{1e-6, 1e-5};
  const std::vector<float> mg = metric_fields(m.gpu()[0]), mc = metric_fields(m.cpu()[0]);
  expect_close("metrics (d_loss d_real d_fake value g_loss g_fake)", mg, mc, tol);
  const bool dstep = hc.mode == HeadMode::DStep;
  for (size_t i = 0; i < 6; ++i) {
    const bool mine = dstep ? i < 4 : i >= 4;
    INFO("metric field " << i);
    if (mine)
      CHECK(std::isfinite(mg[i]));
    else
      CHECK(mg[i] == kSentinel);  // fields of the other mode are left alone
  }
  if (want_params) {
    expect_close("dw", dw.gpu(), dw.cpu(), tol);
    expect_close("db", db.gpu(), db.cpu(), tol);
  } else {
    CHECK(all_nan(dw.gpu()));
    CHECK(all_nan(db.gpu()));
  }
  if (want_dx)
    expect_close("dx", dx.gpu(), dx.cpu(), tol);
  else
    CHECK(all_nan(dx.gpu()));
}

}  // namespace

TEST_CASE("cuda d_head: every variant matches the CPU backend in every mode") {
  Rng rng(303);
  for_each_variant("d_head", [&](const std::string&) {
    for (const HeadCase& hc : head_cases())
      for (int in : {1, 33, 128, 784}) {
        const int rows = hc.n_real + hc.n_fake;
        if (rows > 2000 && in > 33) continue;  // the large case needs one width only
        INFO(head_mode_name(hc.mode) << " n_real=" << hc.n_real << " n_fake=" << hc.n_fake
                                     << " in=" << in);
        // Logits spread over about +-6: sigmoid and softplus in both tails.
        const double wr = 6.0 / std::sqrt(double(in));
        const std::vector<float> x = uniform(rng, size_t(rows) * in, -1, 1);
        const std::vector<float> w = uniform(rng, in, -wr, wr);
        const float bias = static_cast<float>(rng.uniform(-1, 1));
        compare_head(hc, in, x, w, bias, true, true);
        compare_head(hc, in, x, w, bias, false, true);  // G step: dx only
      }
  });
}

TEST_CASE("cuda d_head: extreme logits give finite losses equal to the CPU's") {
  // in = 1, w = 1, b = 0: the logits are the x values, up to +-100 (exp(100) overflows
  // a float; the stable forms never compute it).
  const std::vector<float> x = {100, -100, 60, -60, 0.5f, -0.5f, 30, -30};
  for_each_variant("d_head", [&](const std::string&) {
    for (HeadCase hc : {HeadCase{HeadMode::DStep, 4, 4}, HeadCase{HeadMode::GNonSaturating, 0, 8},
                        HeadCase{HeadMode::GMinimax, 0, 8}}) {
      INFO(head_mode_name(hc.mode));
      compare_head(hc, 1, x, {1.0f}, 0.0f, true, true);
    }
  });
}

// ---- optimizer -------------------------------------------------------------------------

TEST_CASE("cuda check_finite: catches NaN and Inf in gradients or loss, records the first") {
  for_each_variant("check_finite", [&](const std::string&) {
    for (size_t n : {size_t(1), size_t(5), size_t(1000003)})
      for (size_t offset : {size_t(0), size_t(1)}) {  // offset 1: unaligned for float4
        INFO("n=" << n << " offset=" << offset);
        std::vector<float> g(n + offset, 0.25f);
        MirrorF grads(g), loss(std::vector<float>{0.5f});
        StepCounters c0;
        c0.iteration = 42;
        Mirror<StepCounters> c(std::vector<StepCounters>{c0});
        auto run = [&](Net net) {
          cpu().check_finite(grads.c() + offset, n, loss.c(), net, c.c());
          cuda().check_finite(grads.g() + offset, n, loss.g(), net, c.g());
          const StepCounters cg = c.gpu()[0], cc = c.cpu()[0];
          CHECK(std::memcmp(&cg, &cc, sizeof cg) == 0);
          return cg;
        };
        StepCounters s = run(Net::D);
        CHECK(s.bad_now[1] == 0);
        CHECK(s.first_bad_iteration[1] == -1);

        g[offset + n - 1] = std::numeric_limits<float>::quiet_NaN();  // last element
        grads.set(g);
        s = run(Net::D);
        CHECK(s.bad_now[1] == 1);
        CHECK(s.first_bad_iteration[1] == 42);
        CHECK(s.bad_now[0] == 0);  // the other network is untouched

        cpu().end_iteration(c.c(), 1);
        cuda().end_iteration(c.g(), 1);
        g[offset + n - 1] = 0.25f;
        g[offset] = std::numeric_limits<float>::infinity();  // first element
        grads.set(g);
        s = run(Net::D);
        CHECK(s.bad_now[1] == 1);
        CHECK(s.first_bad_iteration[1] == 42);  // the first failure stays recorded

        g[offset] = 0.25f;
        g[offset + n / 2] = -std::numeric_limits<float>::infinity();  // middle
        grads.set(g);
        s = run(Net::G);
        CHECK(s.bad_now[0] == 1);
        CHECK(s.first_bad_iteration[0] == 43);

        g[offset + n / 2] = 0.25f;
        grads.set(g);
        loss.set({-std::numeric_limits<float>::infinity()});
        s = run(Net::G);
        CHECK(s.bad_now[0] == 1);

        loss.set({0.5f});
        s = run(Net::G);
        CHECK(s.bad_now[0] == 0);
        s = run(Net::D);
        CHECK(s.bad_now[1] == 0);
        CHECK(s.first_bad_iteration[1] == 42);
      }
  });
}

TEST_CASE("cuda adam: several steps, a skipped one and the decay match the CPU backend") {
  Rng rng(404);
  AdamConfig cfg;
  cfg.lr = 1e-2f;  // large enough that every step moves the parameters visibly
  cfg.decay_start = 2;  // the rate falls over iterations 2..4 and is 0 at iteration 5
  cfg.decay_end = 5;
  for_each_variant("adam", [&](const std::string&) {
    for (size_t n : {size_t(1), size_t(5), size_t(1003), size_t(100000)})
      for (size_t offset : {size_t(0), size_t(1)}) {
        INFO("n=" << n << " offset=" << offset);
        const size_t len = n + offset;
        MirrorF p(uniform(rng, len, -1, 1)), g(len), m(len), v(len), loss(1);
        Mirror<StepCounters> c(std::vector<StepCounters>{StepCounters{}});
        for (int step = 0; step < 6; ++step) {
          g.set(uniform(rng, len, -1, 1));
          loss.set({step == 3 ? std::numeric_limits<float>::quiet_NaN() : 0.5f});
          cpu().check_finite(g.c() + offset, n, loss.c(), Net::D, c.c());
          cuda().check_finite(g.g() + offset, n, loss.g(), Net::D, c.g());
          cpu().adam(p.c() + offset, g.c() + offset, m.c() + offset, v.c() + offset, n, cfg,
                     Net::D, c.c());
          cuda().adam(p.g() + offset, g.g() + offset, m.g() + offset, v.g() + offset, n, cfg,
                      Net::D, c.g());
          cpu().end_iteration(c.c(), 1);
          cuda().end_iteration(c.g(), 1);
        }
        const Tol tol{1e-7, 1e-6};
        expect_close("params", p.gpu(), p.cpu(), tol);
        expect_close("m", m.gpu(), m.cpu(), tol);
        expect_close("v", v.gpu(), v.cpu(), tol);
        const StepCounters cg = c.gpu()[0];
        CHECK(cg.adam_step[1] == 5);
        CHECK(cg.iteration == 6);
        CHECK(cg.skipped[1] == 1);
        CHECK(cg.adam_step[0] == 0);
        CHECK(cg.skipped[0] == 0);
        const StepCounters cc = c.cpu()[0];
        CHECK(std::memcmp(&cg, &cc, sizeof cg) == 0);
        const std::vector<float> pg = p.gpu(), pc = p.cpu();
        size_t differ = 0;
        for (size_t i = 0; i < len; ++i) differ += std::memcmp(&pg[i], &pc[i], 4) != 0;
        MESSAGE("adam n=" << n << ": " << differ << " parameters not bit-identical to the CPU");
      }
  });
}

// ---- data pipeline ----------------------------------------------------------------------

TEST_CASE("cuda shuffle: the permutation is bit-identical to the CPU's and resets the cursor") {
  for_each_variant("shuffle", [&](const std::string&) {
    for (int n : {1, 2, 1000, 60000})
      for (uint64_t seed : {uint64_t(0), uint64_t(12345)})
        for (uint64_t epoch : {uint64_t(0), uint64_t(7)}) {
          INFO("n=" << n << " seed=" << seed << " epoch=" << epoch);
          Mirror<int32_t> perm(static_cast<size_t>(n));
          perm.fill(-1);
          StepCounters c0;
          c0.batch_cursor = 9;
          Mirror<StepCounters> c(std::vector<StepCounters>{c0});
          cpu().shuffle(perm.c(), n, seed, epoch, c.c());
          cuda().shuffle(perm.g(), n, seed, epoch, c.g());
          const std::vector<int32_t> pg = perm.gpu();
          expect_equal("perm", pg, perm.cpu());
          CHECK(c.gpu()[0].batch_cursor == 0);
          std::vector<int32_t> sorted = pg;
          std::sort(sorted.begin(), sorted.end());
          std::vector<int32_t> iota(static_cast<size_t>(n));
          std::iota(iota.begin(), iota.end(), 0);
          CHECK(sorted == iota);
        }
  });
}

TEST_CASE("cuda gather_batch: rows picked by the permutation at the device cursor, / 255") {
  Rng rng(505);
  for_each_variant("gather", [&](const std::string&) {
    for (int dim : {33, 784}) {
      const int count = 1000;
      std::vector<uint8_t> img(size_t(count) * dim);
      for (uint8_t& p : img) p = static_cast<uint8_t>(rng.next() & 0xff);
      img[0] = 0;
      img[1] = 255;
      Mirror<uint8_t> images(img);
      Mirror<int32_t> perm(static_cast<size_t>(count));
      Mirror<StepCounters> c(std::vector<StepCounters>{StepCounters{}});
      cpu().shuffle(perm.c(), count, 3, 1, c.c());
      perm.set(perm.cpu());
      StepCounters c0;
      c0.batch_cursor = 2;
      c.set({c0});
      for (int rows : {1, 7, 128})
        for (int slot : {0, 1}) {
          INFO("dim=" << dim << " rows=" << rows << " slot=" << slot);
          MirrorF out(size_t(rows) * dim);
          out.poison();
          cpu().gather_batch(out.c(), images.c(), dim, perm.c(), c.c(), slot, rows);
          cuda().gather_batch(out.g(), images.g(), dim, perm.g(), c.g(), slot, rows);
          expect_equal("batch", out.gpu(), out.cpu());
        }
    }
  });
}

TEST_CASE("cuda noise: Philox normals within 1 ulp of the CPU's, stream read on the device") {
  for_each_variant("noise", [&](const std::string&) {
    for (size_t n : {size_t(1), size_t(7), size_t(4097), size_t(100000)})
      for (bool with_counter : {false, true}) {
        INFO("n=" << n << " counter=" << with_counter);
        Mirror<int64_t> counter(std::vector<int64_t>{5});
        MirrorF out(n);
        for (int64_t value : {int64_t(5), int64_t(6)}) {  // the counter changes between runs
          counter.set({value});
          out.poison();
          const int64_t* cc = with_counter ? counter.c() : nullptr;
          const int64_t* cg = with_counter ? counter.g() : nullptr;
          cpu().noise(out.c(), n, 99, Stream::Noise, cc, 3, 2);
          cuda().noise(out.g(), n, 99, Stream::Noise, cg, 3, 2);
          const std::vector<float> got = out.gpu(), ref = out.cpu();
          expect_ulps("noise", got, ref, 1);
          // Independent check of the stream: element 0 of stream Noise:(value*3+2).
          const uint64_t k = with_counter ? uint64_t(value * 3 + 2) : 2;
          CHECK(ref[0] == philox_normal(99, stream_id(Stream::Noise, k), 0));
        }
      }
  });
}

TEST_CASE("cuda end_iteration: advances iteration and batch cursor on the device") {
  StepCounters c0;
  c0.iteration = 10;
  c0.batch_cursor = 4;
  Mirror<StepCounters> c(std::vector<StepCounters>{c0});
  cuda().end_iteration(c.g(), 3);
  cuda().end_iteration(c.g(), 3);
  cpu().end_iteration(c.c(), 3);
  cpu().end_iteration(c.c(), 3);
  const StepCounters g = c.gpu()[0], r = c.cpu()[0];
  CHECK(g.iteration == 12);
  CHECK(g.batch_cursor == 10);
  CHECK(std::memcmp(&g, &r, sizeof g) == 0);
}
