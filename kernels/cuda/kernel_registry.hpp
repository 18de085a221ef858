/*
 * kernel_registry.hpp — the one table of CUDA kernel variants, per op.
 *
 * Each op of the backend has one or more named variants; the first is the default:
 *   dense_forward   fused (default) | unfused
 *   dense_backward  fused (default) | unfused
 *   d_head          fused (default) | unfused
 *   adam            flat;  check_finite  flag;  shuffle  radix_sort;  gather  direct;
 *   noise           philox
 * The backend dispatches through it, `gan_cuda kernels` lists it, `--kernel OP=VARIANT`
 * selects in it, and the GPU tests and benchmarks iterate it, so a variant exists in one
 * place only. Plain C++ (no CUDA headers).
 * The training options' ops (dense_forward_dropout, dense_backward_dropout, ema_update) have
 * one kernel each and are called directly (cuda_ops.hpp); d_head_smoothed follows the
 * d_head variant selected here.
 */
#pragma once

#include <string>
#include <vector>

#include "engine/backend.hpp"
#include "kernels/cuda/cuda_ops.hpp"

namespace gan::gpu {

using DenseForwardFn = decltype(&dense_forward_fused);
using DenseBackwardFn = decltype(&dense_backward_fused);
using DHeadFn = decltype(&d_head_fused);
using AdamFn = decltype(&adam_flat);
using CheckFiniteFn = decltype(&check_finite_flag);
using ShuffleFn = decltype(&shuffle_radix);
using GatherFn = decltype(&gather_direct);
using NoiseFn = decltype(&noise_philox);

template <typename Fn>
struct KernelVariant {
  const char* name;
  const char* summary;  // one line: what this variant does differently
  Fn fn;
};

class KernelRegistry {
 public:
  KernelRegistry();  // every op at its default variant

  // Every op with its variants (default first) and the selected one.
  std::vector<OpVariants> list() const;
  // Throws InputError naming the known ops, or the op's valid variants.
  void select(const std::string& op, const std::string& variant);
  std::string selected(const std::string& op) const;  // InputError for an unknown op
  // The one-line summary of a variant ("" when unknown).
  static std::string summary(const std::string& op, const std::string& variant);

  DenseForwardFn dense_forward() const;
  DenseBackwardFn dense_backward() const;
  DHeadFn d_head() const;
  AdamFn adam() const;
  CheckFiniteFn check_finite() const;
  ShuffleFn shuffle() const;
  GatherFn gather() const;
  NoiseFn noise() const;

 private:
  size_t op_index(const std::string& op) const;  // InputError for an unknown op
  std::vector<size_t> selected_;                   // per op, index of the chosen variant
};

}  // namespace gan::gpu
