/*
 * cuda_backend.hpp — the CUDA backend: every op of engine/backend.hpp as fused CUDA kernels.
 *
 * Plain C++ (no CUDA headers), so the app and the tests can include it. Everything lives on
 * one device and runs on one stream; matrix products go through one cuBLAS handle (FP32
 * unless CudaOptions::tf32); the kernels are chosen per op from the registry in
 * kernels/cuda/kernel_registry.hpp (Backend::kernel_variants / select_kernel).
 */
#pragma once

#include <memory>
#include <string>

#include "engine/backend.hpp"
#include "engine/device_probe.hpp"

namespace gan {

struct CudaOptions {
  int device = 0;
  bool tf32 = false;  // let cuBLAS use TF32 tensor cores for the FP32 matrix products
};

// What the CUDA runtime says about this machine's devices: a count, no device (no device or
// no driver: devices == 0, no_device says why), or a CUDA failure (error names it).
DeviceProbe probe_cuda_devices();

// Number of usable CUDA devices: 0 where the machine has none (no device or no driver);
// throws gan::Error naming the CUDA error where the driver or a device fails.
int cuda_device_count();

// "NVIDIA H200 (sm_90, 139 GiB)". Throws gan::Error for a device that does not exist.
std::string cuda_device_description(int device);

// Throws InputError when opt.device does not exist, gan::Error when CUDA fails.
std::unique_ptr<Backend> make_cuda_backend(const CudaOptions& opt);

}  // namespace gan
