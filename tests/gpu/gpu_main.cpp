/*
 * gpu_main.cpp — main of the GPU test suite (gan_gpu_tests).
 *
 * Without a CUDA device the suite is skipped: it prints why and exits 77 (CTest's
 * SKIP_RETURN_CODE). With REQUIRE_GPU=1 in the environment a missing device is a failure
 * (exit 1), for machines that are supposed to have one. Otherwise doctest runs the cases
 * with the usual command-line options.
 */
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "kernels/cuda/cuda_backend.hpp"
#include "tests/gpu/gpu_test_util.hpp"

int main(int argc, char** argv) {
  if (gan::cuda_device_count() == 0) {
    const char* req = std::getenv("REQUIRE_GPU");
    if (req && std::strcmp(req, "1") == 0) {
      std::printf("no CUDA device, but REQUIRE_GPU=1: GPU tests failed\n");
      return 1;
    }
    std::printf("no CUDA device: GPU tests skipped\n");
    return 77;
  }
  std::printf("GPU: %s\n", gan::cuda_device_description(0).c_str());
  doctest::Context ctx(argc, argv);
  const int status = ctx.run();
  gan::gpu_test::release_backends();
  return status;
}
