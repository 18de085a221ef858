/*
 * kernel_bench.cpp — every variant of every op over its cases, checked and timed
 * (kernel_bench.hpp); the cases are in kernel_cases.cpp, one case's check and timing in
 * run_kernel_case.cpp, the command in kernel_bench_command.cpp.
 */
#include "apps/bench/kernel_bench.hpp"

#include <algorithm>

#include "apps/bench/kernel_cases.hpp"
#include "apps/bench/run_kernel_case.hpp"
#include "engine/base/error.hpp"

namespace gan {

std::vector<KernelCaseResult> bench_kernels(Backend& be, Backend& ref, const TrainConfig& cfg,
                                            const KernelBenchSettings& s) {
  const std::vector<OpVariants> ops = be.kernel_variants();
  for (const std::string& want : s.ops) {
    bool known = false;
    std::string names;
    for (const OpVariants& o : ops) {
      known = known || o.op == want;
      names += (names.empty() ? "" : ", ") + o.op;
    }
    if (!known) GAN_INPUT_FAIL("--op " << want << ": no such op (known: " << names << ")");
  }
  kbench::KernelCases kernel_cases(ref, cfg, s);
  std::vector<KernelCaseResult> results;
  for (const OpVariants& o : ops) {
    if (!s.ops.empty() && std::find(s.ops.begin(), s.ops.end(), o.op) == s.ops.end()) continue;
    const std::vector<kbench::Case> cases = kernel_cases.of(o.op);
    try {
      for (const std::string& variant : o.variants) {
        be.select_kernel(o.op, variant);
        for (const kbench::Case& c : cases)
          results.push_back(kbench::run_case(be, ref, c, variant, s));
      }
    } catch (...) {
      be.select_kernel(o.op, o.selected);
      throw;
    }
    be.select_kernel(o.op, o.selected);
  }
  return results;
}

}  // namespace gan
