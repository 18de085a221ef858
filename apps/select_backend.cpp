/*
 * select_backend.cpp — --device auto|cuda|cpu to a Backend. Only a machine without a device
 * (or without a driver) makes --device auto fall back to the CPU; a CUDA failure is an error.
 */
#include "apps/app.hpp"

#include "engine/base/error.hpp"
#include "kernels/cpu/cpu_backend.hpp"
#ifdef GAN_HAVE_CUDA
#include "kernels/cuda/cuda_backend.hpp"
#endif

namespace gan {

bool choose_cuda(const std::string& device, bool tf32, bool cuda_built, const DeviceProbe& probe,
                 std::ostream& log) {
  if (device == "cpu") {
    if (tf32) GAN_INPUT_FAIL("--tf32 applies to the CUDA backend only");
    return false;
  }
  if (!cuda_built) {
    if (device == "cuda")
      GAN_INPUT_FAIL("--device cuda: this build has no CUDA backend (configure with "
                     "GAN_WITH_CUDA=ON)");
    log << "no CUDA device found: running on the CPU backend (this build has no "
           "CUDA backend)" << (tf32 ? "; --tf32 ignored" : "") << "\n";
    return false;
  }
  if (probe.failed())
    GAN_FAIL("--device " << device << ": CUDA does not work on this machine: " << probe.error
                         << " (fix the driver, or run on the CPU with --device cpu)");
  if (probe.devices > 0) return true;
  if (device == "cuda")
    GAN_INPUT_FAIL("--device cuda: no CUDA device is visible (" << probe.no_device
                   << "; check the driver and CUDA_VISIBLE_DEVICES), or use --device cpu");
  log << "no CUDA device found: running on the CPU backend (" << probe.no_device << ")"
      << (tf32 ? "; --tf32 ignored" : "") << "\n";
  return false;
}

std::unique_ptr<Backend> select_backend(const std::string& device, bool tf32, std::ostream& log,
                                        int threads) {
  bool cuda_built = false;
  DeviceProbe probe;
#ifdef GAN_HAVE_CUDA
  cuda_built = true;
  if (device != "cpu") probe = probe_cuda_devices();
#endif
  if (choose_cuda(device, tf32, cuda_built, probe, log)) {
#ifdef GAN_HAVE_CUDA
    CudaOptions opt;
    opt.tf32 = tf32;
    return make_cuda_backend(opt);
#endif
  }
  CpuOptions opt;
  opt.threads = threads;
  return make_cpu_backend(opt);
}

}  // namespace gan
