/*
 * test_trainer.cpp — the training iteration on the CPU backend: initialisation, counters,
 * determinism, per-epoch permutations, state round trips that continue bit-exactly (mid-epoch
 * and in later epochs, with 1 and 2 D steps), sampling.
 */
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <utility>
#include <vector>

#include "apps/bench/counting_backend.hpp"
#include "engine/base/error.hpp"
#include "engine/io/idx.hpp"
#include "engine/trainer.hpp"
#include "kernels/cpu/cpu_backend.hpp"
#include "tests/support/test_util.hpp"

namespace {

using namespace gan;

TrainConfig small_config(uint64_t seed = 7) {
  return test::small_train_config({8, {16, 24}, {20, 12}, 6, 5, 8}, seed);
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

// The CPU backend, recording every permutation it draws and the image indices of every real
// batch it gathers.
class RecordingBackend : public CountingBackend {
 public:
  using CountingBackend::CountingBackend;
  std::vector<std::vector<int32_t>> perms;
  std::vector<int32_t> taken;

  void shuffle(int32_t* perm, int n, uint64_t seed, uint64_t epoch, StepCounters* c) override {
    CountingBackend::shuffle(perm, n, seed, epoch, c);
    perms.emplace_back(static_cast<size_t>(n));
    inner().download(perms.back().data(), perm, sizeof(int32_t) * n);
  }
  void gather_batch(float* out, const uint8_t* images, int dim, const int32_t* perm,
                    const StepCounters* c, int slot, int rows) override {
    CountingBackend::gather_batch(out, images, dim, perm, c, slot, rows);
    StepCounters now;
    inner().download(&now, c, sizeof now);
    std::vector<int32_t> idx(static_cast<size_t>(rows));
    inner().download(idx.data(), perm + (now.batch_cursor + slot) * rows,
                     sizeof(int32_t) * rows);
    taken.insert(taken.end(), idx.begin(), idx.end());
  }
};

// Indices 0..n-1 in the order of their keys philox_u32(seed, Shuffle:epoch, i), ties by index.
std::vector<int32_t> expected_permutation(int n, uint64_t seed, uint64_t epoch) {
  std::vector<std::pair<uint32_t, int32_t>> keyed;
  for (int32_t i = 0; i < n; ++i)
    keyed.emplace_back(philox_u32(seed, stream_id(Stream::Shuffle, epoch), uint64_t(i)), i);
  std::sort(keyed.begin(), keyed.end());
  std::vector<int32_t> perm;
  for (const auto& [key, i] : keyed) perm.push_back(i);
  return perm;
}

TEST_CASE("epochs draw different permutations and the cursor restarts") {
  auto cpu = make_cpu_backend();
  RecordingBackend be(*cpu);
  const TrainConfig cfg = small_config();
  const int n = 36;  // 4 iterations of 8 images per epoch, 4 images left over
  Trainer t(be, cfg);
  t.set_data(synthetic_data(n, 6, 5));
  const int per_epoch = t.iterations_per_epoch();
  REQUIRE(per_epoch == 4);
  t.init_weights();
  be.perms.clear();
  be.taken.clear();
  for (int64_t e = 0; e < 3; ++e) {
    CAPTURE(e);
    t.begin_epoch(e);
    CHECK(t.counters().batch_cursor == 0);
    for (int i = 0; i < per_epoch; ++i) t.run_iteration();
    CHECK(t.counters().batch_cursor == per_epoch);
    CHECK(t.counters().iteration == (e + 1) * per_epoch);
    CHECK(t.state().epoch == e);
  }
  // one permutation per epoch, the one the header specifies, each a different order
  REQUIRE(be.perms.size() == 3u);
  const size_t used = size_t(per_epoch) * cfg.batch_size;
  REQUIRE(be.taken.size() == 3 * used);
  for (int e = 0; e < 3; ++e) {
    CAPTURE(e);
    const std::vector<int32_t> want = expected_permutation(n, cfg.seed, uint64_t(e));
    CHECK(be.perms[e] == want);
    // the epoch's batches are its permutation's first per_epoch * B entries, in order
    CHECK(std::equal(want.begin(), want.begin() + used, be.taken.begin() + e * used));
  }
  CHECK(be.perms[0] != be.perms[1]);
  CHECK(be.perms[1] != be.perms[2]);
  CHECK(be.perms[0] != be.perms[2]);
}

TEST_CASE("a state saved in a later epoch continues exactly, at its start or mid-epoch") {
  auto be = make_cpu_backend();
  const Dataset data = synthetic_data(40, 6, 5);
  for (int k : {1, 2}) {
    TrainConfig cfg = small_config();
    cfg.d_steps = k;
    // epochs 0..epoch-1 whole, then `iterations` iterations of `epoch`
    auto run = [&](int64_t epoch, int iterations) {
      Trainer t(*be, cfg);
      t.set_data(data);
      t.init_weights();
      for (int64_t e = 0; e <= epoch; ++e) {
        t.begin_epoch(e);
        const int its = e < epoch ? t.iterations_per_epoch() : iterations;
        for (int i = 0; i < its; ++i) t.run_iteration();
      }
      return t.state();
    };
    const int per_epoch = 40 / (8 * k);
    const TrainState whole = run(2, 1);  // through epoch 1, into epoch 2
    for (int at : {0, 1}) {
      CAPTURE(k);
      CAPTURE(at);
      const TrainState saved = run(1, at);
      REQUIRE(saved.epoch == 1);
      REQUIRE(saved.counters.batch_cursor == at * k);
      Trainer t(*be, cfg);
      t.set_data(data);
      t.set_state(saved);  // no begin_epoch: the state names its epoch and cursor
      for (int i = at; i < per_epoch; ++i) t.run_iteration();
      t.begin_epoch(2);
      t.run_iteration();
      CHECK(same(t.state(), whole));
      CHECK(t.state().epoch == 2);
    }
  }
}

TEST_CASE("generate: eval-mode samples between 0 and 1, deterministic, running stats untouched") {
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

namespace {

// A CPU backend whose memory budget is set by the test and which sums what it allocates.
class MeteredBackend : public CountingBackend {
 public:
  MeteredBackend(Backend& inner, size_t budget) : CountingBackend(inner), budget_(budget) {}
  void* alloc(size_t bytes) override {
    allocated += bytes;
    return CountingBackend::alloc(bytes);
  }
  void* alloc_host(size_t bytes) override {
    allocated += bytes;
    return CountingBackend::alloc_host(bytes);
  }
  size_t memory_budget() const override { return budget_; }
  size_t allocated = 0;

 private:
  size_t budget_;
};

TEST_CASE("the trainer's fit check counts exactly the memory it then allocates") {
  // with and without a weight average, one to three hidden layers of G
  for (const auto& [widths, ema] : std::vector<std::pair<std::vector<int>, float>>{
           {{16, 40}, 0.999f}, {{7}, 0.0f}, {{5, 9, 3}, 0.9f}}) {
    CAPTURE(widths.size());
    TrainConfig cfg = test::small_train_config({8, widths, {33, 12}, 6, 5, 7}, 3);
    cfg.g_ema = ema;
    const auto cpu = make_cpu_backend();
    MeteredBackend free_hand(*cpu, SIZE_MAX);
    { Trainer t(free_hand, cfg, false); }
    const size_t needed = free_hand.allocated;
    REQUIRE(needed > 0);
    MeteredBackend exact(*cpu, needed);
    CHECK_NOTHROW(Trainer(exact, cfg, false));
    MeteredBackend short_by_one(*cpu, needed - 1);
    CHECK_THROWS_WITH_AS(Trainer(short_by_one, cfg, false), doctest::Contains("does not fit"),
                         InputError);
    CHECK(short_by_one.allocated == 0);  // refused before allocating anything
  }
}

}  // namespace
