/*
 * test_cuda_training.cpp — the whole training iteration (engine/trainer.hpp) on the GPU.
 *
 *   - 200 iterations on the GPU track the same 200 on the CPU backend: the first 20
 *     iterations' metrics agree to 1e-3 + 1e-2|cpu|, all 200 to 0.05 + 0.05|cpu|, the final
 *     parameters to 0.02 (largest difference printed). Excluded: the biases of Linear layers
 *     followed by BatchNorm, whose gradient is zero up to rounding noise — Adam turns that
 *     noise into steps of +-lr whose sign differs between any two implementations, and
 *     BatchNorm removes the bias from every output.
 *   - A captured-and-replayed iteration (CUDA graph) gives the bits of issuing it eagerly.
 *   - A GPU checkpoint (save -> load) restores bit-identical state on the CPU backend and
 *     on a fresh GPU trainer; the GPU one then continues bit-identically, the CPU one
 *     tracks it.
 */
#include <doctest/doctest.h>

#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "engine/checkpoint.hpp"
#include "engine/base/error.hpp"
#include "engine/io/idx.hpp"
#include "engine/trainer.hpp"
#include "tests/gpu/gpu_test_util.hpp"
#include "tests/support/test_util.hpp"

namespace {

using namespace gan;
using namespace gan::gpu_test;

TrainConfig small_config(int d_steps = 1) {
  return test::small_train_config({16, {32, 64}, {64, 32}, 12, 11, 32}, 5, d_steps);
}

// Blurry blobs rather than uniform noise, so that D has something to learn.
Dataset synthetic_data(int count, int rows, int cols) {
  Dataset d;
  d.count = count;
  d.rows = rows;
  d.cols = cols;
  d.images.resize(static_cast<size_t>(count) * rows * cols);
  d.labels.resize(static_cast<size_t>(count));
  for (int i = 0; i < count; ++i) {
    const double cy = (philox_u32(3, 1, 2 * i) % 1000) / 1000.0 * rows;
    const double cx = (philox_u32(3, 1, 2 * i + 1) % 1000) / 1000.0 * cols;
    for (int y = 0; y < rows; ++y)
      for (int x = 0; x < cols; ++x) {
        const double r2 = (y - cy) * (y - cy) + (x - cx) * (x - cx);
        d.images[(static_cast<size_t>(i) * rows + y) * cols + x] =
            static_cast<uint8_t>(255.0 * std::exp(-r2 / 8.0));
      }
    d.labels[static_cast<size_t>(i)] = static_cast<uint8_t>(i % 10);
  }
  return d;
}


std::vector<float> metric_fields(const StepMetrics& m) {
  return {m.d_loss, m.d_real, m.d_fake, m.value, m.g_loss, m.g_fake};
}

bool metrics_close(const StepMetrics& g, const StepMetrics& c, double atol, double rtol) {
  const std::vector<float> a = metric_fields(g), b = metric_fields(c);
  for (size_t i = 0; i < a.size(); ++i)
    if (!(std::abs(double(a[i]) - b[i]) <= atol + rtol * std::abs(double(b[i])))) return false;
  return true;
}

// Largest |gpu - cpu| over a network's parameters, skipping BatchNorm layers' Linear biases.
double max_param_diff(const NetLayout& net, const std::vector<float>& g,
                      const std::vector<float>& c) {
  std::vector<bool> skip(g.size(), false);
  for (size_t l = 0; l < net.layers.size(); ++l)
    if (net.layers[l].batchnorm)
      for (int j = 0; j < net.layers[l].out; ++j) skip[net.offsets[l].b + j] = true;
  double worst = 0;
  for (size_t i = 0; i < g.size(); ++i)
    if (!skip[i]) worst = std::max(worst, std::abs(double(g[i]) - c[i]));
  return worst;
}

class TempDir {
 public:
  TempDir() {
    std::string tmpl =
        (std::filesystem::temp_directory_path() / "gan_gpu_test_XXXXXX").string();
    REQUIRE(::mkdtemp(tmpl.data()) != nullptr);
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  std::string file(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

}  // namespace

TEST_CASE("cuda training: 200 iterations track the CPU backend") {
  const TrainConfig cfg = small_config();
  const Dataset data = synthetic_data(32 * 50, cfg.spec.image_h, cfg.spec.image_w);
  Trainer tg(cuda(), cfg, true), tc(cpu(), cfg);
  for (Trainer* t : {&tg, &tc}) {
    t->set_data(data);
    t->init_weights();
  }
  check_same_state(tg.state(), tc.state());  // the same initialisation, bit for bit
  std::vector<StepMetrics> mg, mc;
  run(tg, 0, 200, &mg);
  run(tc, 0, 200, &mc);
  REQUIRE(mg.size() == 200);
  int early_bad = 0, late_bad = 0;
  double worst_loss = 0;
  for (size_t i = 0; i < mg.size(); ++i) {
    worst_loss = std::max({worst_loss, std::abs(double(mg[i].d_loss) - mc[i].d_loss),
                           std::abs(double(mg[i].g_loss) - mc[i].g_loss)});
    if (i < 20 && !metrics_close(mg[i], mc[i], 1e-3, 1e-2)) {
      if (early_bad++ < 3)
        FAIL_CHECK("iteration " << i + 1 << ": gpu d_loss " << mg[i].d_loss << " g_loss "
                                << mg[i].g_loss << ", cpu d_loss " << mc[i].d_loss << " g_loss "
                                << mc[i].g_loss);
    }
    if (!metrics_close(mg[i], mc[i], 0.05, 0.05)) {
      if (late_bad++ < 3)
        FAIL_CHECK("iteration " << i + 1 << ": gpu d_loss " << mg[i].d_loss << " g_loss "
                                << mg[i].g_loss << ", cpu d_loss " << mc[i].d_loss << " g_loss "
                                << mc[i].g_loss);
    }
  }
  const TrainState sg = tg.state(), sc = tc.state();
  const double dg = max_param_diff(tg.layout(Net::G), sg.params[0], sc.params[0]);
  const double dd = max_param_diff(tg.layout(Net::D), sg.params[1], sc.params[1]);
  MESSAGE("after 200 iterations: max |param diff| G " << dg << ", D " << dd
                                                      << "; max |loss diff| " << worst_loss);
  CHECK(dg < 0.02);
  CHECK(dd < 0.02);
  CHECK(sg.counters.iteration == 200);
  CHECK(sg.counters.adam_step[0] == 200);
  CHECK(sg.counters.adam_step[1] == 200);
  CHECK(sg.counters.skipped[0] == 0);
  CHECK(sg.counters.skipped[1] == 0);
  CHECK(std::memcmp(&sg.counters, &sc.counters, sizeof(StepCounters)) == 0);
}

TEST_CASE("cuda training: a replayed CUDA graph equals eager issue, bit for bit") {
  const TrainConfig cfg = small_config(2);
  const Dataset data = synthetic_data(32 * 2 * 10, cfg.spec.image_h, cfg.spec.image_w);
  Trainer graph(cuda(), cfg, true), eager(cuda(), cfg, false);
  for (Trainer* t : {&graph, &eager}) {
    t->set_data(data);
    t->init_weights();
  }
  std::vector<StepMetrics> mg, me;
  run(graph, 0, 25, &mg);  // crosses two epoch boundaries
  run(eager, 0, 25, &me);
  check_same_state(graph.state(), eager.state());
  REQUIRE(mg.size() == me.size());
  for (size_t i = 0; i < mg.size(); ++i) {
    INFO("iteration " << i + 1);
    CHECK(std::memcmp(&mg[i], &me[i], sizeof(StepMetrics)) == 0);
  }
}

TEST_CASE("cuda training: a GPU checkpoint resumes exactly on the GPU and closely on the CPU") {
  const TrainConfig cfg = small_config();
  const Dataset data = synthetic_data(32 * 25, cfg.spec.image_h, cfg.spec.image_w);
  Trainer tg(cuda(), cfg, true);
  tg.set_data(data);
  tg.init_weights();
  run(tg, 0, 30);  // mid-way through the second epoch
  const TrainState saved = tg.state();
  CHECK(saved.epoch == 1);
  CHECK(saved.counters.batch_cursor == 5);

  TempDir tmp;
  const std::string path = tmp.file("ck.safetensors");
  save_checkpoint(path, cfg, saved);
  const Checkpoint ck = load_checkpoint(path);
  REQUIRE(ck.has_optimizer);

  Trainer resumed(cuda(), ck.config, false), tc(cpu(), ck.config);
  for (Trainer* t : {&resumed, &tc}) {
    t->set_data(data);
    t->set_state(ck.state);
    check_same_state(t->state(), saved);
  }
  std::vector<StepMetrics> m_orig, m_res, m_cpu;
  run(tg, 30, 40, &m_orig);
  run(resumed, 30, 40, &m_res);
  run(tc, 30, 40, &m_cpu);
  check_same_state(resumed.state(), tg.state());
  for (size_t i = 0; i < m_orig.size(); ++i) {
    INFO("iteration " << 31 + i);
    CHECK(std::memcmp(&m_orig[i], &m_res[i], sizeof(StepMetrics)) == 0);
    CHECK(metrics_close(m_cpu[i], m_orig[i], 1e-3, 1e-2));
  }
}
