/*
 * cpu_backend.cpp — Backend implemented by the ops in kernels/cpu/: the fast variants by
 * default, the reference ones on request (--kernel OP=reference).
 */
#include "kernels/cpu/cpu_backend.hpp"

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <new>

#include "engine/base/error.hpp"
#include "engine/lr_schedule.h"
#include "kernels/cpu/adam_cpu.hpp"
#include "kernels/cpu/adam_fast.hpp"
#include "kernels/cpu/d_head_bce_cpu.hpp"
#include "kernels/cpu/data_pipeline_cpu.hpp"
#include "kernels/cpu/dropout_cpu.hpp"
#include "kernels/cpu/ema_cpu.hpp"
#include "kernels/cpu/gather_labels_cpu.hpp"
#include "kernels/cpu/gemm_cpu.hpp"
#include "kernels/cpu/gemm_fast.hpp"
#include "kernels/cpu/linear_bn_act_cpu.hpp"
#include "kernels/cpu/linear_bn_act_fast.hpp"
#include "kernels/cpu/softmax_xent_cpu.hpp"
#include "kernels/cpu/thread_pool.hpp"

namespace gan {
namespace {

// Every op with its variants, the default first (see cpu_backend.hpp).
struct OpTable {
  const char* op;
  std::vector<std::string> variants;
};
const std::vector<OpTable>& op_table() {
  static const std::vector<OpTable> t = {
      {"dense_forward", {"fast", "reference"}},
      {"dense_backward", {"fast", "reference"}},
      {"d_head", {"reference"}},
      {"adam", {"fast", "reference"}},
      {"check_finite", {"threaded", "reference"}},
      {"shuffle", {"reference"}},
      {"gather", {"reference"}},
      {"noise", {"reference"}},
      {"gemm", {"auto", "avx512", "avx2", "sse2"}},
  };
  return t;
}

// Is any of v[0..n) a NaN or an infinity? Branch-free (vectorisable): exponent bits all set.
bool any_non_finite(const float* v, size_t n) {
  uint32_t bad = 0;
  for (size_t i = 0; i < n; ++i) {
    uint32_t u;
    std::memcpy(&u, v + i, sizeof(u));
    bad |= static_cast<uint32_t>((u & 0x7F800000u) == 0x7F800000u);
  }
  return bad != 0;
}

// The memory this process may use: physical memory, lowered by the address-space and data
// rlimits and a cgroup v2 memory limit where they are set.
size_t host_memory_limit() {
  const long pages = ::sysconf(_SC_PHYS_PAGES), page = ::sysconf(_SC_PAGESIZE);
  uint64_t limit = pages > 0 && page > 0 ? uint64_t(pages) * uint64_t(page) : UINT64_MAX;
  for (int resource : {RLIMIT_AS, RLIMIT_DATA}) {
    struct rlimit r {};
    if (::getrlimit(resource, &r) == 0 && r.rlim_cur != RLIM_INFINITY)
      limit = std::min<uint64_t>(limit, r.rlim_cur);
  }
  std::ifstream cgroup("/sys/fs/cgroup/memory.max");
  uint64_t cg = 0;
  if (cgroup >> cg && cg > 0) limit = std::min(limit, cg);  // "max" (no limit) fails to parse
  return static_cast<size_t>(std::min<uint64_t>(limit, SIZE_MAX));
}

class CpuBackend final : public Backend {
 public:
  explicit CpuBackend(const CpuOptions& opt)
      : pool_(opt.threads > 0 ? opt.threads : cpu::available_cores()) {
    for (const OpTable& o : op_table()) selected_.push_back(o.variants.front());
  }

  std::string name() const override { return "cpu"; }
  bool is_cuda() const override { return false; }

  void* alloc(size_t bytes) override {
    const size_t rounded = (bytes + 63) / 64 * 64;
    void* p = rounded ? std::aligned_alloc(64, rounded) : nullptr;
    if (rounded && !p) GAN_FAIL("out of host memory allocating " << bytes << " bytes");
    if (p) std::memset(p, 0, rounded);
    return p;
  }
  size_t memory_budget() const override { return host_memory_limit(); }
  void free(void* p) noexcept override { std::free(p); }
  void* alloc_host(size_t bytes) override { return alloc(bytes); }
  void free_host(void* p) noexcept override { std::free(p); }
  void upload(void* dst, const void* src, size_t bytes) override { copy(dst, src, bytes); }
  void download(void* dst, const void* src, size_t bytes) override { copy(dst, src, bytes); }
  void download_async(void* dst, const void* src, size_t bytes) override {
    copy(dst, src, bytes);
    last_download_ = std::chrono::steady_clock::now();  // the work before it is done
  }
  bool downloads_done() override { return true; }
  void wait_downloads() override {}
  void mark_clock() override { clock_mark_ = std::chrono::steady_clock::now(); }
  double download_seconds() override {
    return std::chrono::duration<double>(last_download_ - clock_mark_).count();
  }
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
    if (is("dense_forward", "fast"))
      cpu::dense_forward_fast(pool_, isa(), d, mode, rows, x, ref(p, rs, s), y);
    else
      cpu::dense_forward<float>(d, mode, rows, x, ref(p, rs, s), y);
  }
  void dense_backward(const DenseDesc& d, int rows, const float* x, DenseParams p, DenseSaved s,
                      const float* y, float* dy, DenseGrads g, float* dx) override {
    const cpu::DenseGradRef<float> gr{g.dW, g.db, g.dgamma, g.dbeta};
    if (is("dense_backward", "fast"))
      cpu::dense_backward_fast(pool_, isa(), d, rows, x, ref(p, BnStats{}, s), y, dy, gr, dx);
    else
      cpu::dense_backward<float>(d, rows, x, ref(p, BnStats{}, s), y, dy, gr, dx);
  }
  void d_head(const DenseDesc& d, HeadMode mode, int n_real, int n_fake, const float* x,
              DenseParams p, DenseGrads g, float* dx, StepMetrics* m) override {
    GAN_CHECK(d.out == 1, "the D head has one output");
    const auto r = cpu::d_head<float>(d.in, mode, n_real, n_fake, x, p.W, p.b, g.dW, g.db, dx);
    store(mode, r, m);
  }

  void dense_forward_dropout(const DenseDesc& d, int rows, const float* x, DenseParams p,
                             const DropoutMask& m, float* y) override {
    check_dropout(d, m);
    if (is("dense_forward", "fast")) {
      const cpu::DropoutDraw dd = draw(m);
      cpu::dense_forward_fast(pool_, isa(), d, Mode::Train, rows, x,
                              ref(p, BnStats{}, DenseSaved{}), y, &dd);
      return;
    }
    cpu::dense_forward<float>(d, Mode::Train, rows, x, ref(p, BnStats{}, DenseSaved{}), y);
    cpu::dropout_forward<float>(size_t(rows) * d.out, draw(m), y);
  }
  void dense_backward_dropout(const DenseDesc& d, int rows, const float* x, DenseParams p,
                              const DropoutMask& m, const float* y, float* dy, DenseGrads g,
                              float* dx) override {
    check_dropout(d, m);
    if (is("dense_backward", "fast")) {
      const cpu::DropoutDraw dd = draw(m);
      cpu::dense_backward_fast(pool_, isa(), d, rows, x, ref(p, BnStats{}, DenseSaved{}), y, dy,
                               cpu::DenseGradRef<float>{g.dW, g.db, g.dgamma, g.dbeta}, dx, &dd);
      return;
    }
    cpu::dropout_backward<float>(size_t(rows) * d.out, draw(m), dy);
    cpu::dense_backward<float>(d, rows, x, ref(p, BnStats{}, DenseSaved{}), y, dy,
                               cpu::DenseGradRef<float>{g.dW, g.db, g.dgamma, g.dbeta}, dx);
  }
  void d_head_smoothed(const DenseDesc& d, HeadMode mode, int n_real, int n_fake,
                       float real_label, const float* x, DenseParams p, DenseGrads g, float* dx,
                       StepMetrics* m) override {
    GAN_CHECK(d.out == 1, "the D head has one output");
    GAN_CHECK(real_label > 0.0f && real_label <= 1.0f, "the real label must be in (0, 1]");
    const auto r = cpu::d_head<float>(d.in, mode, n_real, n_fake, x, p.W, p.b, g.dW, g.db, dx,
                                      static_cast<double>(real_label));
    store(mode, r, m);
  }
  void ema_update(float* ema, const float* src, size_t n, float* ema_stats, const float* stats,
                  size_t n_stats, float decay, const StepCounters* c) override {
    if (c->bad_now[static_cast<int>(Net::G)]) return;
    const float rest = 1.0f - decay;
    cpu::ema_update(ema, src, n, decay, rest);
    cpu::ema_update(ema_stats, stats, n_stats, decay, rest);
  }

  void check_finite(const float* grads, size_t n, const float* loss, Net net,
                    StepCounters* c) override {
    bool bad = !std::isfinite(*loss);
    if (is("check_finite", "threaded")) {
      const int T = pool_.size();
      std::vector<uint8_t> part(static_cast<size_t>(T), 0);
      pool_.run([&](int t) {
        const size_t b = n * t / T, e = n * (t + 1) / T;
        part[t] = any_non_finite(grads + b, e - b);
      });
      for (uint8_t p : part) bad = bad || p;
    } else {
      for (size_t i = 0; i < n && !bad; ++i) bad = !std::isfinite(grads[i]);
    }
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
    const int64_t t = ++c->adam_step[k];
    const double scale = lr_scale(cfg.decay_start, cfg.decay_end, c->iteration);
    if (!is("adam", "fast")) {
      cpu::adam_update<float>(params, grads, m, v, n, cfg, t, scale);
      return;
    }
    // Element-wise: the reference's formula, vectorised, on contiguous chunks (multiples of
    // 16) per thread: the same bits as the reference.
    const int T = pool_.size();
    const size_t chunk = (n / T + 15) / 16 * 16;
    pool_.run([&](int w) {
      const size_t b = std::min(n, chunk * w), e = w + 1 == T ? n : std::min(n, chunk * (w + 1));
      if (b < e)
        cpu::adam_update_fast(params + b, grads + b, m + b, v + b, e - b, cfg, t, scale);
    });
  }
  void end_iteration(StepCounters* c, int d_steps) override {
    c->iteration += 1;
    c->batch_cursor += d_steps;
  }

  void matmul(bool trans_a, bool trans_b, int M, int N, int K, float alpha, const float* A,
              const float* B, float beta, float* C) override {
    cpu::gemm<float>(trans_a, trans_b, M, N, K, alpha, A, B, beta, C);
  }
  void softmax_xent(int rows, int classes, const float* logits, const int32_t* labels,
                    float* dlogits, XentMetrics* m) override {
    const cpu::XentResult r = cpu::softmax_xent<float>(rows, classes, logits, labels, dlogits);
    m->loss = static_cast<float>(r.loss);
    m->correct = r.correct;
  }
  void gather_labels(int32_t* out, const uint8_t* labels, const int32_t* perm,
                     const StepCounters* c, int slot, int rows) override {
    cpu::gather_labels(out, labels, perm, c->batch_cursor + slot, rows);
  }

  std::vector<OpVariants> kernel_variants() const override {
    std::vector<OpVariants> v;
    const auto& table = op_table();
    for (size_t i = 0; i < table.size(); ++i)
      v.push_back(OpVariants{table[i].op, table[i].variants, selected_[i]});
    return v;
  }
  void select_kernel(const std::string& op, const std::string& variant) override {
    const auto& table = op_table();
    for (size_t i = 0; i < table.size(); ++i) {
      if (op != table[i].op) continue;
      for (const std::string& known : table[i].variants)
        if (variant == known) {
          if (op == "gemm") cpu::gemm_resolve_isa(parse_isa(variant));  // refuses a missing ISA
          selected_[i] = variant;
          return;
        }
      std::string list;
      for (const std::string& known : table[i].variants) list += (list.empty() ? "" : ", ") + known;
      GAN_INPUT_FAIL("unknown variant '" << variant << "' of CPU kernel op '" << op
                                         << "'; valid variants: " << list);
    }
    GAN_INPUT_FAIL("unknown kernel op '" << op << "' (see `gan_cuda kernels`)");
  }

  int threads() const { return pool_.size(); }

 private:
  static cpu::GemmIsa parse_isa(const std::string& v) {
    if (v == "avx512") return cpu::GemmIsa::AVX512;
    if (v == "avx2") return cpu::GemmIsa::AVX2;
    if (v == "sse2") return cpu::GemmIsa::SSE2;
    return cpu::GemmIsa::Auto;
  }
  cpu::GemmIsa isa() const { return parse_isa(selected("gemm")); }
  const std::string& selected(const char* op) const {
    const auto& table = op_table();
    for (size_t i = 0; i < table.size(); ++i)
      if (std::strcmp(table[i].op, op) == 0) return selected_[i];
    GAN_FAIL("no CPU kernel op " << op);
  }
  bool is(const char* op, const char* variant) const { return selected(op) == variant; }

  cpu::ThreadPool pool_;
  std::vector<std::string> selected_;  // per op of op_table()
  std::chrono::steady_clock::time_point clock_mark_, last_download_;  // the read-back clock

  static void store(HeadMode mode, const cpu::HeadResult<float>& r, StepMetrics* m) {
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
  static void check_dropout(const DenseDesc& d, const DropoutMask& m) {
    GAN_CHECK(!d.batchnorm && d.act != Act::Sigmoid,
              "dropout follows a layer without BatchNorm whose activation keeps its sign");
    GAN_CHECK(m.p >= 0.0f && m.p < 1.0f, "the dropout probability must be in [0, 1)");
  }
  static cpu::DropoutDraw draw(const DropoutMask& m) {
    return cpu::DropoutDraw{m.p, m.seed, (m.counter ? *m.counter : 0) * m.k_mul + m.k_add,
                            m.layer};
  }
  static cpu::DenseRef<float> ref(const DenseParams& p, const BnStats& rs, const DenseSaved& s) {
    cpu::DenseRef<float> r;
    r.W = p.W; r.b = p.b; r.gamma = p.gamma; r.beta = p.beta;
    r.running_mean = rs.running_mean; r.running_var = rs.running_var;
    r.z = s.z; r.mean = s.mean; r.rstd = s.rstd;
    return r;
  }
};

}  // namespace

std::unique_ptr<Backend> make_cpu_backend(const CpuOptions& opt) {
  if (opt.threads < 0) GAN_INPUT_FAIL("--threads must be at least 1, got " << opt.threads);
  return std::make_unique<CpuBackend>(opt);
}
std::unique_ptr<Backend> make_cpu_backend() { return make_cpu_backend(CpuOptions{}); }

std::unique_ptr<Backend> make_cpu_reference_backend(const CpuOptions& opt) {
  auto be = make_cpu_backend(opt);
  for (const OpVariants& v : be->kernel_variants())
    if (v.op != "gemm") be->select_kernel(v.op, "reference");
  return be;
}

int cpu_default_threads() { return cpu::available_cores(); }

std::string cpu_gemm_description(const std::string& variant) {
  cpu::GemmIsa isa = cpu::GemmIsa::Auto;
  if (variant == "avx512") isa = cpu::GemmIsa::AVX512;
  if (variant == "avx2") isa = cpu::GemmIsa::AVX2;
  if (variant == "sse2") isa = cpu::GemmIsa::SSE2;
  return cpu::gemm_library() + " SGEMM, " + cpu::gemm_isa_name(cpu::gemm_resolve_isa(isa));
}

}  // namespace gan
