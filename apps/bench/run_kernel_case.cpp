/*
 * run_kernel_case.cpp — checks one kernel-bench case against the reference and times it
 * (run_kernel_case.hpp).
 */
#include "apps/bench/run_kernel_case.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <iomanip>
#include <memory>
#include <sstream>
#include <vector>

namespace gan::kbench {

namespace {

constexpr size_t kMaxCopies = 1024;  // input copies a case rotates over, at most

// "" when every output agrees, else what disagrees first.
std::string compare(const Case& c, CaseBuffers& got, CaseBuffers& want) {
  std::ostringstream os;
  os << std::setprecision(9);
  for (size_t i = 0; i < c.arrays.size(); ++i) {
    const Array& a = c.arrays[i];
    if (!a.output) continue;
    const std::vector<uint8_t> g = got.download(c, i), w = want.download(c, i);
    if (a.elem != Elem::F32) {
      if (g != w) {
        size_t at = 0;
        while (at < g.size() && g[at] == w[at]) ++at;
        os << a.name << " differs from the reference (first at byte " << at << " of "
           << g.size() << ")";
        return os.str();
      }
      continue;
    }
    const size_t n = g.size() / sizeof(float);
    std::vector<float> gf(n), wf(n);
    if (n) {
      std::memcpy(gf.data(), g.data(), n * sizeof(float));
      std::memcpy(wf.data(), w.data(), n * sizeof(float));
    }
    size_t bad = 0, first = 0;
    for (size_t k = 0; k < n; ++k) {
      const double x = gf[k], y = wf[k];
      if (!(std::abs(x - y) <= a.tol.atol + a.tol.rtol * std::abs(y)) && bad++ == 0) first = k;
    }
    if (bad) {
      os << a.name << ": " << bad << " of " << n << " elements differ; first [" << first
         << "]: got " << gf[first] << ", reference " << wf[first] << " (atol " << a.tol.atol
         << ", rtol " << a.tol.rtol << ")";
      return os.str();
    }
  }
  return "";
}

}  // namespace

KernelCaseResult run_case(Backend& be, Backend& ref, const Case& c, const std::string& variant,
                          const KernelBenchSettings& s) {
  KernelCaseResult r;
  r.op = c.op;
  r.variant = variant;
  r.shape = c.shape;
  r.flops = c.flops;
  r.bytes = c.bytes;
  {
    CaseBuffers got(be, c), want(ref, c);
    c.issue(be, got.ptr);
    c.issue(ref, want.ptr);
    be.synchronize();
    r.check = compare(c, got, want);
  }
  r.ok = r.check.empty();
  if (!r.ok) return r;
  r.check = "ok";
  const size_t total = std::max<size_t>(c.total_bytes(), 1);
  r.rotation =
      static_cast<int>(std::clamp<size_t>((s.rotate_bytes + total - 1) / total, 1, kMaxCopies));
  std::vector<std::unique_ptr<CaseBuffers>> sets;
  for (int i = 0; i < r.rotation; ++i) sets.push_back(std::make_unique<CaseBuffers>(be, c));
  size_t next = 0;
  auto block = [&] {
    for (int k = 0; k < s.calls; ++k) c.issue(be, sets[next++ % sets.size()]->ptr);
  };
  be.time_ms(block);  // warm-up
  std::vector<double> us;
  for (int i = 0; i < s.repeats; ++i) us.push_back(be.time_ms(block) * 1000.0 / s.calls);
  r.us = summarize(us);
  return r;
}

}  // namespace gan::kbench
