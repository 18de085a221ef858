/*
 * test_ops_fast.cpp — the CPU backend's fast variants against its reference variants.
 *
 * Every fast op is run next to the reference op of the same backend (--kernel OP=reference)
 * on the same random inputs, at awkward sizes (1, 2, 7, 129 rows; widths 3, 5, 17, 33, 47,
 * 100, 130), with 1, 2 and 3 threads, outputs poisoned with NaN first.
 *
 * Tolerances. Adam and check_finite must agree bit for bit (same float expressions, split
 * over threads). A matrix product's two float results may differ by the rounding of K-term
 * sums in different orders: each is within gamma_K sum_k |a_ik b_kj| of the exact value
 * (gamma_K = K u / (1 - K u), u = 2^-24; Higham, Accuracy and Stability, section 3.1), so
 * products are checked element by element against an exact (double) result with that bound
 * (plus the rounding of alpha, beta and the bias). Downstream of a product (BatchNorm
 * statistics, normalisation, activations, gradients) the differences are those product
 * errors scaled by the layer's arithmetic: with these inputs (|x| <= 1, |W| <= 0.8, column
 * standard deviations above 0.1) an input error of 1e-6 grows to at most ~1e-5 relative;
 * the layers are checked at atol 2e-5 + rtol 2e-4, far below any real mistake (a wrong term
 * changes values by O(1)).
 */
#include <doctest/doctest.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <limits>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "engine/backend.hpp"
#include "engine/base/error.hpp"
#include "engine/trainer.hpp"
#include "kernels/cpu/adam_cpu.hpp"
#include "kernels/cpu/adam_fast.hpp"
#include "kernels/cpu/cpu_backend.hpp"
#include "kernels/cpu/dropout_cpu.hpp"
#include "kernels/cpu/gemm_fast.hpp"
#include "kernels/cpu/linear_bn_act_cpu.hpp"
#include "kernels/cpu/thread_pool.hpp"
#include "engine/dropout_mask.h"
#include "tests/support/limited_child.hpp"
#include "tests/support/test_util.hpp"

namespace {

using gan::Act;
using gan::DenseDesc;
using gan::Mode;
using gan::test::check_close;
using gan::test::make_desc;
using gan::test::random_vector;
using gan::test::Rng;
using VecF = std::vector<float>;

const Act kActs[] = {Act::None, Act::ReLU, Act::LeakyReLU, Act::Sigmoid};
const float kNaN = std::numeric_limits<float>::quiet_NaN();
constexpr double kU = 0x1p-24;

double gamma_k(int k) { return k * kU / (1 - k * kU); }

bool same_bits(const VecF& a, const VecF& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

std::unique_ptr<gan::Backend> backend(int threads, bool reference) {
  gan::CpuOptions o;
  o.threads = threads;
  return reference ? gan::make_cpu_reference_backend(o) : gan::make_cpu_backend(o);
}

// ---- thread pool and split ------------------------------------------------------------

TEST_CASE("thread pool: every part runs once per job, jobs repeat, errors reach the caller") {
  for (int threads : {1, 2, 5}) {
    gan::cpu::ThreadPool pool(threads);
    CHECK(pool.size() == threads);
    for (int job = 0; job < 50; ++job) {
      std::vector<std::atomic<int>> calls(static_cast<size_t>(threads));
      pool.run([&](int t) { calls[t].fetch_add(1); });
      for (auto& c : calls) CHECK(c.load() == 1);
    }
    CHECK_THROWS_WITH_AS(pool.run([](int t) {
      if (t == 0) throw std::runtime_error("part failed");
    }),
                         "part failed", std::runtime_error);
    int after = 0;  // the pool still works after a failed job
    pool.run([&](int t) {
      if (t == 0) after = 1;
    });
    CHECK(after == 1);
  }
  CHECK_THROWS_AS(gan::cpu::ThreadPool(0), gan::Error);
  CHECK(gan::cpu::available_cores() >= 1);
}

TEST_CASE("for_each_piece: the same pieces for every thread count, each once, piece k on thread k mod T") {
  for (int n : {0, 1, 15, 16, 17, 100, 784, 1024})
    for (int piece : {1, 16, 128})
      for (int threads : {1, 2, 3, 7}) {
        INFO("n " << n << " piece " << piece << " threads " << threads);
        gan::cpu::ThreadPool pool(threads);
        const int pieces = (n + piece - 1) / piece;
        const size_t np = static_cast<size_t>(pieces);
        std::vector<int> begin(np, -1), end(np, -1), calls(np, 0);
        std::vector<std::thread::id> who(np);
        std::mutex m;
        gan::cpu::for_each_piece(pool, n, piece, [&](int b, int e) {
          std::lock_guard<std::mutex> lock(m);
          const int k = b / piece;
          REQUIRE(k >= 0);
          REQUIRE(k < pieces);
          begin[size_t(k)] = b;
          end[size_t(k)] = e;
          ++calls[size_t(k)];
          who[size_t(k)] = std::this_thread::get_id();
        });
        for (int k = 0; k < pieces; ++k) {
          CHECK(calls[size_t(k)] == 1);
          CHECK(begin[size_t(k)] == k * piece);
          CHECK(end[size_t(k)] == std::min(n, (k + 1) * piece));
          // the same thread for pieces k and k + T, another for k + 1 (with two threads or more)
          if (k + threads < pieces) CHECK(who[size_t(k)] == who[size_t(k + threads)]);
          if (threads > 1 && k + 1 < pieces) CHECK(who[size_t(k)] != who[size_t(k + 1)]);
        }
      }
}

// ---- matrix products ------------------------------------------------------------------

// Checks C = alpha op(A) op(B) + beta C0 against the exact product, element by element.
void check_product(const char* what, bool ta, bool tb, int M, int N, int K, float alpha,
                   const VecF& A, const VecF& B, float beta, const VecF& C0, const VecF& C) {
  size_t bad = 0;
  for (int i = 0; i < M; ++i)
    for (int j = 0; j < N; ++j) {
      double exact = 0, mag = 0;
      for (int k = 0; k < K; ++k) {
        const double a = ta ? A[size_t(k) * M + i] : A[size_t(i) * K + k];
        const double b = tb ? B[size_t(j) * K + k] : B[size_t(k) * N + j];
        exact += a * b;
        mag += std::abs(a * b);
      }
      const double c0 = beta == 0.0f ? 0.0 : double(C0[size_t(i) * N + j]);
      const double want = alpha * exact + beta * c0;
      const double bound = gamma_k(K + 2) * (std::abs(alpha) * mag + std::abs(beta * c0)) +
                           2 * kU * std::abs(want) + 1e-30;
      const double got = C[size_t(i) * N + j];
      if (!(std::abs(got - want) <= bound) && bad++ == 0)
        FAIL_CHECK(what << " [" << i << "," << j << "]: got " << got << ", want " << want
                        << " (bound " << bound << ")");
    }
  CHECK(bad == 0);
}

TEST_CASE("gemm_fast: every instruction set this CPU has, every transpose, awkward shapes") {
  Rng rng(5);
  const int shapes[][3] = {{1, 1, 1}, {7, 33, 5}, {129, 17, 64}, {3, 100, 130}, {20, 47, 1}};
  for (gan::cpu::GemmIsa isa : {gan::cpu::GemmIsa::AVX512, gan::cpu::GemmIsa::AVX2,
                                gan::cpu::GemmIsa::SSE2, gan::cpu::GemmIsa::Auto}) {
    if (!gan::cpu::gemm_isa_supported(isa)) {
      MESSAGE("this CPU lacks " << gan::cpu::gemm_isa_name(isa) << ": not tested");
      CHECK_THROWS_AS(gan::cpu::gemm_resolve_isa(isa), gan::InputError);
      continue;
    }
    INFO("isa " << gan::cpu::gemm_isa_name(isa));
    for (const auto& s : shapes)
      for (int tr = 0; tr < 4; ++tr) {
        const bool ta = tr & 1, tb = tr & 2;
        const int M = s[0], N = s[1], K = s[2];
        INFO("M " << M << " N " << N << " K " << K << " ta " << ta << " tb " << tb);
        const VecF A = random_vector<float>(rng, size_t(M) * K);
        const VecF B = random_vector<float>(rng, size_t(K) * N);
        const VecF C0 = random_vector<float>(rng, size_t(M) * N);
        VecF C(size_t(M) * N, kNaN);  // beta 0: C is never read
        gan::cpu::gemm_fast(isa, ta, tb, M, N, K, 1.0f, A.data(), ta ? M : K, B.data(),
                            tb ? K : N, 0.0f, C.data(), N);
        check_product("beta 0", ta, tb, M, N, K, 1.0f, A, B, 0.0f, C0, C);
        VecF C2 = C0;
        gan::cpu::gemm_fast(isa, ta, tb, M, N, K, -0.5f, A.data(), ta ? M : K, B.data(),
                            tb ? K : N, 2.0f, C2.data(), N);
        check_product("alpha -0.5 beta 2", ta, tb, M, N, K, -0.5f, A, B, 2.0f, C0, C2);
        for (int threads : {2, 3}) {
          gan::cpu::ThreadPool pool(threads);
          VecF P(size_t(M) * N, kNaN), Q(size_t(M) * N, kNaN);
          gan::cpu::gemm_parallel(pool, isa, ta, tb, M, N, K, 1.0f, A.data(), B.data(), 0.0f,
                                  P.data());
          gan::cpu::gemm_parallel(pool, isa, ta, tb, M, N, K, 1.0f, A.data(), B.data(), 0.0f,
                                  Q.data());
          check_product("threaded", ta, tb, M, N, K, 1.0f, A, B, 0.0f, C0, P);
          CHECK(same_bits(P, Q));
        }
      }
  }
}

TEST_CASE("gemm_parallel: each piece of kPiece columns (N >= M) or rows is one gemm_fast") {
  // The documented cut, computed piece by piece with the single-threaded product: bit for bit
  // what gemm_parallel gives on any thread count. The shapes cut C into several pieces, along
  // N and along M, with and without a short last piece, for every transpose; with K in the
  // hundreds, cutting along the other dimension would round differently (small K does not).
  using gan::cpu::kPiece;
  Rng rng(11);
  const gan::cpu::GemmIsa isa = gan::cpu::gemm_best_isa();
  const int shapes[][3] = {{5, 300, 7}, {300, 5, 7}, {260, 260, 3}, {129, 256, 2},
                           {9, 300, 301}, {300, 9, 301}, {200, 260, 150}};
  for (const auto& s : shapes)
    for (int tr = 0; tr < 4; ++tr) {
      const bool ta = tr & 1, tb = tr & 2;
      const int M = s[0], N = s[1], K = s[2];
      const int lda = ta ? M : K, ldb = tb ? K : N;
      INFO("M " << M << " N " << N << " K " << K << " ta " << ta << " tb " << tb);
      const VecF A = random_vector<float>(rng, size_t(M) * K);
      const VecF B = random_vector<float>(rng, size_t(K) * N);
      VecF want(size_t(M) * N, kNaN);
      if (N >= M) {
        for (int b = 0; b < N; b += kPiece) {
          const float* Bp = tb ? B.data() + size_t(b) * ldb : B.data() + b;
          gan::cpu::gemm_fast(isa, ta, tb, M, std::min(kPiece, N - b), K, 1.0f, A.data(), lda,
                              Bp, ldb, 0.0f, want.data() + b, N);
        }
      } else {
        for (int b = 0; b < M; b += kPiece) {
          const float* Ap = ta ? A.data() + b : A.data() + size_t(b) * lda;
          gan::cpu::gemm_fast(isa, ta, tb, std::min(kPiece, M - b), N, K, 1.0f, Ap, lda,
                              B.data(), ldb, 0.0f, want.data() + size_t(b) * N, N);
        }
      }
      check_product("pieces", ta, tb, M, N, K, 1.0f, A, B, 0.0f, want, want);
      for (int threads : {1, 2, 3}) {
        gan::cpu::ThreadPool pool(threads);
        VecF got(size_t(M) * N, kNaN);
        gan::cpu::gemm_parallel(pool, isa, ta, tb, M, N, K, 1.0f, A.data(), B.data(), 0.0f,
                                got.data());
        CHECK(same_bits(got, want));
      }
    }
}

TEST_CASE("gemm isa: auto is the widest level this CPU supports") {
  using gan::cpu::GemmIsa;
  const GemmIsa want = gan::cpu::gemm_isa_supported(GemmIsa::AVX512) ? GemmIsa::AVX512
                       : gan::cpu::gemm_isa_supported(GemmIsa::AVX2) ? GemmIsa::AVX2
                                                                      : GemmIsa::SSE2;
  CHECK(gan::cpu::gemm_best_isa() == want);
  CHECK(gan::cpu::gemm_resolve_isa(GemmIsa::Auto) == want);
  CHECK(gan::cpu::gemm_isa_supported(GemmIsa::SSE2));
  // AVX-512 here is built on top of the AVX2 set.
  if (gan::cpu::gemm_isa_supported(GemmIsa::AVX512))
    CHECK(gan::cpu::gemm_isa_supported(GemmIsa::AVX2));
  MESSAGE("auto resolves to " << std::string(gan::cpu::gemm_isa_name(want)) << " on this CPU");
}

TEST_CASE("gemm_fast: K = 0 gives beta C, and nothing is written for M = 0 or N = 0") {
  VecF C{1, 2, 3, 4}, A, B;
  gan::cpu::gemm_fast(gan::cpu::GemmIsa::Auto, false, false, 2, 2, 0, 1.0f, A.data(), 1,
                      B.data(), 2, 0.5f, C.data(), 2);
  CHECK(C == VecF{0.5f, 1, 1.5f, 2});
  gan::cpu::gemm_fast(gan::cpu::GemmIsa::Auto, false, false, 2, 2, 0, 1.0f, A.data(), 1,
                      B.data(), 2, 0.0f, C.data(), 2);
  CHECK(C == VecF{0, 0, 0, 0});
  VecF D{kNaN};
  gan::cpu::gemm_fast(gan::cpu::GemmIsa::Auto, false, false, 0, 1, 3, 1.0f, A.data(), 3,
                      B.data(), 1, 0.0f, D.data(), 1);
  CHECK(std::isnan(D[0]));
}

// ---- dense layer ----------------------------------------------------------------------

struct Layer {
  VecF x, W, b, gamma, beta, dy, rm, rv;
  Layer(Rng& rng, const DenseDesc& d, int rows)
      : x(random_vector<float>(rng, size_t(rows) * d.in)),
        W(random_vector<float>(rng, size_t(d.out) * d.in, -0.8, 0.8)),
        b(random_vector<float>(rng, d.out, -0.5, 0.5)),
        gamma(random_vector<float>(rng, d.out, 0.5, 1.5)),
        beta(random_vector<float>(rng, d.out, -0.5, 0.5)),
        dy(random_vector<float>(rng, size_t(rows) * d.out)),
        rm(random_vector<float>(rng, d.out, -0.5, 0.5)),
        rv(random_vector<float>(rng, d.out, 0.5, 2.0)) {}
};

// Everything a forward (and optionally backward) call writes, poisoned first.
struct LayerRun {
  VecF y, z, mean, rstd, rm, rv, dz, dx, dW, db, dgamma, dbeta;
};

LayerRun run_layer(gan::Backend& be, const DenseDesc& d, Mode mode, int rows, const Layer& l,
                   bool backward, bool want_dx) {
  const bool bn = d.batchnorm;
  LayerRun r;
  const size_t n = size_t(rows) * d.out;
  r.y.assign(n, kNaN);
  r.z.assign(n, kNaN);
  r.mean.assign(d.out, kNaN);
  r.rstd.assign(d.out, kNaN);
  r.rm = l.rm;
  r.rv = l.rv;
  gan::DenseParams p{l.W.data(), l.b.data(), bn ? l.gamma.data() : nullptr,
                     bn ? l.beta.data() : nullptr};
  gan::BnStats rs{bn ? r.rm.data() : nullptr, bn ? r.rv.data() : nullptr};
  gan::DenseSaved s;
  if (bn && mode == Mode::Train) s = gan::DenseSaved{r.z.data(), r.mean.data(), r.rstd.data()};
  be.dense_forward(d, mode, rows, l.x.data(), p, rs, s, r.y.data());
  if (!backward) return r;
  r.dz = l.dy;
  r.dx.assign(size_t(rows) * d.in, kNaN);
  r.dW.assign(size_t(d.out) * d.in, kNaN);
  r.db.assign(d.out, kNaN);
  r.dgamma.assign(d.out, kNaN);
  r.dbeta.assign(d.out, kNaN);
  gan::DenseGrads g{r.dW.data(), r.db.data(), bn ? r.dgamma.data() : nullptr,
                    bn ? r.dbeta.data() : nullptr};
  be.dense_backward(d, rows, l.x.data(), p, s, r.y.data(), r.dz.data(), g,
                    want_dx ? r.dx.data() : nullptr);
  return r;
}

TEST_CASE("dense fast: forward (train and eval) and backward match the reference variant") {
  Rng rng(2024);
  auto ref = backend(1, true);
  const int shapes[][2] = {{3, 5}, {17, 33}, {64, 100}, {130, 47}};
  const double atol = 2e-5, rtol = 2e-4;
  for (int threads : {1, 2, 3}) {
    auto fast = backend(threads, false);
    for (const auto& shape : shapes)
      for (int rows : {1, 2, 7, 129})
        for (bool bn : {false, true})
          for (Act act : kActs)
            for (Mode mode : {Mode::Train, Mode::Eval}) {
              if (bn && mode == Mode::Train && rows < 2) continue;  // refused (tested below)
              if (!bn && mode == Mode::Eval) continue;              // the same as Train
              const DenseDesc d = make_desc(shape[0], shape[1], bn, act);
              INFO("threads " << threads << " in " << d.in << " out " << d.out << " rows "
                              << rows << " bn " << bn << " act " << gan::act_name(act)
                              << " mode " << (mode == Mode::Train ? "train" : "eval"));
              const Layer l(rng, d, rows);
              const bool backward = mode == Mode::Train;
              const LayerRun want = run_layer(*ref, d, mode, rows, l, backward, true);
              const LayerRun got = run_layer(*fast, d, mode, rows, l, backward, true);
              check_close("y", got.y, want.y, atol, rtol);
              check_close("running_mean", got.rm, want.rm, atol, rtol);
              check_close("running_var", got.rv, want.rv, atol, rtol);
              if (bn && mode == Mode::Train) {
                check_close("saved z", got.z, want.z, atol, rtol);
                check_close("saved mean", got.mean, want.mean, atol, rtol);
                check_close("saved rstd", got.rstd, want.rstd, atol, rtol);
              }
              if (!backward) continue;
              check_close("dz", got.dz, want.dz, atol, rtol);
              check_close("dx", got.dx, want.dx, atol, rtol);
              check_close("dW", got.dW, want.dW, atol, rtol);
              // Column sums over the rows are compared at a tolerance scaled by the largest
              // column sum of |dz| (large with 2 rows, whose normalised values are +-1 whatever
              // the spread). A BatchNorm layer's db is exactly 0 in real arithmetic (the sum
              // of dz cancels); both variants leave the residue of the saved mean's rounding:
              // sum_r xhat_r = rows (mean - float(mean)) rstd, times k sum_gx with
              // k = gamma rstd / rows, so |db| <= |gamma| rstd^2 |dgamma| u |mean| plus u
              // sum |dz| for the rounding of dz; each is checked against 4 times that.
              double dz_sum = 1;
              std::vector<double> col(size_t(d.out), 0.0);
              for (int j = 0; j < d.out; ++j) {
                for (int r = 0; r < rows; ++r) col[j] += std::abs(want.dz[size_t(r) * d.out + j]);
                dz_sum = std::max(dz_sum, col[j]);
              }
              if (!bn) check_close("db", got.db, want.db, atol * dz_sum, rtol);
              for (int j = 0; bn && j < d.out; ++j) {
                const double rs = want.rstd[j];
                const double bound =
                    4 * kU * (std::abs(l.gamma[j]) * rs * rs * std::abs(want.dgamma[j]) *
                                  std::abs(want.mean[j]) + col[j]) + 1e-12;
                CHECK(std::abs(got.db[j]) <= bound);
                CHECK(std::abs(want.db[j]) <= bound);
              }
              if (bn) {
                check_close("dgamma", got.dgamma, want.dgamma, atol * dz_sum, rtol);
                check_close("dbeta", got.dbeta, want.dbeta, atol * dz_sum, rtol);
              }
              // Same thread count, same inputs: the same bits.
              const LayerRun again = run_layer(*fast, d, mode, rows, l, backward, true);
              for (auto [a, b] : {std::pair{&got.y, &again.y}, {&got.dx, &again.dx},
                                  {&got.dW, &again.dW}, {&got.db, &again.db}})
                CHECK(same_bits(*a, *b));
            }
  }
}

TEST_CASE("dense fast: every thread count gives the bits of one thread") {
  // The work is cut into pieces whose size does not depend on the thread count, so that a
  // run reproduces on any number of cores: the model's layer shapes, and awkward ones.
  Rng rng(77);
  const int shapes[][2] = {{64, 128}, {256, 512}, {1024, 784}, {784, 512}, {128, 1},
                           {17, 33}, {130, 47}, {3, 200}};
  auto one = backend(1, false);
  for (const auto& shape : shapes)
    for (int rows : {2, 7, 128, 129})
      for (bool bn : {false, true}) {
        const DenseDesc d = make_desc(shape[0], shape[1], bn, bn ? Act::ReLU : Act::LeakyReLU);
        const Layer l(rng, d, rows);
        const LayerRun want = run_layer(*one, d, Mode::Train, rows, l, true, true);
        for (int threads : {2, 3, 4, 7}) {
          INFO("threads " << threads << " in " << d.in << " out " << d.out << " rows " << rows
                          << " bn " << bn);
          auto many = backend(threads, false);
          const LayerRun got = run_layer(*many, d, Mode::Train, rows, l, true, true);
          CHECK(same_bits(got.y, want.y));
          CHECK(same_bits(got.rm, want.rm));
          CHECK(same_bits(got.rv, want.rv));
          CHECK(same_bits(got.dx, want.dx));
          CHECK(same_bits(got.dW, want.dW));
          CHECK(same_bits(got.db, want.db));
          if (bn) {
            CHECK(same_bits(got.dgamma, want.dgamma));
            CHECK(same_bits(got.dbeta, want.dbeta));
          }
        }
      }
}

TEST_CASE("dense fast: saved z is x W^T + b within the product bound, and dx may be skipped") {
  Rng rng(3);
  auto fast = backend(2, false);
  const DenseDesc d = make_desc(130, 47, true, Act::ReLU);
  const int rows = 7;
  const Layer l(rng, d, rows);
  const LayerRun r = run_layer(*fast, d, Mode::Train, rows, l, true, false);
  for (int i = 0; i < rows; ++i)
    for (int j = 0; j < d.out; ++j) {
      double exact = l.b[j], mag = std::abs(l.b[j]);
      for (int k = 0; k < d.in; ++k) {
        exact += double(l.x[size_t(i) * d.in + k]) * l.W[size_t(j) * d.in + k];
        mag += std::abs(double(l.x[size_t(i) * d.in + k]) * l.W[size_t(j) * d.in + k]);
      }
      CHECK(std::abs(r.z[size_t(i) * d.out + j] - exact) <= gamma_k(d.in + 1) * mag);
    }
  CHECK(std::all_of(r.dx.begin(), r.dx.end(), [](float v) { return std::isnan(v); }));
  CHECK(std::none_of(r.dW.begin(), r.dW.end(), [](float v) { return std::isnan(v); }));
}

TEST_CASE("dense backward: an empty batch gives zero gradients, BatchNorm refuses < 2 rows") {
  // Sums over no rows are 0: without BatchNorm, dW and db are written as zeros by both
  // variants, not left as they were. A BatchNorm backward needs the statistics of a training
  // forward, which needs 2 rows: both variants refuse fewer (as the CUDA backend does).
  auto ref = backend(1, true);
  auto fast = backend(2, false);
  Rng rng(9);
  for (bool bn : {false, true})
    for (int rows : {0, 1}) {
      if (!bn && rows == 1) continue;  // an ordinary batch
      INFO("bn " << bn << " rows " << rows);
      const DenseDesc d = make_desc(150, 140, bn, bn ? Act::ReLU : Act::LeakyReLU);
      const Layer l(rng, d, rows);
      VecF z(size_t(rows) * d.out, 0.0f), mean(d.out, 0.0f), rstd(d.out, 1.0f);
      VecF y(size_t(rows) * d.out, 0.5f), dy(size_t(rows) * d.out, 1.0f);
      for (gan::Backend* be : {ref.get(), fast.get()}) {
        VecF dW(size_t(d.out) * d.in, kNaN), db(d.out, kNaN), dgamma(d.out, kNaN),
            dbeta(d.out, kNaN), dx(size_t(rows) * d.in, kNaN);
        gan::DenseParams p{l.W.data(), l.b.data(), bn ? l.gamma.data() : nullptr,
                           bn ? l.beta.data() : nullptr};
        gan::DenseSaved s{bn ? z.data() : nullptr, bn ? mean.data() : nullptr,
                          bn ? rstd.data() : nullptr};
        gan::DenseGrads g{dW.data(), db.data(), bn ? dgamma.data() : nullptr,
                          bn ? dbeta.data() : nullptr};
        if (bn) {
          CHECK_THROWS_WITH_AS(
              be->dense_backward(d, rows, l.x.data(), p, s, y.data(), dy.data(), g, dx.data()),
              doctest::Contains("BatchNorm needs at least 2"), gan::Error);
          continue;
        }
        be->dense_backward(d, rows, l.x.data(), p, s, y.data(), dy.data(), g, dx.data());
        CHECK(std::all_of(dW.begin(), dW.end(), [](float v) { return v == 0.0f; }));
        CHECK(std::all_of(db.begin(), db.end(), [](float v) { return v == 0.0f; }));
      }
    }
}

TEST_CASE("dense fast: training-mode BatchNorm refuses fewer than 2 rows") {
  auto fast = backend(2, false);
  Rng rng(1);
  const DenseDesc d = make_desc(4, 3, true, Act::ReLU);
  const Layer l(rng, d, 1);
  CHECK_THROWS_AS(run_layer(*fast, d, Mode::Train, 1, l, false, false), gan::Error);
}

TEST_CASE("dense fast with dropout: the reference's mask, factor and gradients") {
  Rng rng(77);
  auto ref = backend(1, true);
  const double atol = 2e-5, rtol = 2e-4;
  const int64_t counter = 5;
  for (int threads : {1, 2, 3})
    for (const auto& shape : {std::pair{17, 33}, std::pair{64, 100}})
      for (int rows : {1, 7, 129})
        for (Act act : {Act::None, Act::ReLU, Act::LeakyReLU})
          for (float p : {0.0f, 0.3f}) {
            auto fast = backend(threads, false);
            const DenseDesc d = make_desc(shape.first, shape.second, false, act);
            INFO("threads " << threads << " in " << d.in << " out " << d.out << " rows " << rows
                            << " act " << gan::act_name(act) << " p " << p);
            const Layer l(rng, d, rows);
            gan::DropoutMask m;
            m.p = p;
            m.seed = 9;
            m.counter = &counter;
            m.k_mul = 3;
            m.k_add = 1;
            m.layer = 2;
            const gan::DenseParams par{l.W.data(), l.b.data(), nullptr, nullptr};
            LayerRun out[2];
            gan::Backend* bes[2] = {ref.get(), fast.get()};
            for (int k = 0; k < 2; ++k) {
              LayerRun& r = out[k];
              r.y.assign(size_t(rows) * d.out, kNaN);
              bes[k]->dense_forward_dropout(d, rows, l.x.data(), par, m, r.y.data());
              r.dz = l.dy;
              r.dx.assign(size_t(rows) * d.in, kNaN);
              r.dW.assign(size_t(d.out) * d.in, kNaN);
              r.db.assign(d.out, kNaN);
              bes[k]->dense_backward_dropout(d, rows, l.x.data(), par, m, r.y.data(),
                                             r.dz.data(),
                                             gan::DenseGrads{r.dW.data(), r.db.data()},
                                             r.dx.data());
            }
            // The reference backend runs the reference ops, to the bit.
            {
              const gan::cpu::DropoutDraw dd{m.p, m.seed, *m.counter * m.k_mul + m.k_add,
                                             m.layer};
              gan::cpu::DenseRef<float> rp;
              rp.W = l.W.data();
              rp.b = l.b.data();
              VecF y(size_t(rows) * d.out), dz = l.dy, dx(size_t(rows) * d.in),
                  dW(size_t(d.out) * d.in), db(d.out);
              gan::cpu::dense_forward<float>(d, Mode::Train, rows, l.x.data(), rp, y.data());
              gan::cpu::dropout_forward<float>(y.size(), dd, y.data());
              gan::cpu::dropout_backward<float>(dz.size(), dd, dz.data());
              gan::cpu::dense_backward<float>(d, rows, l.x.data(), rp, y.data(), dz.data(),
                                              gan::cpu::DenseGradRef<float>{dW.data(), db.data()},
                                              dx.data());
              CHECK(same_bits(out[0].y, y));
              CHECK(same_bits(out[0].dx, dx));
              CHECK(same_bits(out[0].dW, dW));
              CHECK(same_bits(out[0].db, db));
            }
            check_close("y", out[1].y, out[0].y, atol, rtol);
            check_close("dz", out[1].dz, out[0].dz, atol, rtol);
            check_close("dx", out[1].dx, out[0].dx, atol, rtol);
            check_close("dW", out[1].dW, out[0].dW, atol, rtol);
            check_close("db", out[1].db, out[0].db, atol, rtol);
            // The same elements are dropped: a dropped element is exactly 0 in both.
            size_t dropped = 0, mismatched = 0;
            for (size_t e = 0; e < out[0].y.size(); ++e) {
              const bool keep = gan::dropout_keep(9, gan::dropout_stream(counter * 3 + 1), 2, e, p);
              dropped += !keep;
              if (!keep && (out[1].y[e] != 0.0f || out[1].dz[e] != 0.0f)) ++mismatched;
            }
            CHECK(mismatched == 0);
            if (p > 0 && out[0].y.size() >= 100) CHECK(dropped > 0);
          }
}

// ---- optimizer and finiteness ---------------------------------------------------------

TEST_CASE("adam fast: bit-identical to the reference, any length, any thread count") {
  Rng rng(8);
  for (size_t n : {size_t(1), size_t(15), size_t(1001)}) {
    const VecF g = random_vector<float>(rng, n, -1e-2, 1e-2);
    VecF p0 = random_vector<float>(rng, n), m0 = random_vector<float>(rng, n, -1e-3, 1e-3);
    VecF v0 = random_vector<float>(rng, n, 0, 1e-4);
    gan::AdamConfig cfg;
    for (int64_t t : {int64_t(1), int64_t(7), int64_t(100000)}) {
      VecF p = p0, m = m0, v = v0, pf = p0, mf = m0, vf = v0;
      gan::cpu::adam_update<float>(p.data(), g.data(), m.data(), v.data(), n, cfg, t);
      gan::cpu::adam_update_fast(pf.data(), g.data(), mf.data(), vf.data(), n, cfg, t);
      CHECK(same_bits(p, pf));
      CHECK(same_bits(m, mf));
      CHECK(same_bits(v, vf));
    }
    // Through the backends (split over threads), with the step counter.
    for (int threads : {1, 2, 3}) {
      auto ref = backend(1, true), fast = backend(threads, false);
      VecF pr = p0, mr = m0, vr = v0, pf = p0, mf = m0, vf = v0;
      gan::StepCounters cr, cf;
      ref->adam(pr.data(), g.data(), mr.data(), vr.data(), n, cfg, gan::Net::D, &cr);
      fast->adam(pf.data(), g.data(), mf.data(), vf.data(), n, cfg, gan::Net::D, &cf);
      CHECK(same_bits(pr, pf));
      CHECK(same_bits(mr, mf));
      CHECK(same_bits(vr, vf));
      CHECK(cf.adam_step[1] == 1);
      cf.bad_now[1] = 1;  // a failed check skips the update
      fast->adam(pf.data(), g.data(), mf.data(), vf.data(), n, cfg, gan::Net::D, &cf);
      CHECK(same_bits(pr, pf));
      CHECK(cf.skipped[1] == 1);
    }
  }
}

TEST_CASE("check_finite threaded: finds a NaN or infinity anywhere, like the reference") {
  const float inf = std::numeric_limits<float>::infinity();
  const float big = std::numeric_limits<float>::max();
  for (int threads : {1, 2, 3}) {
    auto fast = backend(threads, false), ref = backend(1, true);
    for (size_t n : {size_t(1), size_t(17), size_t(1000)})
      for (size_t where : {size_t(0), n / 2, n - 1})
        for (float bad : {kNaN, inf, -inf, big}) {
          VecF g(n, 0.5f);
          g[where] = bad;
          const float loss = 1.0f;
          gan::StepCounters cf, cr;
          cf.iteration = cr.iteration = 4;
          fast->check_finite(g.data(), n, &loss, gan::Net::G, &cf);
          ref->check_finite(g.data(), n, &loss, gan::Net::G, &cr);
          CHECK(cf.bad_now[0] == (std::isfinite(bad) ? 0 : 1));
          CHECK(cf.bad_now[0] == cr.bad_now[0]);
          CHECK(cf.first_bad_iteration[0] == cr.first_bad_iteration[0]);
        }
    VecF g(10, 0.0f);
    const float nan_loss = kNaN;
    gan::StepCounters c;
    fast->check_finite(g.data(), g.size(), &nan_loss, gan::Net::D, &c);
    CHECK(c.bad_now[1] == 1);
  }
}

// ---- selection and training -----------------------------------------------------------

TEST_CASE("CPU kernel variants: fast defaults, reference selectable, bad names refused") {
  for (const gan::OpVariants& v : backend(1, true)->kernel_variants())
    CHECK(v.selected == (v.op == "gemm" ? "auto" : "reference"));
  auto be = backend(2, false);
  for (const gan::OpVariants& v : be->kernel_variants()) {
    CHECK(v.selected == v.variants.front());
    for (const std::string& name : v.variants) be->select_kernel(v.op, name);
  }
  for (const gan::OpVariants& v : be->kernel_variants())  // the fast variants are the defaults
    if (v.op == "dense_forward" || v.op == "dense_backward" || v.op == "adam")
      CHECK(v.variants.front() == "fast");
  // an unknown variant's error names the known ones
  CHECK_THROWS_WITH_AS(be->select_kernel("dense_forward", "fused"),
                       doctest::Contains("fast, reference"), gan::InputError);
  CHECK_THROWS_AS(be->select_kernel("no_such_op", "fast"), gan::InputError);
  CHECK_THROWS_AS(be->select_kernel("gemm", "avx1024"), gan::InputError);
  gan::CpuOptions bad;
  bad.threads = -1;
  CHECK_THROWS_AS(gan::make_cpu_backend(bad), gan::InputError);
  CHECK(gan::cpu_default_threads() >= 1);
  CHECK(gan::cpu_gemm_description("auto").find("Eigen") == 0);
}

gan::TrainConfig small_config() {
  return gan::test::small_train_config({8, {16, 40}, {33, 12}, 6, 5, 7}, 3);
}

gan::TrainState train(gan::Backend& be, int iterations) {
  const gan::Dataset data = gan::test::random_dataset(70, 6, 5, 99);
  gan::Trainer t(be, small_config());
  t.set_data(data);
  t.init_weights();
  t.begin_epoch(0);
  for (int i = 0; i < iterations; ++i) t.run_iteration();
  return t.state();
}

TEST_CASE("training on the fast variants: the same bits on any thread count, close to the reference") {
  auto fast2 = backend(2, false), fast2b = backend(2, false), fast3 = backend(3, false);
  auto ref = backend(1, true);
  const int iterations = 3;
  const gan::TrainState a = train(*fast2, iterations), b = train(*fast2b, iterations);
  const gan::TrainState c = train(*fast3, iterations), r = train(*ref, iterations);
  for (int q = 0; q < 2; ++q) {
    CHECK(same_bits(a.params[q], b.params[q]));
    CHECK(same_bits(a.adam_v[q], b.adam_v[q]));
    // Adam moves each parameter by at most ~lr per step whatever the gradient's size, so
    // rounding differences in the gradients change parameters by at most 2 lr per step.
    const double lr = std::max(small_config().adam(gan::Net::G).lr, small_config().adam(gan::Net::D).lr);
    CHECK(same_bits(c.params[q], a.params[q]));  // any thread count: the same bits
    check_close("params, reference vs fast", r.params[q], a.params[q], 2 * lr * iterations, 0);
  }
  CHECK(same_bits(a.bn_stats, b.bn_stats));
  check_close("running stats, reference vs fast", r.bn_stats, a.bn_stats, 1e-4, 1e-4);
}

}  // namespace

namespace {

TEST_CASE("CPU backend: the memory budget follows the address-space and data rlimits") {
#if GAN_HAS_ASAN_FEATURE
  MESSAGE("skipped under AddressSanitizer: its shadow memory exceeds any such limit");
  return;
#endif
  const auto be = gan::make_cpu_backend();
  const size_t budget = be->memory_budget();
  REQUIRE(budget > (size_t(64) << 20));
  for (int resource : {RLIMIT_AS, RLIMIT_DATA}) {
    CAPTURE(resource);
    // in a child: a limit of half the budget becomes the budget
    const int status = gan::test::run_in_child([&] {
      struct rlimit r {};
      if (::getrlimit(resource, &r) != 0) return 3;
      r.rlim_cur = budget / 2;
      if (::setrlimit(resource, &r) != 0) return 4;
      return be->memory_budget() == budget / 2 ? 0 : 1;
    });
    CHECK(status == 0);
  }
}

}  // namespace
