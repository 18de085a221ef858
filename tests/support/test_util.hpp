/*
 * test_util.hpp — helpers shared by the tests (CPU and GPU): datasets, layer descriptions, a
 * small deterministic random generator, an element-wise close comparison that reports how many elements differ and the
 * first mismatch, and a central finite-difference driver.
 */
#pragma once

#include <doctest/doctest.h>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <iomanip>
#include <sstream>
#include <string>
#include <vector>

#include "engine/io/idx.hpp"
#include "engine/model_spec.hpp"
#include "engine/train_config.hpp"
#include "engine/philox.h"

namespace gan::test {

// `count` images of rows x cols random bytes (Philox key `seed`), labels i % 10.
inline Dataset random_dataset(int count, int rows, int cols, uint64_t seed) {
  Dataset d;
  d.count = count;
  d.rows = rows;
  d.cols = cols;
  d.images.resize(static_cast<size_t>(count) * rows * cols);
  d.labels.resize(static_cast<size_t>(count));
  for (size_t i = 0; i < d.images.size(); ++i)
    d.images[i] = static_cast<uint8_t>(philox_u32(seed, 1, i) & 0xFF);
  for (int i = 0; i < count; ++i) d.labels[i] = static_cast<uint8_t>(i % 10);
  return d;
}

// The first `count` images and labels of a dataset.
inline Dataset first_images(const Dataset& d, int count) {
  Dataset s = d;
  s.count = count;
  s.images.resize(static_cast<size_t>(count) * d.dim());
  s.labels.resize(static_cast<size_t>(count));
  return s;
}

// The sizes of a small model on small images, as each test file picks them.
struct SmallModel {
  int z_dim;
  std::vector<int> g_widths, d_widths;
  int image_h, image_w, batch;
};

// A TrainConfig of that model, the plain iteration (TrainConfig::plain()) for the rest.
inline TrainConfig small_train_config(const SmallModel& m, uint64_t seed = 0, int d_steps = 1) {
  TrainConfig c = TrainConfig::plain();
  c.spec.z_dim = m.z_dim;
  c.spec.g_widths = m.g_widths;
  c.spec.d_widths = m.d_widths;
  c.spec.image_h = m.image_h;
  c.spec.image_w = m.image_w;
  c.batch_size = m.batch;
  c.seed = seed;
  c.d_steps = d_steps;
  return c;
}

// A dense layer's description; LeakyReLU layers get the model's slope 0.2.
inline DenseDesc make_desc(int in, int out, bool bn, Act act) {
  DenseDesc d;
  d.in = in;
  d.out = out;
  d.batchnorm = bn;
  d.act = act;
  d.slope = act == Act::LeakyReLU ? 0.2f : 0.0f;
  return d;
}

// splitmix64: fully specified, so the test data are the same on every platform.
class Rng {
 public:
  explicit Rng(uint64_t seed) : s_(seed) {}
  uint64_t next() {
    uint64_t z = (s_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  double uniform(double lo = 0.0, double hi = 1.0) {
    return lo + (hi - lo) * static_cast<double>(next() >> 11) * 0x1p-53;
  }

 private:
  uint64_t s_;
};

template <typename T>
std::vector<T> random_vector(Rng& rng, size_t n, double lo = -1.0, double hi = 1.0) {
  std::vector<T> v(n);
  for (T& e : v) e = static_cast<T>(rng.uniform(lo, hi));
  return v;
}

// Element i agrees when |got[i] - want[i]| <= atol + rtol |want[i]| (NaN never agrees).
// On any disagreement, fails the current test naming `what`, the count and the first one.
template <typename A, typename B>
bool check_close(const char* what, const A* got, const B* want, size_t n, double atol,
                 double rtol) {
  size_t bad = 0, first = 0;
  for (size_t i = 0; i < n; ++i) {
    const double g = static_cast<double>(got[i]), w = static_cast<double>(want[i]);
    if (!(std::abs(g - w) <= atol + rtol * std::abs(w))) {
      if (bad++ == 0) first = i;
    }
  }
  if (bad) {
    std::ostringstream os;
    os << std::setprecision(10) << what << ": " << bad << " of " << n
       << " elements differ; first [" << first << "]: got " << static_cast<double>(got[first])
       << ", want " << static_cast<double>(want[first]) << " (atol " << atol << ", rtol " << rtol
       << ")";
    FAIL_CHECK(os.str());
  }
  return bad == 0;
}

template <typename A, typename B>
bool check_close(const char* what, const std::vector<A>& got, const std::vector<B>& want,
                 double atol, double rtol) {
  if (got.size() != want.size()) {
    FAIL_CHECK(std::string(what) << ": size " << got.size() << " != " << want.size());
    return false;
  }
  return check_close(what, got.data(), want.data(), got.size(), atol, rtol);
}

// Central differences (f(v + h e_i) - f(v - h e_i)) / 2h for every element i of v; v is
// restored after each element.
template <typename F>
std::vector<double> finite_diff(std::vector<double>& v, F&& f, double h = 1e-6) {
  std::vector<double> grad(v.size());
  for (size_t i = 0; i < v.size(); ++i) {
    const double old = v[i];
    v[i] = old + h;
    const double fp = f();
    v[i] = old - h;
    const double fm = f();
    v[i] = old;
    grad[i] = (fp - fm) / (2.0 * h);
  }
  return grad;
}

}  // namespace gan::test
