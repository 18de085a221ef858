/*
 * gpu_suite_gate.hpp — whether the GPU test suite runs, is skipped or fails on a machine,
 * from what the CUDA runtime says (engine/device_probe.hpp):
 *   - devices present: run (and print the device);
 *   - no device or no driver: skipped, exit 77 (CTest's SKIP_RETURN_CODE), unless
 *     REQUIRE_GPU=1 says the machine is supposed to have one: then a failure, exit 1;
 *   - any other CUDA error (a driver too old for the runtime, ...): a failure, exit 1,
 *     naming the error, never a skip.
 * CUDA-free, so that the CPU suite tests it too.
 */
#pragma once

#include <string>

#include "engine/device_probe.hpp"

namespace gan::test {

struct GpuSuiteGate {
  bool run = false;   // run the test cases
  int exit_code = 0;  // otherwise: exit with this (77 skipped, 1 failed)
  std::string line;   // what to print
};

inline GpuSuiteGate gpu_suite_gate(const DeviceProbe& p, bool require_gpu) {
  if (p.failed()) return {false, 1, "CUDA error: " + p.error + ": GPU tests failed"};
  if (p.devices > 0) return {true, 0, ""};
  if (require_gpu)
    return {false, 1, "no CUDA device (" + p.no_device + "), but REQUIRE_GPU=1: GPU tests failed"};
  return {false, 77, "no CUDA device (" + p.no_device + "): GPU tests skipped"};
}

}  // namespace gan::test
