/*
 * test_cuda_backend.cpp — the CUDA backend beyond single ops: the kernel registry, memory
 * and copies, asynchronous downloads, CUDA graph capture (a sequence of ops captured once
 * and replayed twice gives the same bits as issuing it twice), and every error path.
 */
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "engine/backend.hpp"
#include "engine/base/error.hpp"
#include "tests/gpu/gpu_test_util.hpp"
#include "tests/support/readback_clock_check.hpp"
#include "tests/support/test_util.hpp"

namespace {

using namespace gan;
using namespace gan::gpu_test;
using gan::test::Rng;

std::vector<float> uniform(Rng& rng, size_t n, double lo, double hi) {
  std::vector<float> v(n);
  for (float& e : v) e = static_cast<float>(rng.uniform(lo, hi));
  return v;
}

bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

}  // namespace

// ---- registry ------------------------------------------------------------------------

TEST_CASE("cuda registry: the same ops as the CPU backend, fused by default, unfused too") {
  std::set<std::string> cpu_ops, cuda_ops;
  // "gemm" is the CPU's own: the instruction set of its matrix products.
  for (const OpVariants& v : cpu().kernel_variants())
    if (v.op != "gemm") cpu_ops.insert(v.op);
  for (const OpVariants& v : cuda().kernel_variants()) {
    cuda_ops.insert(v.op);
    REQUIRE(!v.variants.empty());
    CHECK(v.selected == v.variants.front());
  }
  auto list = [](const std::set<std::string>& s) {
    std::string out;
    for (const std::string& op : s) out += op + " ";
    return out;
  };
  INFO("cpu: " << list(cpu_ops) << "| cuda: " << list(cuda_ops));
  CHECK(cpu_ops == cuda_ops);
  for (const char* op : {"dense_forward", "dense_backward", "d_head"}) {
    const std::vector<std::string> names = cuda_variants(op);
    REQUIRE(names.size() >= 2);
    CHECK(names[0] == "fused");
    CHECK(std::find(names.begin(), names.end(), "unfused") != names.end());
  }
}

TEST_CASE("cuda registry: selecting changes the selection; unknown names are input errors") {
  Backend& be = cuda();
  be.select_kernel("d_head", "unfused");
  bool seen = false;
  for (const OpVariants& v : be.kernel_variants())
    if (v.op == "d_head") {
      CHECK(v.selected == "unfused");
      seen = true;
    }
  CHECK(seen);
  be.select_kernel("d_head", "fused");

  try {
    be.select_kernel("dense_forward", "warp_magic");
    FAIL("an unknown variant was accepted");
  } catch (const InputError& e) {
    const std::string msg = e.what();
    CHECK(contains(msg, "warp_magic"));
    CHECK(contains(msg, "fused"));
    CHECK(contains(msg, "unfused"));
  }
  try {
    be.select_kernel("conv2d", "fused");
    FAIL("an unknown op was accepted");
  } catch (const InputError& e) {
    const std::string msg = e.what();
    CHECK(contains(msg, "conv2d"));
    CHECK(contains(msg, "dense_forward"));
    CHECK(contains(msg, "d_head"));
  }
  for (const OpVariants& v : be.kernel_variants()) CHECK(v.selected == v.variants.front());
}

// ---- device, memory, copies ------------------------------------------------------------

TEST_CASE("cuda backend: name and device description") {
  const std::string desc = cuda_device_description(0);
  CHECK(contains(desc, " (sm_"));
  CHECK(contains(desc, " GiB)"));
  CHECK(cuda().name() == "cuda:0 " + desc);
  CHECK(cuda().is_cuda());
  CHECK(cuda().supports_graphs());
  CHECK(cuda_device_count() >= 1);
}

TEST_CASE("cuda backend: alloc is zero-filled; upload, copy, download and async download") {
  Backend& be = cuda();
  const size_t n = 1000;
  Buf<float> a(be, n), b(be, n);
  CHECK(a.read() == std::vector<float>(n, 0.0f));
  std::vector<float> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = float(i) * 0.5f - 7.0f;
  a.set(v);
  be.copy(b.get(), a.get(), n * sizeof(float));
  CHECK(b.read() == v);

  float* host = static_cast<float*>(be.alloc_host(n * sizeof(float)));
  std::memset(host, 0, n * sizeof(float));
  be.download_async(host, b.get(), n * sizeof(float));
  be.wait_downloads();
  CHECK(be.downloads_done());
  CHECK(std::equal(v.begin(), v.end(), host));
  be.free_host(host);
}

TEST_CASE("cuda backend: the read-back clock times the download on the device, not the question") {
  // CUDA events: recorded when the stream reaches them, within a millisecond of the host
  gan::test::check_readback_clock(cuda(), 0.001);
}

TEST_CASE("cuda backend: event timing, memory budget, profiler switches") {
  Backend& be = cuda();
  Buf<float> a(be, size_t(1) << 22), b(be, size_t(1) << 22);
  const double ms = be.time_ms([&] {
    for (int i = 0; i < 10; ++i) be.copy(b.get(), a.get(), (size_t(1) << 22) * sizeof(float));
  });
  CHECK(ms > 0.0);
  CHECK(ms < 10000.0);
  const size_t budget = be.memory_budget();
  CHECK(budget > (size_t(1) << 20));
  CHECK(budget < SIZE_MAX);
  be.profiler_start();
  be.profiler_stop();
}

TEST_CASE("cuda backend: out of memory names the size asked; the backend stays usable") {
  auto be = make_cuda_backend(CudaOptions{});
  const size_t huge = size_t(1) << 50;  // 1 PiB
  try {
    be->alloc(huge);
    FAIL("a 1 PiB allocation succeeded");
  } catch (const Error& e) {
    const std::string msg = e.what();
    CHECK(contains(msg, "1125899906842624 bytes"));
    CHECK(contains(msg, "MiB free"));
  }
  Buf<float> ok(*be, 16);
  ok.set(std::vector<float>(16, 3.0f));
  CHECK(ok.read() == std::vector<float>(16, 3.0f));
}

TEST_CASE("cuda backend: a device that does not exist is an input error") {
  CudaOptions opt;
  opt.device = cuda_device_count();
  CHECK_THROWS_AS(make_cuda_backend(opt), InputError);
  opt.device = -1;
  CHECK_THROWS_AS(make_cuda_backend(opt), InputError);
}

TEST_CASE("cuda backend: TF32 mode runs and stays close to FP32") {
  CudaOptions opt;
  opt.tf32 = true;
  auto be = make_cuda_backend(opt);
  Rng rng(9);
  DenseDesc d;
  d.in = 784;
  d.out = 100;
  d.act = Act::None;
  const int rows = 64;
  const std::vector<float> xv = uniform(rng, size_t(rows) * d.in, -1, 1);
  const std::vector<float> wv = uniform(rng, size_t(d.out) * d.in, -0.036, 0.036);
  const std::vector<float> bv(d.out, 0.0f);
  Buf<float> x(*be, xv), W(*be, wv), b(*be, bv), y(*be, size_t(rows) * d.out);
  be->dense_forward(d, Mode::Train, rows, x.get(), DenseParams{W.get(), b.get()}, BnStats{},
                    DenseSaved{}, y.get());
  std::vector<float> ref(size_t(rows) * d.out, 0.0f);
  Buf<float> xc(cpu(), xv), Wc(cpu(), wv), bc(cpu(), bv), yc(cpu(), ref.size());
  cpu().dense_forward(d, Mode::Train, rows, xc.get(), DenseParams{Wc.get(), bc.get()}, BnStats{},
                      DenseSaved{}, yc.get());
  // TF32 keeps 10 mantissa bits: products lose ~1e-3 relative; sums of 784 terms ~0.3.
  expect_close("y (tf32)", y.read(), yc.read(), Tol{1e-2, 1e-2});
}

// ---- graphs ----------------------------------------------------------------------------

namespace {

// A miniature generator step: noise -> Linear+BN+ReLU -> Linear+Sigmoid -> D head (fixed
// D, G loss) -> backward through both layers -> finite check -> Adam -> end of iteration.
// Everything that changes between iterations is read from device memory.
struct MiniStep {
  static constexpr int kB = 33, kZ = 17, kH = 40, kImg = 50;
  DenseDesc l1, l2, head;
  size_t off_W1, off_b1, off_g1, off_be1, off_W2, off_b2, n_params;
  std::unique_ptr<Buf<float>> params, grads, m, v, stats, z, h1, y2, zsave, mean, rstd, dx_head,
      dh1, head_w, head_b;
  std::unique_ptr<Buf<StepCounters>> counters;
  std::unique_ptr<Buf<StepMetrics>> metrics;

  explicit MiniStep(Backend& be) {
    l1.in = kZ;
    l1.out = kH;
    l1.batchnorm = true;
    l1.act = Act::ReLU;
    l2.in = kH;
    l2.out = kImg;
    l2.act = Act::Sigmoid;
    head.in = kImg;
    head.out = 1;
    size_t o = 0;
    off_W1 = o, o += size_t(kH) * kZ;
    off_b1 = o, o += kH;
    off_g1 = o, o += kH;
    off_be1 = o, o += kH;
    off_W2 = o, o += size_t(kImg) * kH;
    off_b2 = o, o += kImg;
    n_params = o;
    Rng rng(77);
    std::vector<float> p = uniform(rng, n_params, -0.3, 0.3);
    for (int j = 0; j < kH; ++j) p[off_g1 + j] = 1.0f, p[off_be1 + j] = 0.0f;
    std::vector<float> st(2 * size_t(kH), 0.0f);
    for (int j = 0; j < kH; ++j) st[kH + j] = 1.0f;
    params = std::make_unique<Buf<float>>(be, p);
    grads = std::make_unique<Buf<float>>(be, n_params);
    m = std::make_unique<Buf<float>>(be, n_params);
    v = std::make_unique<Buf<float>>(be, n_params);
    stats = std::make_unique<Buf<float>>(be, st);
    z = std::make_unique<Buf<float>>(be, size_t(kB) * kZ);
    h1 = std::make_unique<Buf<float>>(be, size_t(kB) * kH);
    y2 = std::make_unique<Buf<float>>(be, size_t(kB) * kImg);
    zsave = std::make_unique<Buf<float>>(be, size_t(kB) * kH);
    mean = std::make_unique<Buf<float>>(be, kH);
    rstd = std::make_unique<Buf<float>>(be, kH);
    dx_head = std::make_unique<Buf<float>>(be, size_t(kB) * kImg);
    dh1 = std::make_unique<Buf<float>>(be, size_t(kB) * kH);
    head_w = std::make_unique<Buf<float>>(be, uniform(rng, kImg, -1, 1));
    head_b = std::make_unique<Buf<float>>(be, std::vector<float>{0.1f});
    counters = std::make_unique<Buf<StepCounters>>(be, std::vector<StepCounters>{StepCounters{}});
    metrics = std::make_unique<Buf<StepMetrics>>(be, std::vector<StepMetrics>{StepMetrics{}});
  }

  void issue(Backend& be) {
    float* P = params->get();
    float* G = grads->get();
    StepCounters* c = counters->get();
    const DenseParams p1{P + off_W1, P + off_b1, P + off_g1, P + off_be1};
    const DenseParams p2{P + off_W2, P + off_b2};
    const DenseSaved s1{zsave->get(), mean->get(), rstd->get()};
    be.noise(z->get(), size_t(kB) * kZ, 5, Stream::Noise, &c->iteration, 2, 1);
    be.dense_forward(l1, Mode::Train, kB, z->get(), p1, BnStats{stats->get(), stats->get() + kH},
                     s1, h1->get());
    be.dense_forward(l2, Mode::Train, kB, h1->get(), p2, BnStats{}, DenseSaved{}, y2->get());
    be.d_head(head, HeadMode::GNonSaturating, 0, kB, y2->get(),
              DenseParams{head_w->get(), head_b->get()}, DenseGrads{}, dx_head->get(),
              metrics->get());
    be.dense_backward(l2, kB, h1->get(), p2, DenseSaved{}, y2->get(), dx_head->get(),
                      DenseGrads{G + off_W2, G + off_b2}, dh1->get());
    be.dense_backward(l1, kB, z->get(), p1, s1, h1->get(), dh1->get(),
                      DenseGrads{G + off_W1, G + off_b1, G + off_g1, G + off_be1}, nullptr);
    be.check_finite(G, n_params, &metrics->get()->g_loss, Net::G, c);
    AdamConfig cfg;
    cfg.lr = 1e-2f;
    be.adam(P, G, m->get(), v->get(), n_params, cfg, Net::G, c);
    be.end_iteration(c, 1);
  }

  // Everything the step writes, as bytes.
  std::vector<uint8_t> snapshot() const {
    std::vector<uint8_t> out;
    auto add = [&](const void* p, size_t bytes) {
      const auto* b = static_cast<const uint8_t*>(p);
      out.insert(out.end(), b, b + bytes);
    };
    for (const auto* buf : {params.get(), grads.get(), m.get(), v.get(), stats.get(), y2.get(),
                            dh1.get()}) {
      const std::vector<float> f = buf->read();
      add(f.data(), f.size() * sizeof(float));
    }
    const StepCounters c = counters->read()[0];
    const StepMetrics mm = metrics->read()[0];
    add(&c, sizeof c);
    add(&mm, sizeof mm);
    return out;
  }
};

}  // namespace

TEST_CASE("cuda graphs: one captured step replayed twice equals two eager steps, bit for bit") {
  long long kernels[2] = {0, 0};
  for (int k = 0; k < 2; ++k) {
    const char* variant = k == 0 ? "fused" : "unfused";
    INFO("variant " << variant);
    auto be = make_cuda_backend(CudaOptions{});
    CHECK(be->graph_kernel_count() == -1);
    for (const char* op : {"dense_forward", "dense_backward", "d_head"})
      be->select_kernel(op, variant);

    MiniStep eager(*be);
    eager.issue(*be);
    eager.issue(*be);
    be->synchronize();
    const std::vector<uint8_t> want = eager.snapshot();

    MiniStep graph(*be);
    const std::vector<uint8_t> before = graph.snapshot();
    be->begin_capture();
    graph.issue(*be);
    const std::unique_ptr<CapturedGraph> g = be->end_capture();
    REQUIRE(g);
    kernels[k] = g->kernel_count();
    CHECK(kernels[k] > 0);
    CHECK(be->graph_kernel_count() == kernels[k]);
    CHECK(graph.snapshot() == before);  // capturing runs nothing
    g->replay();
    g->replay();
    be->synchronize();
    const std::vector<uint8_t> got = graph.snapshot();
    REQUIRE(got.size() == want.size());
    CHECK(got == want);
    const StepCounters c = graph.counters->read()[0];
    CHECK(c.iteration == 2);
    CHECK(c.adam_step[0] == 2);
    CHECK(c.skipped[0] == 0);

    // A third replay moves on: fresh noise from the device-side counter.
    const std::vector<float> y_before = graph.y2->read();
    g->replay();
    be->synchronize();
    CHECK(graph.y2->read() != y_before);
  }
  // The step's own kernels: fused 1 + 1 + 1 + 1 + 1 (two forwards, head, two backwards);
  // unfused 6 + 2 + 4 + 2 + 4. The rest (cuBLAS, noise, finite check, Adam) is common.
  CHECK(kernels[1] - kernels[0] == 13);
}

TEST_CASE("cuda graphs: misuse and growth during capture are reported") {
  auto be = make_cuda_backend(CudaOptions{});
  CHECK_THROWS_AS((void)be->end_capture(), Error);
  be->abort_capture();  // outside a capture: nothing to do, no error
  Buf<float> src(*be, std::vector<float>{1, 2, 3, 4}), dst(*be, 4);
  be->begin_capture();
  CHECK_THROWS_AS(be->begin_capture(), Error);
  be->copy(dst.get(), src.get(), 4 * sizeof(float));  // the graph is not empty
  const std::unique_ptr<CapturedGraph> g = be->end_capture();
  CHECK(dst.read() == std::vector<float>(4, 0.0f));
  g->replay();
  CHECK(dst.read() == std::vector<float>({1, 2, 3, 4}));

  // The unfused D head needs 32 bytes of scratch per row: 300000 rows outgrow the
  // scratch held, and growing is impossible while capturing.
  const int rows = 300000;
  Buf<float> x(*be, size_t(rows)), w(*be, std::vector<float>{1.0f}), b(*be, 1), dx(*be, rows);
  Buf<StepMetrics> m(*be, 1);
  DenseDesc head;
  head.in = 1;
  head.out = 1;
  be->select_kernel("d_head", "unfused");
  be->begin_capture();
  be->copy(dst.get(), src.get(), 4 * sizeof(float));
  try {
    be->d_head(head, HeadMode::GMinimax, 0, rows, x.get(), DenseParams{w.get(), b.get()},
               DenseGrads{}, dx.get(), m.get());
    FAIL("scratch grew during a capture");
  } catch (const Error& e) {
    CHECK(contains(e.what(), "captured"));
  }
  be->abort_capture();  // the error path: ends the capture, keeps nothing, throws nothing
  dst.fill(0.0f);
  be->copy(dst.get(), src.get(), 4 * sizeof(float));  // the stream works eagerly again
  CHECK(dst.read() == std::vector<float>({1, 2, 3, 4}));
  // Outside a capture the same call grows the scratch and works.
  be->d_head(head, HeadMode::GMinimax, 0, rows, x.get(), DenseParams{w.get(), b.get()},
             DenseGrads{}, dx.get(), m.get());
  be->synchronize();
  const StepMetrics got = m.read()[0];
  CHECK(got.g_loss == doctest::Approx(-std::log(2.0)).epsilon(1e-6));  // x = 0, b = 0
  CHECK(got.g_fake == doctest::Approx(0.5).epsilon(1e-6));
}
