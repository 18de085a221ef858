/*
 * test_trainer.cpp — the training iteration on the CPU backend: initialisation, counters,
 * determinism, state round trips that continue bit-exactly, sampling.
 */
#include <doctest/doctest.h>

#include <cmath>

#include "engine/error.hpp"
#include "engine/idx.hpp"
#include "engine/trainer.hpp"
#include "kernels/cpu/cpu_backend.hpp"
#include "tests/test_util.hpp"

namespace {

using namespace gan;

TrainConfig small_config(uint64_t seed = 7) {
  TrainConfig c;
  c.spec.z_dim = 8;
  c.spec.g_widths = {16, 24};
  c.spec.d_widths = {20, 12};
  c.spec.image_h = 6;
  c.spec.image_w = 5;
  c.batch_size = 8;
  c.seed = seed;
  return c;
}

Dataset synthetic_data(int count, int rows, int cols) {
  return test::random_dataset(count, rows, cols, 99);
}

bool same(const TrainState& a, const TrainState& b) {
  for (int q = 0; q < 2; ++q)
    if (a.params[q] != b.params[q] || a.adam_m[q] != b.adam_m[q] || a.adam_v[q] != b.adam_v[q])
      return false;
  return a.bn_stats == b.bn_stats && a.counters.iteration == b.counters.iteration &&
         a.counters.batch_cursor == b.counters.batch_cursor;
}

TEST_CASE("init_weights follows nn.Linear's default bounds and BatchNorm's identity") {
  auto be = make_cpu_backend();
  Trainer t(*be, small_config());
  const Dataset data = synthetic_data(64, 6, 5);
  t.set_data(data);
  t.init_weights();
  const TrainState s = t.state();
  for (Net n : {Net::G, Net::D}) {
    const NetLayout& net = t.layout(n);
    const auto& p = s.params[static_cast<int>(n)];
    for (size_t l = 0; l < net.layers.size(); ++l) {
      const DenseDesc& d = net.layers[l];
      const DenseOffsets& o = net.offsets[l];
      const float bound = 1.0f / std::sqrt(static_cast<float>(d.in));
      double sum = 0;
      for (size_t i = 0; i < size_t(d.in) * d.out; ++i) {
        CHECK(std::abs(p[o.W + i]) <= bound);
        sum += p[o.W + i];
      }
      // a uniform draw, not a constant: mean near 0 but the values differ
      CHECK(std::abs(sum / (d.in * d.out)) < bound * 0.5);
      CHECK(p[o.W] != p[o.W + 1]);
      if (d.batchnorm) {
        for (int j = 0; j < d.out; ++j) {
          CHECK(p[o.gamma + j] == 1.0f);
          CHECK(p[o.beta + j] == 0.0f);
          CHECK(s.bn_stats[o.running_mean + j] == 0.0f);
          CHECK(s.bn_stats[o.running_var + j] == 1.0f);
        }
      }
    }
  }
  // a different seed gives different weights
  Trainer t2(*be, small_config(8));
  t2.set_data(data);
  t2.init_weights();
  CHECK(t2.state().params[0] != s.params[0]);
}

TEST_CASE("an iteration advances the counters and changes both networks") {
  auto be = make_cpu_backend();
  TrainConfig cfg = small_config();
  cfg.d_steps = 2;
  Trainer t(*be, cfg);
  t.set_data(synthetic_data(64, 6, 5));
  CHECK(t.iterations_per_epoch() == 64 / (8 * 2));
  t.init_weights();
  t.begin_epoch(0);
  const TrainState before = t.state();
  t.run_iteration();
  const TrainState after = t.state();
  const StepCounters c = after.counters;
  CHECK(c.iteration == 1);
  CHECK(c.batch_cursor == 2);
  CHECK(c.adam_step[0] == 1);
  CHECK(c.adam_step[1] == 2);
  CHECK(c.skipped[0] == 0);
  CHECK(c.skipped[1] == 0);
  CHECK(after.params[0] != before.params[0]);
  CHECK(after.params[1] != before.params[1]);
  CHECK(after.bn_stats != before.bn_stats);
  const StepMetrics m = t.metrics();
  CHECK(std::isfinite(m.d_loss));
  CHECK(m.d_real > 0.0f);
  CHECK(m.d_real < 1.0f);
  CHECK(m.d_fake > 0.0f);
  CHECK(m.d_fake < 1.0f);
  CHECK(m.value == doctest::Approx(-m.d_loss));
  CHECK(m.g_loss > 0.0f);  // non-saturating: -log D(G(z)) > 0
}

TEST_CASE("the minimax generator loss is log(1 - D(G(z))) < 0") {
  auto be = make_cpu_backend();
  TrainConfig cfg = small_config();
  cfg.g_loss = GLoss::Minimax;
  Trainer t(*be, cfg);
  t.set_data(synthetic_data(64, 6, 5));
  t.init_weights();
  t.begin_epoch(0);
  t.run_iteration();
  const StepMetrics m = t.metrics();
  CHECK(m.g_loss < 0.0f);
  CHECK(m.g_loss == doctest::Approx(std::log(1.0f - m.g_fake)).epsilon(0.05));
}

TEST_CASE("same seed, same bits: a saved state continues exactly like an uninterrupted run") {
  auto be = make_cpu_backend();
  const Dataset data = synthetic_data(96, 6, 5);
  auto run = [&](int iterations) {
    Trainer t(*be, small_config());
    t.set_data(data);
    t.init_weights();
    t.begin_epoch(0);
    for (int i = 0; i < iterations; ++i) t.run_iteration();
    return t.state();
  };
  const TrainState a = run(5), b = run(5);
  CHECK(same(a, b));

  // Stop after 2 iterations (mid-epoch), restore into a fresh trainer, run 3 more.
  const TrainState mid = run(2);
  Trainer t(*be, small_config());
  t.set_data(data);
  t.set_state(mid);
  for (int i = 0; i < 3; ++i) t.run_iteration();
  CHECK(same(t.state(), a));
}

TEST_CASE("epochs draw different permutations and the cursor restarts") {
  auto be = make_cpu_backend();
  Trainer t(*be, small_config());
  t.set_data(synthetic_data(32, 6, 5));
  t.init_weights();
  t.begin_epoch(0);
  for (int i = 0; i < t.iterations_per_epoch(); ++i) t.run_iteration();
  CHECK(t.counters().batch_cursor == 4);
  t.begin_epoch(1);
  CHECK(t.counters().batch_cursor == 0);
  CHECK(t.counters().iteration == 4);
}

TEST_CASE("generate: eval-mode samples in [0,1], deterministic, running stats untouched") {
  auto be = make_cpu_backend();
  Trainer t(*be, small_config());
  t.set_data(synthetic_data(64, 6, 5));
  t.init_weights();
  t.begin_epoch(0);
  t.run_iteration();
  const TrainState before = t.state();
  const auto a = t.generate(1500, Stream::Sample, 3);  // more than one chunk of 1024
  const auto b = t.generate(1500, Stream::Sample, 3);
  const auto c = t.generate(10, Stream::Sample, 4);
  REQUIRE(a.size() == 1500u * 30);
  CHECK(a == b);
  CHECK(std::vector<float>(a.begin(), a.begin() + 300) != c);
  for (float v : a) {
    REQUIRE(v >= 0.0f);
    REQUIRE(v <= 1.0f);
  }
  CHECK(same(t.state(), before));
  // row r depends only on noise row r: the first 10 of 1500 match a draw of 10 (to float
  // rounding: the matrix product may block a 10-row batch differently)
  const auto d = t.generate(10, Stream::Sample, 3);
  for (size_t i = 0; i < d.size(); ++i) REQUIRE(d[i] == doctest::Approx(a[i]).epsilon(1e-5));
}

TEST_CASE("set_data refuses data that does not fit the model") {
  auto be = make_cpu_backend();
  Trainer t(*be, small_config());
  CHECK_THROWS_AS(t.set_data(synthetic_data(64, 28, 28)), InputError);
  Trainer t2(*be, small_config());
  CHECK_THROWS_WITH_AS(t2.set_data(synthetic_data(7, 6, 5)),
                       doctest::Contains("fewer than one iteration"), InputError);
}

}  // namespace
