/*
 * kernel_cases.hpp — the cases of each op of `gan_cuda kernel-bench` (kernel_bench.hpp) at the
 * shapes of one training iteration: each G layer's dense_forward/backward on B rows, each D
 * hidden layer's on 2B and B rows, the D head in both modes, Adam and the finite check over
 * each network's parameters, the shuffle, the gather of a batch, one noise draw. Inputs come
 * from one seeded generator, drawn in the order the ops are asked for.
 */
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "apps/bench/kernel_bench.hpp"
#include "apps/bench/kernel_case.hpp"

namespace gan::kbench {

struct CaseBuilder;

class KernelCases {
 public:
  // `ref` computes inputs that must be consistent (e.g. a backward's saved forward state).
  KernelCases(Backend& ref, const TrainConfig& cfg, const KernelBenchSettings& s);
  ~KernelCases();
  KernelCases(const KernelCases&) = delete;
  KernelCases& operator=(const KernelCases&) = delete;
  // The cases of `op` (none for an op it does not know).
  std::vector<Case> of(const std::string& op);

 private:
  std::unique_ptr<CaseBuilder> builder_;
};

}  // namespace gan::kbench
