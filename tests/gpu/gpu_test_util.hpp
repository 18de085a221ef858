/*
 * gpu_test_util.hpp — helpers of the GPU tests: the CPU and CUDA backends (created once),
 * buffers mirrored on both, NaN poisoning, and comparisons that print the first mismatches.
 *
 *   Mirror<float> y(n);  y.poison();  ...run the op on cpu() with y.c(), on cuda() with y.g()
 *   expect_close("y", y.gpu(), y.cpu(), Tol{1e-4, 1e-4});
 * gpu_main.cpp calls release_backends() after the run, and prints the largest difference
 * from the CPU that each named comparison saw (max_diffs()), so a run shows its margins.
 * A comparison passes element i when |gpu - cpu| <= atol + rtol |cpu| (NaN never passes),
 * and prints up to five failing elements with their index, both values and the tolerance.
 */
#pragma once

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <iomanip>
#include <limits>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "engine/backend.hpp"
#include "engine/trainer.hpp"
#include "kernels/cpu/cpu_backend.hpp"
#include "kernels/cuda/cuda_backend.hpp"

namespace gan::gpu_test {

inline std::unique_ptr<Backend>& cpu_holder() {
  static std::unique_ptr<Backend> be;
  return be;
}
inline std::unique_ptr<Backend>& cuda_holder() {
  static std::unique_ptr<Backend> be;
  return be;
}
inline Backend& cpu() {
  if (!cpu_holder()) cpu_holder() = make_cpu_reference_backend();  // the oracle
  return *cpu_holder();
}
inline Backend& cuda() {
  if (!cuda_holder()) cuda_holder() = make_cuda_backend(CudaOptions{});
  return *cuda_holder();
}
// Destroys the shared backends while the CUDA runtime is still up (before main returns).
inline void release_backends() {
  cuda_holder().reset();
  cpu_holder().reset();
}

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

// n elements of T in one backend's memory, freed at scope exit.
template <typename T>
class Buf {
 public:
  Buf(Backend& be, size_t n)
      : be_(&be), n_(n), p_(static_cast<T*>(be.alloc(std::max<size_t>(n, 1) * sizeof(T)))) {}
  Buf(Backend& be, const std::vector<T>& v) : Buf(be, v.size()) { set(v); }
  ~Buf() { be_->free(p_); }
  Buf(const Buf&) = delete;
  Buf& operator=(const Buf&) = delete;

  T* get() const { return p_; }
  size_t size() const { return n_; }
  void set(const std::vector<T>& v) {
    REQUIRE(v.size() == n_);
    be_->upload(p_, v.data(), n_ * sizeof(T));
  }
  void fill(const T& value) { set(std::vector<T>(n_, value)); }
  std::vector<T> read() const {
    std::vector<T> v(n_);
    be_->download(v.data(), p_, n_ * sizeof(T));
    return v;
  }

 private:
  Backend* be_;
  size_t n_;
  T* p_;
};

// The same tensor on the CPU backend (c) and the CUDA backend (g).
template <typename T>
class Mirror {
 public:
  explicit Mirror(size_t n) : c_(gpu_test::cpu(), n), g_(gpu_test::cuda(), n) {}
  explicit Mirror(const std::vector<T>& v) : c_(gpu_test::cpu(), v), g_(gpu_test::cuda(), v) {}
  T* c() const { return c_.get(); }
  T* g() const { return g_.get(); }
  size_t size() const { return c_.size(); }
  void set(const std::vector<T>& v) {
    c_.set(v);
    g_.set(v);
  }
  void fill(const T& value) {
    c_.fill(value);
    g_.fill(value);
  }
  void poison() { fill(T(kNaN)); }
  std::vector<T> cpu() const { return c_.read(); }
  std::vector<T> gpu() const { return g_.read(); }

 private:
  Buf<T> c_, g_;
};

// Optional mirrors: null pointers where absent.
template <typename T>
T* c_or_null(const std::unique_ptr<Mirror<T>>& m) {
  return m ? m->c() : nullptr;
}
template <typename T>
T* g_or_null(const std::unique_ptr<Mirror<T>>& m) {
  return m ? m->g() : nullptr;
}

struct Tol {
  double atol, rtol;
};

// Per comparison name: the largest |gpu - cpu|, the largest |gpu - cpu| / tolerance (over
// 1 fails), the largest ulp distance, and how many elements were compared.
struct MaxDiff {
  double abs = 0, of_tol = 0;
  int64_t ulps = 0;
  size_t elements = 0;
};
inline std::map<std::string, MaxDiff>& max_diffs() {
  static std::map<std::string, MaxDiff> table;
  return table;
}

inline bool expect_close(const std::string& what, const std::vector<float>& got,
                         const std::vector<float>& ref, Tol tol) {
  if (got.size() != ref.size()) {
    FAIL_CHECK(what << ": size " << got.size() << " != " << ref.size());
    return false;
  }
  size_t bad = 0;
  std::ostringstream os;
  os << std::setprecision(9);
  MaxDiff& seen = max_diffs()[what];
  seen.elements += got.size();
  for (size_t i = 0; i < got.size(); ++i) {
    const double g = got[i], r = ref[i];
    const double lim = tol.atol + tol.rtol * std::abs(r);
    const double diff = std::isnan(g) != std::isnan(r) ? HUGE_VAL : std::abs(g - r);
    if (diff == diff) {  // both NaN compare as no difference here (and fail below)
      seen.abs = std::max(seen.abs, diff);
      seen.of_tol = std::max(seen.of_tol, lim > 0 ? diff / lim : diff);
    }
    if (!(std::abs(g - r) <= lim)) {
      if (bad < 5)
        os << "\n  [" << i << "] gpu " << g << " cpu " << r << " |diff| " << std::abs(g - r)
           << " > " << lim;
      ++bad;
    }
  }
  if (bad) {
    FAIL_CHECK(what << ": " << bad << " of " << got.size() << " elements differ (atol "
                    << tol.atol << ", rtol " << tol.rtol << ")" << os.str());
  }
  return bad == 0;
}

// Distance in units in the last place between two floats (NaN: huge).
inline int64_t ulp_distance(float a, float b) {
  if (std::isnan(a) || std::isnan(b)) return std::numeric_limits<int64_t>::max();
  auto ordered = [](float f) {
    int32_t i;
    std::memcpy(&i, &f, 4);
    return i < 0 ? int64_t(INT32_MIN) - i : int64_t(i);
  };
  return std::abs(ordered(a) - ordered(b));
}

inline bool expect_ulps(const std::string& what, const std::vector<float>& got,
                        const std::vector<float>& ref, int64_t max_ulps) {
  REQUIRE(got.size() == ref.size());
  size_t bad = 0;
  std::ostringstream os;
  os << std::setprecision(9);
  MaxDiff& seen = max_diffs()[what];
  seen.elements += got.size();
  for (size_t i = 0; i < got.size(); ++i)
    seen.ulps = std::max(seen.ulps, ulp_distance(got[i], ref[i]));
  for (size_t i = 0; i < got.size(); ++i)
    if (ulp_distance(got[i], ref[i]) > max_ulps) {
      if (bad < 5) os << "\n  [" << i << "] gpu " << got[i] << " cpu " << ref[i];
      ++bad;
    }
  if (bad)
    FAIL_CHECK(what << ": " << bad << " of " << got.size() << " elements more than " << max_ulps
                    << " ulp apart" << os.str());
  return bad == 0;
}

template <typename T>
bool expect_equal(const std::string& what, const std::vector<T>& got,
                  const std::vector<T>& ref) {
  REQUIRE(got.size() == ref.size());
  size_t bad = 0;
  std::ostringstream os;
  for (size_t i = 0; i < got.size(); ++i)
    if (std::memcmp(&got[i], &ref[i], sizeof(T)) != 0) {
      if (bad < 5) os << "\n  [" << i << "] gpu " << +got[i] << " cpu " << +ref[i];
      ++bad;
    }
  if (bad)
    FAIL_CHECK(what << ": " << bad << " of " << got.size() << " elements differ" << os.str());
  return bad == 0;
}

// Runs iterations [from, to) of a Trainer, beginning a new epoch at every epoch boundary;
// with `log`, the metrics of each iteration are appended to it.
inline void run(Trainer& t, int from, int to, std::vector<StepMetrics>* log = nullptr) {
  const int per = t.iterations_per_epoch();
  for (int i = from; i < to; ++i) {
    if (i % per == 0) t.begin_epoch(i / per);
    t.run_iteration();
    if (log) log->push_back(t.metrics());
  }
}

// Two training states equal bit for bit: parameters, Adam moments, BatchNorm statistics,
// G's weight average, the counters and the epoch.
inline void check_same_state(const TrainState& a, const TrainState& b) {
  for (int q = 0; q < 2; ++q) {
    INFO("network " << q);
    expect_equal("params", a.params[q], b.params[q]);
    expect_equal("adam m", a.adam_m[q], b.adam_m[q]);
    expect_equal("adam v", a.adam_v[q], b.adam_v[q]);
  }
  expect_equal("bn stats", a.bn_stats, b.bn_stats);
  expect_equal("ema", a.ema_params, b.ema_params);
  expect_equal("ema stats", a.ema_stats, b.ema_stats);
  CHECK(std::memcmp(&a.counters, &b.counters, sizeof(StepCounters)) == 0);
  CHECK(a.epoch == b.epoch);
}

// Every variant of `op` in the CUDA backend's registry, selecting each in turn (and the
// default again afterwards).
inline std::vector<std::string> cuda_variants(const std::string& op) {
  for (const OpVariants& v : cuda().kernel_variants())
    if (v.op == op) return v.variants;
  FAIL("the CUDA registry has no op " << op);
  return {};
}

template <typename F>
void for_each_variant(const std::string& op, F&& body) {
  const std::vector<std::string> variants = cuda_variants(op);
  for (const std::string& v : variants) {
    cuda().select_kernel(op, v);
    INFO(op << " variant " << v);
    body(v);
  }
  cuda().select_kernel(op, variants.front());
}

}  // namespace gan::gpu_test
