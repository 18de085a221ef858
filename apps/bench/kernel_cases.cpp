/*
 * kernel_cases.cpp — the cases of each op of kernel-bench at the model's shapes, with their
 * inputs, FLOPs, compulsory bytes and tolerances (kernel_cases.hpp).
 */
#include "apps/bench/kernel_cases.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>
#include <sstream>

#include "engine/model_spec.hpp"

namespace gan::kbench {

namespace {

class Random {
 public:
  explicit Random(uint64_t seed) : gen_(seed) {}
  std::vector<float> uniform(size_t n, float lo, float hi) {
    std::uniform_real_distribution<float> d(lo, hi);
    std::vector<float> v(n);
    for (float& e : v) e = d(gen_);
    return v;
  }
  std::vector<uint8_t> bytes(size_t n) {
    std::uniform_int_distribution<int> d(0, 255);
    std::vector<uint8_t> v(n);
    for (uint8_t& e : v) e = static_cast<uint8_t>(d(gen_));
    return v;
  }
  std::vector<int32_t> permutation(int n) {
    std::vector<int32_t> v(n);
    for (int i = 0; i < n; ++i) v[i] = i;
    std::shuffle(v.begin(), v.end(), gen_);
    return v;
  }

 private:
  std::mt19937_64 gen_;
};

std::vector<int64_t> counters_words(const StepCounters& c) {
  std::vector<int64_t> w(sizeof(StepCounters) / sizeof(int64_t));
  std::memcpy(w.data(), &c, sizeof(StepCounters));
  return w;
}

std::string layer_shape(const char* net, size_t l, const DenseDesc& d, int rows) {
  std::ostringstream os;
  os << net << "." << l << " " << d.in << "->" << d.out << (d.batchnorm ? " bn" : "") << " "
     << act_name(d.act) << " rows " << rows;
  return os.str();
}

}  // namespace

struct CaseBuilder {
  Backend& ref;
  const TrainConfig& cfg;
  const KernelBenchSettings& s;
  Random rng{0x6B62656E6368ull};
  // Adam: the moments are small (v ~ 1e-5), so their tolerance is relative.
  Tol dense_tol, head_tol{1e-4, 1e-4}, adam_p_tol{1e-7, 1e-5}, adam_mv_tol{1e-12, 1e-5},
      noise_tol{1e-6, 1e-6};

  CaseBuilder(Backend& r, const TrainConfig& c, const KernelBenchSettings& st)
      : ref(r), cfg(c), s(st) {
    dense_tol = s.tf32 ? Tol{5e-2, 5e-2} : Tol{2e-3, 2e-3};  // TF32: 10-bit mantissas
  }

  // Host inputs of a layer: x, W, b (and gamma, beta, running stats for BatchNorm).
  struct LayerInputs {
    std::vector<float> x, W, b, gamma, beta, rmean, rvar;
  };
  LayerInputs layer_inputs(const DenseDesc& d, int rows) {
    const float bound = 1.0f / std::sqrt(static_cast<float>(d.in));
    LayerInputs in;
    in.x = rng.uniform(size_t(rows) * d.in, -1.0f, 1.0f);
    in.W = rng.uniform(size_t(d.out) * d.in, -bound, bound);
    in.b = rng.uniform(d.out, -bound, bound);
    if (d.batchnorm) {
      in.gamma = rng.uniform(d.out, 0.5f, 1.5f);
      in.beta = rng.uniform(d.out, -0.1f, 0.1f);
      in.rmean = rng.uniform(d.out, -0.1f, 0.1f);
      in.rvar = rng.uniform(d.out, 0.5f, 1.5f);
    }
    return in;
  }

  Case forward(const char* net, size_t l, const DenseDesc& d, int rows) {
    Case c;
    c.op = "dense_forward";
    c.shape = layer_shape(net, l, d, rows);
    c.flops = 2.0 * rows * d.in * d.out;
    c.bytes = 4.0 * (double(rows) * d.in + double(d.in) * d.out + d.out + double(rows) * d.out);
    const LayerInputs in = layer_inputs(d, rows);
    const size_t n = size_t(rows) * d.out;
    const size_t x = c.add("x", Elem::F32, in.x), W = c.add("W", Elem::F32, in.W),
                 b = c.add("b", Elem::F32, in.b);
    const size_t y = c.add("y", Elem::F32, std::vector<float>(n), true, dense_tol);
    if (!d.batchnorm) {
      c.issue = [=](Backend& be, const std::vector<void*>& p) {
        be.dense_forward(d, Mode::Train, rows, static_cast<float*>(p[x]),
                         DenseParams{static_cast<float*>(p[W]), static_cast<float*>(p[b])},
                         BnStats{}, DenseSaved{}, static_cast<float*>(p[y]));
      };
      return c;
    }
    c.bytes += 4.0 * (n + 6.0 * d.out);  // saved z; gamma, beta, stats, mean, rstd
    const size_t ga = c.add("gamma", Elem::F32, in.gamma), bt = c.add("beta", Elem::F32, in.beta);
    const size_t rm = c.add("running_mean", Elem::F32, in.rmean, true, dense_tol);
    const size_t rv = c.add("running_var", Elem::F32, in.rvar, true, dense_tol);
    const size_t z = c.add("saved z", Elem::F32, std::vector<float>(n), true, dense_tol);
    const size_t mean = c.add("saved mean", Elem::F32, std::vector<float>(d.out), true, dense_tol);
    const size_t rstd = c.add("saved rstd", Elem::F32, std::vector<float>(d.out), true, dense_tol);
    c.issue = [=](Backend& bk, const std::vector<void*>& p) {
      auto f = [&](size_t i) { return static_cast<float*>(p[i]); };
      bk.dense_forward(d, Mode::Train, rows, f(x), DenseParams{f(W), f(b), f(ga), f(bt)},
                       BnStats{f(rm), f(rv)}, DenseSaved{f(z), f(mean), f(rstd)}, f(y));
    };
    return c;
  }

  // weights: parameter gradients too; want_dx: the input gradient too.
  Case backward(const char* net, size_t l, const DenseDesc& d, int rows, bool weights,
                bool want_dx) {
    // A consistent forward (y and the saved BatchNorm state) from the reference.
    Case fwd = forward(net, l, d, rows);
    {
      CaseBuffers buf(ref, fwd);
      fwd.issue(ref, buf.ptr);
      for (size_t i = 0; i < fwd.arrays.size(); ++i)
        if (fwd.arrays[i].output) fwd.arrays[i].host = buf.download(fwd, i);
    }
    auto host = [&](const char* name) {
      for (const Array& a : fwd.arrays)
        if (a.name == name) {
          std::vector<float> v(a.host.size() / sizeof(float));
          std::memcpy(v.data(), a.host.data(), a.host.size());
          return v;
        }
      return std::vector<float>();
    };
    Case c;
    c.op = "dense_backward";
    c.shape = layer_shape(net, l, d, rows) + (weights ? "" : " dx only") +
              (want_dx ? "" : " no dx");
    const double products = (weights ? 1 : 0) + (want_dx ? 1 : 0);
    c.flops = 2.0 * rows * d.in * d.out * products;
    const size_t n = size_t(rows) * d.out;
    c.bytes = 4.0 * (2.0 * n + double(d.in) * d.out + double(rows) * d.in);  // dy, y, W, x
    const size_t x = c.add("x", Elem::F32, host("x")), W = c.add("W", Elem::F32, host("W")),
                 b = c.add("b", Elem::F32, host("b")), y = c.add("y", Elem::F32, host("y"));
    const size_t dy = c.add("dy (consumed)", Elem::F32, rng.uniform(n, -1.0f, 1.0f), true,
                            dense_tol);
    size_t ga = 0, bt = 0, z = 0, mean = 0, rstd = 0;
    if (d.batchnorm) {
      ga = c.add("gamma", Elem::F32, host("gamma"));
      bt = c.add("beta", Elem::F32, host("beta"));
      z = c.add("saved z", Elem::F32, host("saved z"));
      mean = c.add("saved mean", Elem::F32, host("saved mean"));
      rstd = c.add("saved rstd", Elem::F32, host("saved rstd"));
      c.bytes += 4.0 * (n + 4.0 * d.out);
    }
    const Tol gtol{dense_tol.atol * 2, dense_tol.rtol * 2};
    size_t dW = 0, db = 0, dga = 0, dbt = 0, dx = 0;
    if (weights) {
      dW = c.add("dW", Elem::F32, std::vector<float>(size_t(d.out) * d.in), true, gtol);
      db = c.add("db", Elem::F32, std::vector<float>(d.out), true, gtol);
      c.bytes += 4.0 * (double(d.out) * d.in + d.out);
      if (d.batchnorm) {
        dga = c.add("dgamma", Elem::F32, std::vector<float>(d.out), true, gtol);
        dbt = c.add("dbeta", Elem::F32, std::vector<float>(d.out), true, gtol);
        c.bytes += 8.0 * d.out;
      }
    }
    if (want_dx) {
      dx = c.add("dx", Elem::F32, std::vector<float>(size_t(rows) * d.in), true, gtol);
      c.bytes += 4.0 * rows * d.in;
    }
    const bool bn = d.batchnorm;
    c.issue = [=](Backend& bk, const std::vector<void*>& p) {
      auto f = [&](size_t i) { return static_cast<float*>(p[i]); };
      DenseParams prm{f(W), f(b), bn ? f(ga) : nullptr, bn ? f(bt) : nullptr};
      DenseSaved sv = bn ? DenseSaved{f(z), f(mean), f(rstd)} : DenseSaved{};
      DenseGrads g = weights ? DenseGrads{f(dW), f(db), bn ? f(dga) : nullptr,
                                          bn ? f(dbt) : nullptr}
                             : DenseGrads{};
      bk.dense_backward(d, rows, f(x), prm, sv, f(y), f(dy), g, want_dx ? f(dx) : nullptr);
    };
    return c;
  }

  Case head(const DenseDesc& d, HeadMode mode, int n_real, int n_fake) {
    Case c;
    c.op = "d_head";
    const int rows = n_real + n_fake;
    const bool weights = mode == HeadMode::DStep;
    c.shape = std::string(mode == HeadMode::DStep ? "D step" : "G step") + " " +
              std::to_string(d.in) + "->1 rows " + std::to_string(rows);
    c.flops = 2.0 * rows * d.in * (weights ? 3 : 2);
    c.bytes = 4.0 * (2.0 * rows * d.in + (weights ? 2.0 : 1.0) * d.in);
    const float bound = 1.0f / std::sqrt(static_cast<float>(d.in));
    const size_t x = c.add("x", Elem::F32, rng.uniform(size_t(rows) * d.in, -1.0f, 1.0f));
    const size_t W = c.add("W", Elem::F32, rng.uniform(d.in, -bound, bound));
    const size_t b = c.add("b", Elem::F32, rng.uniform(1, -bound, bound));
    const size_t dx = c.add("dx", Elem::F32, std::vector<float>(size_t(rows) * d.in), true,
                            head_tol);
    const size_t m = c.add("metrics", Elem::F32, std::vector<float>(sizeof(StepMetrics) / 4),
                           true, head_tol);
    size_t dW = 0, db = 0;
    if (weights) {
      dW = c.add("dW", Elem::F32, std::vector<float>(d.in), true, head_tol);
      db = c.add("db", Elem::F32, std::vector<float>(1), true, head_tol);
    }
    c.issue = [=](Backend& bk, const std::vector<void*>& p) {
      auto f = [&](size_t i) { return static_cast<float*>(p[i]); };
      bk.d_head(d, mode, n_real, n_fake, f(x), DenseParams{f(W), f(b)},
                weights ? DenseGrads{f(dW), f(db)} : DenseGrads{}, f(dx),
                static_cast<StepMetrics*>(p[m]));
    };
    return c;
  }

  Case adam(Net net, size_t n) {
    Case c;
    c.op = "adam";
    c.shape = std::string(net == Net::G ? "G" : "D") + " " + std::to_string(n) + " params";
    c.bytes = 28.0 * n;
    c.flops = 12.0 * n;
    const size_t p = c.add("params", Elem::F32, rng.uniform(n, -0.1f, 0.1f), true, adam_p_tol);
    const size_t g = c.add("grads", Elem::F32, rng.uniform(n, -1e-2f, 1e-2f));
    const size_t m = c.add("m", Elem::F32, rng.uniform(n, -1e-3f, 1e-3f), true, adam_mv_tol);
    const size_t v = c.add("v", Elem::F32, rng.uniform(n, 1e-6f, 1e-4f), true, adam_mv_tol);
    StepCounters sc;
    sc.adam_step[0] = sc.adam_step[1] = 10;
    const size_t k = c.add("counters", Elem::I64, counters_words(sc), true);
    const AdamConfig a = cfg.adam_g;
    c.issue = [=](Backend& bk, const std::vector<void*>& ptr) {
      auto f = [&](size_t i) { return static_cast<float*>(ptr[i]); };
      bk.adam(f(p), f(g), f(m), f(v), n, a, net, static_cast<StepCounters*>(ptr[k]));
    };
    return c;
  }

  Case check_finite(Net net, size_t n) {
    Case c;
    c.op = "check_finite";
    c.shape = std::string(net == Net::G ? "G" : "D") + " " + std::to_string(n) + " grads";
    c.bytes = 4.0 * n;
    c.flops = double(n);
    const size_t g = c.add("grads", Elem::F32, rng.uniform(n, -1.0f, 1.0f));
    const size_t loss = c.add("loss", Elem::F32, std::vector<float>{0.7f});
    const size_t k = c.add("counters", Elem::I64, counters_words(StepCounters{}), true);
    c.issue = [=](Backend& bk, const std::vector<void*>& p) {
      bk.check_finite(static_cast<float*>(p[g]), n, static_cast<float*>(p[loss]), net,
                      static_cast<StepCounters*>(p[k]));
    };
    return c;
  }

  Case shuffle(int n) {
    Case c;
    c.op = "shuffle";
    c.shape = std::to_string(n) + " indices";
    c.bytes = 4.0 * n;
    const size_t perm = c.add("perm", Elem::I32, std::vector<int32_t>(n), true);
    StepCounters sc;
    sc.batch_cursor = 5;
    const size_t k = c.add("counters", Elem::I64, counters_words(sc), true);
    const uint64_t seed = cfg.seed;
    c.issue = [=](Backend& bk, const std::vector<void*>& p) {
      bk.shuffle(static_cast<int32_t*>(p[perm]), n, seed, 3, static_cast<StepCounters*>(p[k]));
    };
    return c;
  }

  Case gather(int n, int rows) {
    Case c;
    c.op = "gather";
    const int dim = cfg.spec.image_dim();
    c.shape = std::to_string(rows) + " rows of " + std::to_string(dim) + " from " +
              std::to_string(n);
    c.bytes = double(rows) * dim * 5.0 + 4.0 * rows;
    const size_t img = c.add("images", Elem::U8, rng.bytes(size_t(n) * dim));
    const size_t perm = c.add("perm", Elem::I32, rng.permutation(n));
    StepCounters sc;
    sc.batch_cursor = std::max(0, n / rows - 2);
    const size_t k = c.add("counters", Elem::I64, counters_words(sc));
    const size_t out = c.add("batch", Elem::F32, std::vector<float>(size_t(rows) * dim), true,
                             Tol{0, 0});
    c.issue = [=](Backend& bk, const std::vector<void*>& p) {
      bk.gather_batch(static_cast<float*>(p[out]), static_cast<uint8_t*>(p[img]), dim,
                      static_cast<int32_t*>(p[perm]), static_cast<StepCounters*>(p[k]), 1, rows);
    };
    return c;
  }

  Case noise(size_t n) {
    Case c;
    c.op = "noise";
    c.shape = std::to_string(n) + " normals";
    c.bytes = 4.0 * n;
    StepCounters sc;
    sc.iteration = 17;
    const size_t k = c.add("counters", Elem::I64, counters_words(sc));
    const size_t out = c.add("z", Elem::F32, std::vector<float>(n), true, noise_tol);
    const uint64_t seed = cfg.seed;
    c.issue = [=](Backend& bk, const std::vector<void*>& p) {
      bk.noise(static_cast<float*>(p[out]), n, seed, Stream::Noise,
               &static_cast<StepCounters*>(p[k])->iteration, 2, 1);
    };
    return c;
  }
};

namespace {

std::vector<Case> cases_of(const std::string& op, CaseBuilder& cb) {
  const TrainConfig& cfg = cb.cfg;
  const int B = cfg.batch_size;
  const NetLayout g = layout_generator(cfg.spec), d = layout_discriminator(cfg.spec);
  const size_t nd = d.layers.size();
  std::vector<Case> v;
  if (op == "dense_forward") {
    for (size_t l = 0; l < g.layers.size(); ++l) v.push_back(cb.forward("G", l, g.layers[l], B));
    for (int rows : {2 * B, B})
      for (size_t l = 0; l + 1 < nd; ++l) v.push_back(cb.forward("D", l, d.layers[l], rows));
  } else if (op == "dense_backward") {
    for (size_t l = 0; l < g.layers.size(); ++l)
      v.push_back(cb.backward("G", l, g.layers[l], B, true, l > 0));
    for (size_t l = 0; l + 1 < nd; ++l)
      v.push_back(cb.backward("D", l, d.layers[l], 2 * B, true, l > 0));
    for (size_t l = 0; l + 1 < nd; ++l)
      v.push_back(cb.backward("D", l, d.layers[l], B, false, true));
  } else if (op == "d_head") {
    v.push_back(cb.head(d.layers[nd - 1], HeadMode::DStep, B, B));
    v.push_back(cb.head(d.layers[nd - 1], cfg.g_loss == GLoss::NonSaturating
                                              ? HeadMode::GNonSaturating
                                              : HeadMode::GMinimax,
                        0, B));
  } else if (op == "adam") {
    v.push_back(cb.adam(Net::G, g.param_count));
    v.push_back(cb.adam(Net::D, d.param_count));
  } else if (op == "check_finite") {
    v.push_back(cb.check_finite(Net::G, g.param_count));
    v.push_back(cb.check_finite(Net::D, d.param_count));
  } else if (op == "shuffle") {
    v.push_back(cb.shuffle(cb.s.images));
  } else if (op == "gather") {
    v.push_back(cb.gather(std::max(cb.s.images, 2 * B), B));
  } else if (op == "noise") {
    v.push_back(cb.noise(size_t(B) * cfg.spec.z_dim));
  }
  return v;
}

}  // namespace

KernelCases::KernelCases(Backend& ref, const TrainConfig& cfg, const KernelBenchSettings& s)
    : builder_(std::make_unique<CaseBuilder>(ref, cfg, s)) {}

KernelCases::~KernelCases() = default;

std::vector<Case> KernelCases::of(const std::string& op) { return cases_of(op, *builder_); }

}  // namespace gan::kbench
