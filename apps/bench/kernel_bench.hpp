/*
 * kernel_bench.hpp — `gan_cuda kernel-bench`: every registered variant of every op, checked
 * against the CPU reference and then timed at the shapes of the model.
 *
 * For each op of Backend::kernel_variants() and each of its variants (selected with
 * select_kernel, the original choice restored after), every case of the op — one call at
 * one shape of a training iteration of batch B: each G layer's dense_forward/backward on B
 * rows, each D hidden layer's on 2B rows (D step) and B rows (G step, input gradient only),
 * the D head in both modes, Adam and the finite check over each network's parameters, the
 * shuffle of `images` indices, the gather of a batch, one noise draw — is
 *   1. checked: run once on the backend under test and once on the reference backend from
 *      the same inputs; every output must agree (|got - want| <= atol + rtol |want| for
 *      floats; integers exactly). A case that disagrees is reported and not timed.
 *   2. timed: `repeats` blocks of `calls` calls with Backend::time_ms (CUDA events on CUDA).
 *      The inputs are rotated over copies (at most 1024) that together exceed
 *      `rotate_bytes` (more than the L2 cache of the GPUs we target), so each call starts
 *      with cold caches; only cases under 128 KiB cannot fill that many bytes.
 * Each case reports FLOPs (2 rows in out per matrix product) and compulsory bytes (every
 * input read once, every output written once), from which tools/bench/report.py gives
 * TFLOP/s and GB/s against the measured ceilings. A backward case consumes its dy, so
 * repeated calls see the gradient of the previous call; values stay finite and the time
 * does not depend on them.
 */
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "engine/backend.hpp"
#include "engine/eval/sample_stats.hpp"
#include "engine/train_config.hpp"

namespace gan {

struct KernelBenchSettings {
  int images = 60000;
  int repeats = 30;
  int calls = 10;
  bool tf32 = false;                        // looser tolerances for the matrix products
  std::vector<std::string> ops;             // only these (all when empty)
  size_t rotate_bytes = size_t(128) << 20;  // input copies rotated per case
};

struct KernelCaseResult {
  std::string op, variant, shape;
  double flops = 0, bytes = 0;
  int rotation = 1;    // input copies the calls rotate over
  bool ok = false;     // agreed with the reference
  std::string check;   // "ok", or what disagreed
  SampleSummary us;    // microseconds per call (n = 0 when not timed)
};

// `be` is the backend under test, `ref` the reference (the CPU backend). InputError for an
// op in settings.ops that `be` does not have.
std::vector<KernelCaseResult> bench_kernels(Backend& be, Backend& ref, const TrainConfig& cfg,
                                            const KernelBenchSettings& s);

}  // namespace gan
