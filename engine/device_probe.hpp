/*
 * device_probe.hpp — what the CUDA runtime says about a machine's devices, sorted into the
 * two cases the program treats differently:
 *   - nothing to run on, a fact of the machine and not a fault: cudaGetDeviceCount answers
 *     cudaErrorNoDevice, or cudaErrorInsufficientDriver while cudaDriverGetVersion reports
 *     0 (no NVIDIA driver is installed at all: what a machine without a GPU answers);
 *   - a fault: every other error (a driver older than the runtime, a stub driver library,
 *     a device in a bad state...), reported with the CUDA error's name and text.
 * CUDA-free: kernels/cuda fills CudaRuntimeAnswer (probe_cuda_devices), and the app
 * (--device auto) and the GPU test suite (skip or fail) read the DeviceProbe.
 */
#pragma once

#include <string>

namespace gan {

// The raw answers of the CUDA runtime.
struct CudaRuntimeAnswer {
  bool ok = false;                   // cudaGetDeviceCount returned cudaSuccess
  int devices = 0;                   // the count it returned (when ok)
  std::string error_name;            // "cudaErrorNoDevice", ... (when not ok)
  std::string error_text;            // cudaGetErrorString of it
  bool error_is_no_device = false;   // the error is cudaErrorNoDevice
  bool error_is_old_driver = false;  // the error is cudaErrorInsufficientDriver
  int driver_version = 0;            // cudaDriverGetVersion: 0 where no driver is installed
  int runtime_version = 0;           // cudaRuntimeGetVersion
};

struct DeviceProbe {
  int devices = 0;        // usable CUDA devices
  std::string no_device;  // where devices == 0 and that is no fault: why, in a few words
  std::string error;      // where CUDA failed: the error's name and text, and the versions
  bool failed() const { return !error.empty(); }
};

DeviceProbe classify_cuda_answer(const CudaRuntimeAnswer& a);

// "13.0" from CUDA's 1000 * major + 10 * minor.
std::string cuda_version_text(int version);

}  // namespace gan
