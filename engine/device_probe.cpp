/*
 * device_probe.cpp — sorting the CUDA runtime's answer into devices, no device, or a fault.
 */
#include "engine/device_probe.hpp"

namespace gan {

std::string cuda_version_text(int version) {
  return std::to_string(version / 1000) + "." + std::to_string(version % 1000 / 10);
}

DeviceProbe classify_cuda_answer(const CudaRuntimeAnswer& a) {
  DeviceProbe p;
  if (a.ok && a.devices > 0) {
    p.devices = a.devices;
    return p;
  }
  if (a.ok) {
    p.no_device = "the CUDA runtime reports 0 devices";
    return p;
  }
  const std::string what = a.error_name + " (" + a.error_text + ")";
  if (a.error_is_no_device) {
    p.no_device = what;
    return p;
  }
  if (a.error_is_old_driver && a.driver_version == 0) {
    p.no_device = "no NVIDIA driver is installed";
    return p;
  }
  p.error = "cudaGetDeviceCount failed: " + what + "; driver supports CUDA " +
            (a.driver_version > 0 ? cuda_version_text(a.driver_version) : std::string("(none)")) +
            ", runtime is CUDA " + cuda_version_text(a.runtime_version);
  return p;
}

}  // namespace gan
