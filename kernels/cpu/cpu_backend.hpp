/*
 * cpu_backend.hpp — the CPU backend: every op of engine/backend.hpp in C++.
 *
 * Memory is host memory; ops run synchronously (the calling thread plus a pool of
 * CpuOptions::threads - 1 sleeping workers, kernels/cpu/thread_pool.hpp). Each op has the
 * plain reference variant (the oracle the fast variants and the CUDA backend are tested
 * against: column loops in double, one OpenBLAS product per matrix product) and, where it
 * pays, a faster default (`gan_cuda kernels --device cpu`):
 *   dense_forward, dense_backward   fast (linear_bn_act_fast.hpp) | reference; the choice
 *                                   also covers dense_forward_dropout/dense_backward_dropout
 *   adam                            fast (adam_fast.hpp: the same bits, vectorised and
 *                                   threaded) | reference
 *   check_finite                    threaded (a branch-free scan, split) | reference
 *   d_head, shuffle, gather, noise  reference
 *   gemm                            auto | avx512 | avx2 | sse2: the instruction set of the
 *                                   fast variants' matrix products (gemm_fast.hpp)
 * Backend::matmul (the evaluation's products) uses the reference product.
 */
#pragma once

#include <memory>
#include <string>

#include "engine/backend.hpp"

namespace gan {

struct CpuOptions {
  int threads = 0;  // threads of the fast ops; 0: the cores this process may use
};

std::unique_ptr<Backend> make_cpu_backend(const CpuOptions& opt);
std::unique_ptr<Backend> make_cpu_backend();  // default options
// The oracle: every op at its "reference" variant (gemm stays "auto"; only the fast
// variants use it).
std::unique_ptr<Backend> make_cpu_reference_backend(const CpuOptions& opt = {});

// The default thread count: the cores this process may run on.
int cpu_default_threads();
// "Eigen 3.4.0 SGEMM, avx512": the product library and the instruction set that a gemm
// variant ("auto", "avx512", ...) runs on this CPU (InputError if it lacks it).
std::string cpu_gemm_description(const std::string& variant);

}  // namespace gan
