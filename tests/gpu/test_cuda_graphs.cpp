/*
 * test_cuda_graphs.cpp — CUDA graphs and the memory they reach, on the GPU:
 *   - a temporary buffer that grows after a capture stays allocated while a graph holds
 *     it, and goes when the last holder does (cudaPointerGetAttributes tells);
 *   - a graph replayed after the scratch grew computes what it computed before;
 *   - two Trainers with graphs on one backend each replay their own iteration, bit for
 *     bit what eager Trainers compute;
 *   - a fresh backend captures its very first iteration (cuBLAS never run before, kernels
 *     not loaded yet): skipped in the suite's run, it runs alone in its own process
 *     (CTest gpu_fresh_capture: gan_gpu_tests --no-skip -tc="fresh process*").
 */
#include <doctest/doctest.h>

#include <cuda_runtime.h>

#include <cstring>
#include <memory>
#include <vector>

#include "engine/base/error.hpp"
#include "engine/io/idx.hpp"
#include "engine/trainer.hpp"
#include "kernels/cuda/cuda_context.cuh"
#include "tests/gpu/gpu_test_util.hpp"
#include "tests/support/test_util.hpp"

namespace {

using namespace gan;
using namespace gan::gpu_test;

bool is_device_memory(const void* p) {
  cudaPointerAttributes a{};
  const cudaError_t e = cudaPointerGetAttributes(&a, p);
  (void)cudaGetLastError();
  return e == cudaSuccess && a.type == cudaMemoryTypeDevice;
}

TrainConfig graph_config(uint64_t seed) {
  return test::small_train_config({16, {32, 64}, {48, 24}, 8, 9, 16}, seed);
}

const Dataset& graph_data() {
  static const Dataset d = test::random_dataset(160, 8, 9, 21);
  return d;
}

TrainState train(Backend& be, uint64_t seed, bool graph, int iterations) {
  Trainer t(be, graph_config(seed), graph);
  t.set_data(graph_data());
  t.init_weights();
  t.begin_epoch(0);
  for (int i = 0; i < iterations; ++i) t.run_iteration();
  return t.state();
}


TEST_CASE("cuda graphs: a grown temporary buffer stays allocated while a graph holds it") {
  cudaStream_t s = nullptr;
  REQUIRE(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking) == cudaSuccess);
  {
    gpu::DeviceBuffer buf;
    void* first = buf.get(1024, s, "test");
    CHECK(is_device_memory(first));
    std::shared_ptr<void> held = buf.share();  // what a graph captured now holds
    void* grown = buf.get(size_t(64) << 20, s, "test");
    CHECK(grown != first);
    CHECK(is_device_memory(first));  // a live graph may still read it
    CHECK(is_device_memory(grown));
    held.reset();
    CHECK(!is_device_memory(first));  // the last holder is gone: freed
    // Nobody held it: freed when outgrown. The larger allocation may reuse its addresses,
    // which a live 64 MiB allocation would forbid.
    const size_t bigger_bytes = size_t(128) << 20;
    const char* bigger = static_cast<const char*>(buf.get(bigger_bytes, s, "test"));
    const char* g = static_cast<const char*>(grown);
    CHECK((!is_device_memory(grown) || (g >= bigger && g < bigger + bigger_bytes)));
  }
  CHECK(cudaStreamDestroy(s) == cudaSuccess);
}

TEST_CASE("cuda graphs: a graph replayed after the scratch grew computes what it did before") {
  auto be = make_cuda_backend(CudaOptions{});
  be->select_kernel("d_head", "unfused");  // its logits and row terms live in the scratch
  test::Rng rng(8);
  const int rows = 3000, in = 24, big = 300000;  // big: 40 bytes a row, beyond 4 MiB
  DenseDesc head = test::make_desc(in, 1, false, Act::None);
  Buf<float> x(*be, test::random_vector<float>(rng, size_t(rows) * in)),
      w(*be, test::random_vector<float>(rng, in)), b(*be, std::vector<float>{0.1f}),
      dw(*be, in), db(*be, 1), dx(*be, size_t(rows) * in);
  Buf<StepMetrics> m(*be, 1);
  auto head_op = [&] {
    be->d_head(head, HeadMode::DStep, rows / 2, rows - rows / 2, x.get(),
               DenseParams{w.get(), b.get()}, DenseGrads{dw.get(), db.get()}, dx.get(), m.get());
  };
  head_op();
  const std::vector<float> want_dx = dx.read(), want_dw = dw.read();
  const StepMetrics want_m = m.read()[0];

  be->begin_capture();
  head_op();
  const std::unique_ptr<CapturedGraph> g = be->end_capture();
  REQUIRE(g);

  // An eager op outgrows the scratch the graph was captured with.
  Buf<float> bx(*be, size_t(big)), bw(*be, std::vector<float>{1.0f}), bb(*be, 1), bdx(*be, big);
  DenseDesc narrow = test::make_desc(1, 1, false, Act::None);
  be->d_head(narrow, HeadMode::GMinimax, 0, big, bx.get(), DenseParams{bw.get(), bb.get()},
             DenseGrads{}, bdx.get(), m.get());
  be->synchronize();

  // The eager op wrote the generator's fields of m, which the D step leaves alone.
  dx.fill(0.0f);
  dw.fill(0.0f);
  m.set(std::vector<StepMetrics>{StepMetrics{}});
  g->replay();
  be->synchronize();
  CHECK(expect_equal("dx", dx.read(), want_dx));
  CHECK(expect_equal("dw", dw.read(), want_dw));
  const StepMetrics got_m = m.read()[0];
  CHECK(std::memcmp(&got_m, &want_m, sizeof(StepMetrics)) == 0);
}

TEST_CASE("cuda graphs: two Trainers with graphs on one backend each replay their own iteration") {
  auto be = make_cuda_backend(CudaOptions{});
  const TrainState eager_a = train(*be, 31, false, 4), eager_b = train(*be, 32, false, 4);
  Trainer a(*be, graph_config(31)), b(*be, graph_config(32));
  for (Trainer* t : {&a, &b}) {
    t->set_data(graph_data());
    t->init_weights();
    t->begin_epoch(0);
  }
  for (int i = 0; i < 4; ++i) {
    a.run_iteration();
    b.run_iteration();
  }
  check_same_state(a.state(), eager_a);
  check_same_state(b.state(), eager_b);
}

// Must be the first CUDA work of its process: run alone (see the header).
TEST_CASE("fresh process: a new backend captures its very first iteration" * doctest::skip()) {
  TrainState graph_state;
  {
    auto be = make_cuda_backend(CudaOptions{});
    graph_state = train(*be, 41, true, 3);
    CHECK(be->graph_kernel_count() > 0);
  }
  auto be = make_cuda_backend(CudaOptions{});
  check_same_state(graph_state, train(*be, 41, false, 3));
  CHECK(graph_state.counters.iteration == 3);
  CHECK(graph_state.counters.adam_step[0] == 3);
  CHECK(graph_state.counters.skipped[0] + graph_state.counters.skipped[1] == 0);
}

}  // namespace
