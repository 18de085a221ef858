/*
 * kernel_bench_command.cpp — `gan_cuda kernel-bench`: bench_kernels (kernel_bench.hpp) on the
 * chosen backend against the CPU reference, one line per case and optionally a JSON report.
 */
#include <iomanip>
#include <nlohmann/json.hpp>

#include "apps/app.hpp"
#include "apps/bench/kernel_bench.hpp"
#include "engine/io/atomic_file.hpp"
#include "kernels/cpu/cpu_backend.hpp"

namespace gan {

int run_kernel_bench(const KernelBenchOptions& opt, std::ostream& out) {
  const auto be = select_backend(opt.device, opt.tf32, out, opt.threads);
  const auto ref = make_cpu_reference_backend();
  TrainConfig cfg;
  cfg.batch_size = opt.batch;
  cfg.validate();
  KernelBenchSettings s;
  s.images = opt.images;
  s.repeats = opt.repeats;
  s.calls = opt.calls;
  s.tf32 = opt.tf32;
  s.ops = opt.ops;
  const std::vector<KernelCaseResult> results = bench_kernels(*be, *ref, cfg, s);

  out << "kernel-bench on " << be->name() << ", batch " << opt.batch
      << (opt.tf32 ? ", TF32" : ", FP32") << " (us per call: median [p10, p90])\n";
  nlohmann::json cases = nlohmann::json::array();
  int failed = 0;
  for (const KernelCaseResult& r : results) {
    out << "  " << std::left << std::setw(15) << r.op << std::setw(11) << r.variant
        << std::setw(38) << r.shape;
    nlohmann::json j = {{"op", r.op},       {"variant", r.variant}, {"shape", r.shape},
                        {"flops", r.flops}, {"bytes", r.bytes},     {"rotation", r.rotation},
                        {"ok", r.ok},       {"check", r.check}};
    if (r.ok) {
      const double s_per_call = r.us.median * 1e-6;
      out << std::fixed << std::setprecision(2) << std::right << std::setw(10) << r.us.median
          << " [" << r.us.p10 << ", " << r.us.p90 << "]  " << std::setprecision(1)
          << r.bytes / s_per_call * 1e-9 << " GB/s";
      if (r.flops > 0) out << "  " << std::setprecision(2) << r.flops / s_per_call * 1e-12
                           << " TFLOP/s";
      out << std::defaultfloat << "\n";
      j["us_per_call"] = {{"n", r.us.n},       {"median", r.us.median}, {"p10", r.us.p10},
                          {"p90", r.us.p90},   {"mean", r.us.mean},     {"min", r.us.min},
                          {"max", r.us.max}};
      j["gb_per_s"] = r.bytes / s_per_call * 1e-9;
      j["tflop_per_s"] = r.flops / s_per_call * 1e-12;
    } else {
      ++failed;
      out << "  CHECK FAILED: " << r.check << "\n";
    }
    cases.push_back(j);
  }
  if (!opt.json.empty()) {
    nlohmann::json j = {{"program", "gan_cuda kernel-bench"},
                        {"backend", be->name()},
                        {"device", be->is_cuda() ? "cuda" : "cpu"},
                        {"batch", opt.batch},
                        {"tf32", opt.tf32},
                        {"repeats", opt.repeats},
                        {"calls", opt.calls},
                        {"failed", failed},
                        {"cases", cases}};
    write_file_atomic(opt.json, j.dump(1) + "\n");
  }
  out << results.size() << " cases, " << failed << " failed the check against the reference\n";
  return failed ? 1 : 0;
}

}  // namespace gan
