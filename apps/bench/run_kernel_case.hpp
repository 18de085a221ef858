/*
 * run_kernel_case.hpp — one case of kernel-bench (kernel_case.hpp) for one variant: checked
 * against the reference backend from the same inputs, then, if it agrees, timed over input
 * copies rotated to exceed KernelBenchSettings::rotate_bytes (kernel_bench.hpp).
 */
#pragma once

#include <string>

#include "apps/bench/kernel_bench.hpp"
#include "apps/bench/kernel_case.hpp"

namespace gan::kbench {

KernelCaseResult run_case(Backend& be, Backend& ref, const Case& c, const std::string& variant,
                          const KernelBenchSettings& s);

}  // namespace gan::kbench
