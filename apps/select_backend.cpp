/*
 * select_backend.cpp — --device auto|cuda|cpu to a Backend.
 */
#include "apps/app.hpp"

#include "engine/error.hpp"
#include "kernels/cpu/cpu_backend.hpp"
#ifdef GAN_HAVE_CUDA
#include "kernels/cuda/cuda_backend.hpp"
#endif

namespace gan {

std::unique_ptr<Backend> select_backend(const std::string& device, bool tf32, std::ostream& log,
                                        int threads) {
  int devices = 0;
#ifdef GAN_HAVE_CUDA
  devices = cuda_device_count();
#endif
  if (device == "cuda" || (device == "auto" && devices > 0)) {
#ifdef GAN_HAVE_CUDA
    if (devices == 0)
      GAN_INPUT_FAIL("--device cuda: no CUDA device is visible (check the driver and "
                     "CUDA_VISIBLE_DEVICES), or use --device cpu");
    CudaOptions opt;
    opt.tf32 = tf32;
    return make_cuda_backend(opt);
#else
    GAN_INPUT_FAIL("--device cuda: this build has no CUDA backend (configure with GAN_WITH_CUDA=ON)");
#endif
  }
  if (device == "cpu" && tf32) GAN_INPUT_FAIL("--tf32 applies to the CUDA backend only");
  if (device == "auto") {
    log << "no CUDA device found: running on the CPU backend"
        << (tf32 ? " (--tf32 ignored)" : "") << "\n";
  }
  CpuOptions opt;
  opt.threads = threads;
  return make_cpu_backend(opt);
}

}  // namespace gan
