/*
 * cuda_check.cuh — error checks for every CUDA runtime call, cuBLAS call and kernel launch.
 *
 *   CUDA_CHECK(cudaMemcpyAsync(...));     throws gan::Error unless the call returns cudaSuccess
 *   CUBLAS_CHECK(cublasSgemm(...));       throws gan::Error unless CUBLAS_STATUS_SUCCESS
 *   kernel<<<grid, block, 0, s>>>(...);
 *   LAUNCH_CHECK("kernel");               cudaGetLastError() after the launch
 *
 * The message holds the call text, the error's name and description, and file:line, so a
 * failure on a remote GPU can be read from the log alone.
 */
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <string>

#include "engine/base/error.hpp"

namespace gan::gpu {

[[noreturn]] inline void throw_cuda(const char* file, int line, const char* what, cudaError_t e) {
  throw_error(file, line,
              std::string("CUDA error in ") + what + ": " + cudaGetErrorName(e) + " (" +
                  cudaGetErrorString(e) + ")");
}

[[noreturn]] inline void throw_cublas(const char* file, int line, const char* what,
                                      cublasStatus_t s) {
  throw_error(file, line,
              std::string("cuBLAS error in ") + what + ": " + cublasGetStatusName(s) + " (" +
                  cublasGetStatusString(s) + ")");
}

}  // namespace gan::gpu

#define CUDA_CHECK(call)                                                      \
  do {                                                                        \
    const cudaError_t gan_cuda_err_ = (call);                                 \
    if (gan_cuda_err_ != cudaSuccess)                                         \
      ::gan::gpu::throw_cuda(__FILE__, __LINE__, #call, gan_cuda_err_);       \
  } while (0)

#define CUBLAS_CHECK(call)                                                    \
  do {                                                                        \
    const cublasStatus_t gan_cublas_st_ = (call);                             \
    if (gan_cublas_st_ != CUBLAS_STATUS_SUCCESS)                              \
      ::gan::gpu::throw_cublas(__FILE__, __LINE__, #call, gan_cublas_st_);    \
  } while (0)

// After a <<<...>>> launch: reports a bad configuration (grid, shared memory) or an
// earlier asynchronous fault at the launch that revealed it.
#define LAUNCH_CHECK(kernel_name)                                                       \
  do {                                                                                  \
    const cudaError_t gan_launch_err_ = cudaGetLastError();                             \
    if (gan_launch_err_ != cudaSuccess)                                                 \
      ::gan::gpu::throw_cuda(__FILE__, __LINE__, "launch of " kernel_name,              \
                             gan_launch_err_);                                          \
  } while (0)
