/*
 * test_trainer_graphs.cpp — the trainer's graph capture and replay, on a CPU backend that
 * records "graphs" (tests/support/graph_recording_backend.hpp): a replayed run equals an eager run
 * bit for bit (with the training options too: an op the recorder missed would run at capture
 * time instead of at replay), a failed capture reports its first error and leaves no graph
 * behind, and two Trainers on one backend each replay their own iteration.
 */
#include <doctest/doctest.h>

#include <string>

#include "engine/base/error.hpp"
#include "engine/io/idx.hpp"
#include "engine/trainer.hpp"
#include "kernels/cpu/cpu_backend.hpp"
#include "tests/support/graph_recording_backend.hpp"
#include "tests/support/test_util.hpp"

namespace {

using namespace gan;
using test::GraphRecordingBackend;

TrainConfig tiny_config(uint64_t seed) {
  return test::small_train_config({4, {8, 12}, {10, 6}, 3, 4, 4}, seed);
}

const Dataset& tiny_data() {
  static const Dataset d = test::random_dataset(48, 3, 4, 5);
  return d;
}

// State after `iterations` eager iterations of epoch 0 on a plain CPU backend.
TrainState eager_state(uint64_t seed, int iterations) {
  auto be = make_cpu_backend();
  Trainer t(*be, tiny_config(seed), /*use_graph=*/false);
  t.set_data(tiny_data());
  t.init_weights();
  t.begin_epoch(0);
  for (int i = 0; i < iterations; ++i) t.run_iteration();
  return t.state();
}

void check_same(const TrainState& got, const TrainState& want) {
  for (int q = 0; q < 2; ++q) {
    CHECK(got.params[q] == want.params[q]);
    CHECK(got.adam_m[q] == want.adam_m[q]);
    CHECK(got.adam_v[q] == want.adam_v[q]);
  }
  CHECK(got.bn_stats == want.bn_stats);
  CHECK(got.counters.iteration == want.counters.iteration);
  CHECK(got.counters.adam_step[0] == want.counters.adam_step[0]);
  CHECK(got.counters.adam_step[1] == want.counters.adam_step[1]);
}

TEST_CASE("graphs: an iteration captured once and replayed equals eager iterations, bit for bit") {
  auto cpu = make_cpu_backend();
  GraphRecordingBackend be(*cpu);
  Trainer t(be, tiny_config(3));
  t.set_data(tiny_data());
  t.init_weights();
  t.begin_epoch(0);
  for (int i = 0; i < 3; ++i) t.run_iteration();
  CHECK(be.captures_begun == 1);
  CHECK(be.graphs_made == 1);
  CHECK(be.replays == 3);
  check_same(t.state(), eager_state(3, 3));
}

TEST_CASE("graphs: with dropout, label smoothing and the G average, replay equals eager too") {
  auto options = [](uint64_t seed) {
    TrainConfig c = tiny_config(seed);
    c.d_dropout = 0.3f;
    c.real_label = 0.9f;
    c.g_ema = 0.99f;
    c.d_steps = 2;
    return c;
  };
  auto run = [&](Backend& be, bool graph) {
    Trainer t(be, options(6), graph);
    t.set_data(tiny_data());
    t.init_weights();
    t.begin_epoch(0);
    for (int i = 0; i < 3; ++i) t.run_iteration();
    return t.state();
  };
  auto cpu = make_cpu_backend();
  GraphRecordingBackend be(*cpu);
  const TrainState replayed = run(be, true);
  CHECK(be.graphs_made == 1);
  CHECK(be.replays == 3);
  const TrainState eager = run(*cpu, false);
  check_same(replayed, eager);
  CHECK(!eager.ema_params.empty());
  CHECK(replayed.ema_params == eager.ema_params);
  CHECK(replayed.ema_stats == eager.ema_stats);
}

TEST_CASE("graphs: a failed capture reports the first error and leaves no graph behind") {
  for (const bool invalidated : {true, false}) {
    INFO("the fault invalidates the capture: " << invalidated);
    auto cpu = make_cpu_backend();
    GraphRecordingBackend be(*cpu);
    be.fail_op = 5;
    be.invalidate_on_fault = invalidated;
    Trainer t(be, tiny_config(4));
    t.set_data(tiny_data());
    t.init_weights();
    t.begin_epoch(0);
    std::string what;
    try {
      t.run_iteration();
    } catch (const Error& e) {
      what = e.what();
    }
    CHECK(what.find("injected fault in") != std::string::npos);  // the first error, not the
    CHECK(what.find("invalidated") == std::string::npos);        // one of ending the capture
    CHECK(!be.capturing());
    CHECK(be.aborts == 1);
    CHECK(be.graphs_made == 0);  // nothing half-captured is kept or replayed
    CHECK(be.replays == 0);

    // Without the fault the next iteration captures afresh and computes what eager does.
    be.fail_op = -1;
    t.run_iteration();
    CHECK(be.graphs_made == 1);
    check_same(t.state(), eager_state(4, 1));
  }
}

TEST_CASE("graphs: two Trainers on one backend each replay their own iteration") {
  auto cpu = make_cpu_backend();
  GraphRecordingBackend be(*cpu);
  Trainer a(be, tiny_config(11)), b(be, tiny_config(12));
  for (Trainer* t : {&a, &b}) {
    t->set_data(tiny_data());
    t->init_weights();
    t->begin_epoch(0);
  }
  for (int i = 0; i < 3; ++i) {
    a.run_iteration();
    b.run_iteration();
  }
  CHECK(be.graphs_made == 2);
  CHECK(be.replays == 6);
  check_same(a.state(), eager_state(11, 3));
  check_same(b.state(), eager_state(12, 3));
}

}  // namespace
