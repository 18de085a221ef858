/*
 * test_cuda_training_options.cpp — the CUDA kernels of the training options of issue 9
 * against the CPU reference.
 *
 *   - dropout: forward and backward at awkward shapes, with and without parameter
 *     gradients; the dropped elements are exactly the CPU's (same Philox mask), values agree
 *     to cuBLAS rounding; the draw number is read from device memory;
 *   - the smoothed D head, both d_head variants, shared-memory and scratch row counts;
 *   - the weight average: the same bits as the CPU, and no update after a skipped G step;
 *   - training with every option: tracks the CPU backend, a replayed graph equals eager
 *     issue bit for bit (so the dropout draw and the rates' decay advance on replay), and a
 *     checkpoint with the
 *     average resumes bit-exactly;
 *   - sampling with batch-statistics BatchNorm and the averaged weights.
 */
#include <doctest/doctest.h>

#include <stdlib.h>
#include <unistd.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <string>
#include <tuple>
#include <vector>

#include "engine/checkpoint.hpp"
#include "engine/io/idx.hpp"
#include "engine/trainer.hpp"
#include "engine/dropout_mask.h"
#include "tests/gpu/gpu_test_util.hpp"
#include "tests/support/test_util.hpp"

namespace {

using namespace gan;
using namespace gan::gpu_test;
using test::make_desc;
using test::random_vector;
using test::Rng;

std::vector<float> zero_pattern(const std::vector<float>& v) {
  std::vector<float> z(v.size());
  for (size_t i = 0; i < v.size(); ++i) z[i] = v[i] == 0.0f ? 0.0f : 1.0f;
  return z;
}

TEST_CASE("cuda options: dropout forward and backward match the CPU mask and values") {
  for (auto [rows, in, out] : {std::tuple{37, 50, 45}, std::tuple{256, 784, 512},
                               std::tuple{3, 7, 1}}) {
    CAPTURE(rows);
    CAPTURE(out);
    const DenseDesc d = make_desc(in, out, false, Act::LeakyReLU);
    Rng rng(uint64_t(rows) * 31 + out);
    Mirror<float> x(random_vector<float>(rng, size_t(rows) * in)),
        W(random_vector<float>(rng, size_t(out) * in, -0.2, 0.2)),
        b(random_vector<float>(rng, out, -0.1, 0.1)), y(size_t(rows) * out);
    Mirror<int64_t> counter(std::vector<int64_t>{6});
    const DenseParams pc{W.c(), b.c()}, pg{W.g(), b.g()};
    auto mask = [](const int64_t* c) { return DropoutMask{0.35f, 9, c, 2, 1, 1}; };
    y.poison();
    cpu().dense_forward_dropout(d, rows, x.c(), pc, mask(counter.c()), y.c());
    cuda().dense_forward_dropout(d, rows, x.g(), pg, mask(counter.g()), y.g());
    expect_equal("zero pattern", zero_pattern(y.gpu()), zero_pattern(y.cpu()));
    expect_close("y", y.gpu(), y.cpu(), Tol{1e-5, 1e-4});

    const auto up = random_vector<float>(rng, size_t(rows) * out);
    for (bool grads : {true, false}) {
      CAPTURE(grads);
      Mirror<float> dy(up), dW(size_t(out) * in), db(out), dx(size_t(rows) * in);
      for (Mirror<float>* m : {&dW, &db, &dx}) m->poison();
      const std::vector<float> yc = y.cpu();
      Mirror<float> yy(yc);  // both backends see the CPU's y (the same signs)
      cpu().dense_backward_dropout(d, rows, x.c(), pc, mask(counter.c()), yy.c(), dy.c(),
                                   grads ? DenseGrads{dW.c(), db.c()} : DenseGrads{}, dx.c());
      cuda().dense_backward_dropout(d, rows, x.g(), pg, mask(counter.g()), yy.g(), dy.g(),
                                    grads ? DenseGrads{dW.g(), db.g()} : DenseGrads{}, dx.g());
      expect_equal("dz (exact: mask, factor and slope in float)", dy.gpu(), dy.cpu());
      expect_close("dx", dx.gpu(), dx.cpu(), Tol{1e-5, 1e-4});
      if (grads) {
        expect_close("dW", dW.gpu(), dW.cpu(), Tol{1e-5, 1e-4});
        expect_close("db", db.gpu(), db.cpu(), Tol{1e-6, 1e-5});
      }
    }
    // The draw number is read on the device when the kernel runs.
    const std::vector<float> before = y.gpu();
    counter.set({7});
    cuda().dense_forward_dropout(d, rows, x.g(), pg, mask(counter.g()), y.g());
    cpu().dense_forward_dropout(d, rows, x.c(), pc, mask(counter.c()), y.c());
    expect_equal("zero pattern, draw 15", zero_pattern(y.gpu()), zero_pattern(y.cpu()));
    if (size_t(rows) * out > 64) CHECK(zero_pattern(y.gpu()) != zero_pattern(before));
  }
}

TEST_CASE("cuda options: BatchNorm momentum, and batch statistics without running statistics") {
  const int rows = 37, in = 20, out = 70;
  DenseDesc d = make_desc(in, out, true, Act::ReLU);
  d.bn_momentum = 0.3f;
  Rng rng(12);
  Mirror<float> x(random_vector<float>(rng, size_t(rows) * in)),
      W(random_vector<float>(rng, size_t(out) * in, -0.3, 0.3)),
      b(random_vector<float>(rng, out, -0.1, 0.1)), gamma(random_vector<float>(rng, out, 0.5, 1.5)),
      beta(random_vector<float>(rng, out, -0.5, 0.5)), y(size_t(rows) * out),
      z(size_t(rows) * out), mean(out), rstd(out);
  const DenseParams pc{W.c(), b.c(), gamma.c(), beta.c()}, pg{W.g(), b.g(), gamma.g(), beta.g()};
  for_each_variant("dense_forward", [&](const std::string&) {
    Mirror<float> rm(random_vector<float>(rng, out, -0.2, 0.2)),
        rv(random_vector<float>(rng, out, 0.5, 2.0));
    const std::vector<float> rm0 = rm.cpu(), rv0 = rv.cpu();
    y.poison();
    cpu().dense_forward(d, Mode::Train, rows, x.c(), pc, BnStats{rm.c(), rv.c()},
                        DenseSaved{z.c(), mean.c(), rstd.c()}, y.c());
    cuda().dense_forward(d, Mode::Train, rows, x.g(), pg, BnStats{rm.g(), rv.g()},
                         DenseSaved{z.g(), mean.g(), rstd.g()}, y.g());
    expect_close("running mean (momentum 0.3)", rm.gpu(), rm.cpu(), Tol{1e-6, 1e-5});
    expect_close("running var (momentum 0.3)", rv.gpu(), rv.cpu(), Tol{1e-6, 1e-5});
    CHECK(rm.cpu() != rm0);
    const std::vector<float> with_stats = y.gpu();
    // Null running statistics: the same output, nothing else written.
    y.poison();
    cuda().dense_forward(d, Mode::Train, rows, x.g(), pg, BnStats{},
                         DenseSaved{z.g(), mean.g(), rstd.g()}, y.g());
    expect_equal("y without running statistics", y.gpu(), with_stats);
  });
}

TEST_CASE("cuda options: the smoothed D head matches the CPU in every d_head variant") {
  for (int B : {5, 300, 2100}) {  // 2B = 4200 rows: dL/dl beyond shared memory
    CAPTURE(B);
    const int in = 128;
    const DenseDesc d = make_desc(in, 1, false, Act::None);
    Rng rng(B);
    Mirror<float> x(random_vector<float>(rng, size_t(2 * B) * in, -1, 1)),
        w(random_vector<float>(rng, in, -0.3, 0.3)), b(std::vector<float>{0.05f});
    for_each_variant("d_head", [&](const std::string&) {
      Mirror<float> dw(in), db(1), dx(size_t(2 * B) * in);
      Mirror<StepMetrics> m(1);
      for (Mirror<float>* t : {&dw, &db, &dx}) t->poison();
      cpu().d_head_smoothed(d, HeadMode::DStep, B, B, 0.9f, x.c(), DenseParams{w.c(), b.c()},
                            DenseGrads{dw.c(), db.c()}, dx.c(), m.c());
      cuda().d_head_smoothed(d, HeadMode::DStep, B, B, 0.9f, x.g(), DenseParams{w.g(), b.g()},
                             DenseGrads{dw.g(), db.g()}, dx.g(), m.g());
      const StepMetrics mc = m.cpu()[0], mg = m.gpu()[0];
      expect_close("metrics", {mg.d_loss, mg.d_real, mg.d_fake, mg.value},
                   {mc.d_loss, mc.d_real, mc.d_fake, mc.value}, Tol{1e-6, 1e-5});
      expect_close("dw", dw.gpu(), dw.cpu(), Tol{1e-6, 1e-5});
      expect_close("db", db.gpu(), db.cpu(), Tol{1e-6, 1e-5});
      expect_close("dx", dx.gpu(), dx.cpu(), Tol{1e-7, 1e-5});
    });
  }
}

TEST_CASE("cuda options: the weight average has the CPU's bits and skips after a skipped step") {
  const size_t n = 100003, ns = 77;
  Rng rng(8);
  Mirror<float> ema(random_vector<float>(rng, n)), src(random_vector<float>(rng, n)),
      es(random_vector<float>(rng, ns)), ss(random_vector<float>(rng, ns));
  StepCounters c0;
  Mirror<StepCounters> c(std::vector<StepCounters>{c0});
  for (Backend* be : {&cpu(), &cuda()}) {
    const bool g = be == &cuda();
    be->ema_update(g ? ema.g() : ema.c(), g ? src.g() : src.c(), n, g ? es.g() : es.c(),
                   g ? ss.g() : ss.c(), ns, 0.999f, g ? c.g() : c.c());
  }
  expect_equal("ema", ema.gpu(), ema.cpu());
  expect_equal("ema stats", es.gpu(), es.cpu());
  const std::vector<float> kept = ema.gpu();
  c0.bad_now[0] = 1;
  c.set({c0});
  cuda().ema_update(ema.g(), src.g(), n, es.g(), ss.g(), ns, 0.5f, c.g());
  expect_equal("ema after a skipped step", ema.gpu(), kept);
}

// ---- training -------------------------------------------------------------------------

TrainConfig options_config() {
  TrainConfig c = test::small_train_config({16, {32, 64}, {64, 32}, 12, 11, 32}, 11, 2);
  c.adam_g.lr = 1e-3f;
  c.adam_d.lr = 3e-4f;
  c.spec.bn_momentum = 0.3f;
  c.d_dropout = 0.3f;
  c.real_label = 0.9f;
  c.g_ema = 0.95f;
  c.lr_decay_start = 1;  // 8 iterations per epoch: the rates fall over iterations 8..23
  c.lr_decay_end = 3;
  return c;
}


TEST_CASE("cuda options: training with every option tracks the CPU, replays and resumes") {
  const TrainConfig cfg = options_config();
  const Dataset data = test::random_dataset(32 * 2 * 8, cfg.spec.image_h, cfg.spec.image_w, 4);
  Trainer tc(cpu(), cfg), graph(cuda(), cfg, true), eager(cuda(), cfg, false);
  for (Trainer* t : {&tc, &graph, &eager}) {
    t->set_data(data);
    t->init_weights();
  }
  std::vector<StepMetrics> mc, mg, me;
  run(tc, 0, 12, &mc);
  run(graph, 0, 12, &mg);
  run(eager, 0, 12, &me);
  check_same_state(graph.state(), eager.state());
  for (size_t i = 0; i < mg.size(); ++i) {
    INFO("iteration " << i + 1);
    CHECK(std::memcmp(&mg[i], &me[i], sizeof(StepMetrics)) == 0);
    expect_close("metrics vs CPU", {mg[i].d_loss, mg[i].g_loss, mg[i].value},
                 {mc[i].d_loss, mc[i].g_loss, mc[i].value}, Tol{1e-3, 1e-2});
  }
  const TrainState sg = graph.state(), sc = tc.state();
  expect_close("ema vs CPU", sg.ema_params, sc.ema_params, Tol{2e-2, 0});
  expect_close("running stats vs CPU (momentum 0.3)", sg.bn_stats, sc.bn_stats,
               Tol{2e-2, 2e-2});

  // Checkpoint on the GPU, resume on a fresh GPU trainer: bit-exact continuation.
  const std::string dir =
      (std::filesystem::temp_directory_path() / ("gan_gpu_options_" + std::to_string(::getpid())))
          .string();
  std::filesystem::create_directories(dir);
  const std::string path = dir + "/ck.safetensors";
  save_checkpoint(path, cfg, sg);
  const Checkpoint ck = load_checkpoint(path);
  std::filesystem::remove_all(dir);
  Trainer resumed(cuda(), ck.config, true);
  resumed.set_data(data);
  resumed.set_state(ck.state);
  run(graph, 12, 20);
  run(resumed, 12, 20);
  check_same_state(resumed.state(), graph.state());

  // Sampling: the average with batch-statistics BatchNorm, CPU and GPU alike.
  GenerateOptions how;
  how.weights = SampleWeights::Ema;
  how.bn = SampleBn::Train;
  how.bn_batch = 24;
  Trainer sample_cpu(cpu(), ck.config);
  sample_cpu.set_state(resumed.state());
  const TrainState before = resumed.state();
  const std::vector<float> g = resumed.generate(50, Stream::Sample, 3, how);
  const std::vector<float> c = sample_cpu.generate(50, Stream::Sample, 3, how);
  expect_close("train-mode samples", g, c, Tol{1e-4, 1e-3});
  expect_equal("running stats untouched", resumed.state().bn_stats, before.bn_stats);
  expect_equal("average's stats untouched", resumed.state().ema_stats, before.ema_stats);
}

}  // namespace
