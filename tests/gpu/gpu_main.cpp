/*
 * gpu_main.cpp — main of the GPU test suite (gan_gpu_tests).
 *
 * tests/support/gpu_suite_gate.hpp decides from the CUDA runtime's answer: without a device (or
 * without a driver) the suite is skipped, printing why and exiting 77 (CTest's
 * SKIP_RETURN_CODE), or fails (exit 1) with REQUIRE_GPU=1 in the environment; any other
 * CUDA error fails, naming it. Otherwise doctest runs the cases with the usual options,
 * then the largest difference from the CPU of each named comparison is printed.
 */
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "kernels/cuda/cuda_backend.hpp"
#include "tests/gpu/gpu_test_util.hpp"
#include "tests/support/gpu_suite_gate.hpp"

int main(int argc, char** argv) {
  const char* req = std::getenv("REQUIRE_GPU");
  const gan::test::GpuSuiteGate gate =
      gan::test::gpu_suite_gate(gan::probe_cuda_devices(), req && std::strcmp(req, "1") == 0);
  if (!gate.run) {
    std::printf("%s\n", gate.line.c_str());
    return gate.exit_code;
  }
  std::printf("GPU: %s\n", gan::cuda_device_description(0).c_str());
  doctest::Context ctx(argc, argv);
  const int status = ctx.run();
  if (!gan::gpu_test::max_diffs().empty()) {
    std::printf("largest GPU-CPU differences per comparison (|diff|, |diff|/tolerance, ulps, "
                "elements):\n");
    for (const auto& [what, d] : gan::gpu_test::max_diffs())
      std::printf("  %-32s %.3g  %.3g  %lld  %zu\n", what.c_str(), d.abs, d.of_tol,
                  static_cast<long long>(d.ulps), d.elements);
  }
  gan::gpu_test::release_backends();
  return status;
}
