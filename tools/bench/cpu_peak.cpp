/*
 * cpu_peak.cpp — this CPU's FP32 multiply-add ceiling, for the CPU benchmark's "% of peak".
 *
 *   gan_cpu_peak [--threads N] [--seconds S] [--json FILE]
 *
 * Each of N threads (default: the cores this process may use) runs a loop of independent
 * fused multiply-adds on 16 vector accumulators (enough to cover the FMA latency times the
 * FMA ports of current x86 cores) for S seconds (default 0.5), in the widest instruction set
 * the CPU has: AVX-512 (16 floats per FMA), AVX2+FMA (8), else SSE2 multiply + add (4 lanes,
 * 2 FLOPs per lane and pair). Peak = 2 x lanes x FMAs executed / wall time, summed over the
 * threads running at once: a measured ceiling at this moment's clock (so it includes turbo
 * or a shared machine's contention), not a datasheet number. Prints one line and, with
 * --json, {"isa", "threads", "seconds", "gflop_per_s", "gflop_per_s_per_thread"}.
 */
#include <immintrin.h>
#include <pthread.h>
#include <sched.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

namespace {

constexpr int kAcc = 16;
constexpr long kInner = 1 << 14;  // FMA rounds between clock reads

__attribute__((target("avx512f"))) double run_avx512(double seconds, volatile float* sink) {
  __m512 acc[kAcc];
  for (int i = 0; i < kAcc; ++i) acc[i] = _mm512_set1_ps(0.001f * i);
  const __m512 a = _mm512_set1_ps(0.999999f), b = _mm512_set1_ps(1e-7f);
  long rounds = 0;
  const auto t0 = std::chrono::steady_clock::now();
  double el = 0;
  do {
    for (long r = 0; r < kInner; ++r)
      for (int i = 0; i < kAcc; ++i) acc[i] = _mm512_fmadd_ps(acc[i], a, b);
    rounds += kInner;
    el = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  } while (el < seconds);
  float out[16], s = 0;
  for (int i = 0; i < kAcc; ++i) {
    _mm512_storeu_ps(out, acc[i]);
    for (float v : out) s += v;
  }
  *sink = s;
  return 2.0 * 16 * kAcc * double(rounds) / el;
}

__attribute__((target("avx2,fma"))) double run_avx2(double seconds, volatile float* sink) {
  __m256 acc[kAcc];
  for (int i = 0; i < kAcc; ++i) acc[i] = _mm256_set1_ps(0.001f * i);
  const __m256 a = _mm256_set1_ps(0.999999f), b = _mm256_set1_ps(1e-7f);
  long rounds = 0;
  const auto t0 = std::chrono::steady_clock::now();
  double el = 0;
  do {
    for (long r = 0; r < kInner; ++r)
      for (int i = 0; i < kAcc; ++i) acc[i] = _mm256_fmadd_ps(acc[i], a, b);
    rounds += kInner;
    el = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  } while (el < seconds);
  float out[8], s = 0;
  for (int i = 0; i < kAcc; ++i) {
    _mm256_storeu_ps(out, acc[i]);
    for (float v : out) s += v;
  }
  *sink = s;
  return 2.0 * 8 * kAcc * double(rounds) / el;
}

double run_sse2(double seconds, volatile float* sink) {
  __m128 acc[kAcc];
  for (int i = 0; i < kAcc; ++i) acc[i] = _mm_set1_ps(0.001f * i);
  const __m128 a = _mm_set1_ps(0.999999f), b = _mm_set1_ps(1e-7f);
  long rounds = 0;
  const auto t0 = std::chrono::steady_clock::now();
  double el = 0;
  do {
    for (long r = 0; r < kInner; ++r)
      for (int i = 0; i < kAcc; ++i) acc[i] = _mm_add_ps(_mm_mul_ps(acc[i], a), b);
    rounds += kInner;
    el = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  } while (el < seconds);
  float out[4], s = 0;
  for (int i = 0; i < kAcc; ++i) {
    _mm_storeu_ps(out, acc[i]);
    for (float v : out) s += v;
  }
  *sink = s;
  return 2.0 * 4 * kAcc * double(rounds) / el;
}

int usage(const char* msg) {
  std::fprintf(stderr, "gan_cpu_peak: %s\nusage: gan_cpu_peak [--threads N] [--seconds S] "
                       "[--json FILE]\n", msg);
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  cpu_set_t set;
  CPU_ZERO(&set);
  int threads = sched_getaffinity(0, sizeof(set), &set) == 0 ? CPU_COUNT(&set) : 1;
  double seconds = 0.5;
  std::string json;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (i + 1 >= argc) return usage(("missing value after " + a).c_str());
    char* end = nullptr;
    if (a == "--threads") {
      threads = int(std::strtol(argv[++i], &end, 10));
      if (*end || threads < 1 || threads > 4096) return usage("--threads must be 1..4096");
    } else if (a == "--seconds") {
      seconds = std::strtod(argv[++i], &end);
      if (*end || !(seconds > 0 && seconds <= 60)) return usage("--seconds must be in (0, 60]");
    } else if (a == "--json") {
      json = argv[++i];
    } else {
      return usage(("unknown flag " + a).c_str());
    }
  }
  __builtin_cpu_init();
  const bool avx512 = __builtin_cpu_supports("avx512f");
  const bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  const char* isa = avx512 ? "avx512" : avx2 ? "avx2" : "sse2";
  std::vector<double> rate(size_t(threads), 0.0);
  std::vector<std::thread> team;
  std::atomic<int> ready{0};
  for (int t = 0; t < threads; ++t)
    team.emplace_back([&, t] {
      volatile float sink = 0;
      ready.fetch_add(1);
      while (ready.load() < threads) {
      }  // start together
      rate[t] = avx512 ? run_avx512(seconds, &sink)
                       : avx2 ? run_avx2(seconds, &sink) : run_sse2(seconds, &sink);
    });
  for (std::thread& th : team) th.join();
  double total = 0;
  for (double r : rate) total += r;
  std::printf("peak FP32 %s x %d threads: %.1f GFLOP/s (%.1f per thread)\n", isa, threads,
              total / 1e9, total / 1e9 / threads);
  if (!json.empty()) {
    FILE* f = std::fopen(json.c_str(), "w");
    if (!f) return usage(("cannot write " + json).c_str());
    std::fprintf(f,
                 "{\"isa\": \"%s\", \"threads\": %d, \"seconds\": %g, \"gflop_per_s\": %.3f, "
                 "\"gflop_per_s_per_thread\": %.3f}\n",
                 isa, threads, seconds, total / 1e9, total / 1e9 / threads);
    if (std::fclose(f) != 0) return usage(("cannot write " + json).c_str());
  }
  return 0;
}
