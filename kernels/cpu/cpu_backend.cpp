/*
 * cpu_backend.cpp — Backend implemented by the reference ops in kernels/cpu/.
 */
#include "kernels/cpu/cpu_backend.hpp"

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <new>

#include "engine/error.hpp"
#include "kernels/cpu/adam_cpu.hpp"
#include "kernels/cpu/d_head_bce_cpu.hpp"
#include "kernels/cpu/data_pipeline_cpu.hpp"
#include "kernels/cpu/linear_bn_act_cpu.hpp"

namespace gan {
namespace {

const char* const kOps[] = {"dense_forward", "dense_backward", "d_head", "adam",
                            "check_finite",  "shuffle",        "gather", "noise"};

class CpuBackend final : public Backend {
 public:
  std::string name() const override { return "cpu"; }
  bool is_cuda() const override { return false; }

  void* alloc(size_t bytes) override {
    const size_t rounded = (bytes + 63) / 64 * 64;
    void* p = rounded ? std::aligned_alloc(64, rounded) : nullptr;
    if (rounded && !p) GAN_FAIL("out of host memory allocating " << bytes << " bytes");
    if (p) std::memset(p, 0, rounded);
    return p;
  }
  void free(void* p) noexcept override { std::free(p); }
  void* alloc_host(size_t bytes) override { return alloc(bytes); }
  void free_host(void* p) noexcept override { std::free(p); }
  void upload(void* dst, const void* src, size_t bytes) override { copy(dst, src, bytes); }
  void download(void* dst, const void* src, size_t bytes) override { copy(dst, src, bytes); }
  void download_async(void* dst, const void* src, size_t bytes) override { copy(dst, src, bytes); }
  bool downloads_done() override { return true; }
  void wait_downloads() override {}
  void copy(void* dst, const void* src, size_t bytes) override {
    if (bytes) std::memmove(dst, src, bytes);
  }
  void synchronize() override {}

  void shuffle(int32_t* perm, int n, uint64_t seed, uint64_t epoch, StepCounters* c) override {
    cpu::shuffle(perm, n, seed, epoch);
    c->batch_cursor = 0;
  }
  void gather_batch(float* out, const uint8_t* images, int dim, const int32_t* perm,
                    const StepCounters* c, int slot, int rows) override {
    cpu::gather_batch(out, images, dim, perm, c->batch_cursor + slot, rows);
  }
  void noise(float* out, size_t n, uint64_t seed, Stream purpose, const int64_t* counter,
             int64_t k_mul, int64_t k_add) override {
    const int64_t k = (counter ? *counter : 0) * k_mul + k_add;
    cpu::noise(out, n, seed, stream_id(purpose, static_cast<uint64_t>(k)));
  }

  void dense_forward(const DenseDesc& d, Mode mode, int rows, const float* x, DenseParams p,
                     BnStats rs, DenseSaved s, float* y) override {
    cpu::dense_forward<float>(d, mode, rows, x, ref(p, rs, s), y);
  }
  void dense_backward(const DenseDesc& d, int rows, const float* x, DenseParams p, DenseSaved s,
                      const float* y, float* dy, DenseGrads g, float* dx) override {
    cpu::dense_backward<float>(d, rows, x, ref(p, BnStats{}, s), y, dy,
                               cpu::DenseGradRef<float>{g.dW, g.db, g.dgamma, g.dbeta}, dx);
  }
  void d_head(const DenseDesc& d, HeadMode mode, int n_real, int n_fake, const float* x,
              DenseParams p, DenseGrads g, float* dx, StepMetrics* m) override {
    GAN_CHECK(d.out == 1, "the D head has one output");
    const auto r = cpu::d_head<float>(d.in, mode, n_real, n_fake, x, p.W, p.b, g.dW, g.db, dx);
    if (mode == HeadMode::DStep) {
      m->d_loss = r.d_loss;
      m->d_real = r.d_real;
      m->d_fake = r.d_fake;
      m->value = r.value;
    } else {
      m->g_loss = r.g_loss;
      m->g_fake = r.g_fake;
    }
  }

  void check_finite(const float* grads, size_t n, const float* loss, Net net,
                    StepCounters* c) override {
    bool bad = !std::isfinite(*loss);
    for (size_t i = 0; i < n && !bad; ++i) bad = !std::isfinite(grads[i]);
    const int k = static_cast<int>(net);
    c->bad_now[k] = bad ? 1 : 0;
    if (bad && c->first_bad_iteration[k] < 0) c->first_bad_iteration[k] = c->iteration;
  }
  void adam(float* params, const float* grads, float* m, float* v, size_t n,
            const AdamConfig& cfg, Net net, StepCounters* c) override {
    const int k = static_cast<int>(net);
    if (c->bad_now[k]) {
      c->skipped[k] += 1;
      return;
    }
    cpu::adam_update<float>(params, grads, m, v, n, cfg, ++c->adam_step[k]);
  }
  void end_iteration(StepCounters* c, int d_steps) override {
    c->iteration += 1;
    c->batch_cursor += d_steps;
  }

  std::vector<OpVariants> kernel_variants() const override {
    std::vector<OpVariants> v;
    for (const char* op : kOps) v.push_back(OpVariants{op, {"reference"}, "reference"});
    return v;
  }
  void select_kernel(const std::string& op, const std::string& variant) override {
    for (const char* known : kOps)
      if (op == known) {
        if (variant != "reference")
          GAN_INPUT_FAIL("the CPU backend has only the 'reference' variant of " << op
                                                                                << ", not '"
                                                                                << variant << "'");
        return;
      }
    GAN_INPUT_FAIL("unknown kernel op '" << op << "' (see `gan_cuda kernels`)");
  }

 private:
  static cpu::DenseRef<float> ref(const DenseParams& p, const BnStats& rs, const DenseSaved& s) {
    cpu::DenseRef<float> r;
    r.W = p.W; r.b = p.b; r.gamma = p.gamma; r.beta = p.beta;
    r.running_mean = rs.running_mean; r.running_var = rs.running_var;
    r.z = s.z; r.mean = s.mean; r.rstd = s.rstd;
    return r;
  }
};

}  // namespace

std::unique_ptr<Backend> make_cpu_backend() { return std::make_unique<CpuBackend>(); }

}  // namespace gan
