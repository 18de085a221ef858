/*
 * cuda_context.cuh — what every CUDA launcher runs with: the stream, the cuBLAS handle and
 * the device memory that ops use as temporaries.
 *
 * DeviceBuffer grows on demand and is reused across ops: ops on one stream run in issue
 * order, so a temporary is never read by one op while the next writes it. Growing drops the
 * old allocation and makes a larger one (synchronising the device), which a CUDA graph
 * capture forbids: growth during a capture throws, telling the caller to run the op once
 * before capturing. The allocation is shared: a captured graph holds the buffers it may
 * reach (CudaCtx::graph_memory), so growing after a capture never frees memory a live
 * graph still reads; the old allocation goes when the last graph holding it does. The
 * backend sizes the general scratch generously at start, so growth concerns unusual sizes.
 *
 * Also here: grid sizing for grid-stride loops, and cuda_malloc(), which reports an
 * out-of-memory failure with the bytes asked and the device's free/total memory.
 */
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "engine/base/error.hpp"
#include "kernels/cuda/cuda_check.cuh"

namespace gan::gpu {

// cudaMalloc, or gan::Error naming the size asked and the memory left on the device.
inline void* cuda_malloc(size_t bytes, const char* what) {
  void* p = nullptr;
  const cudaError_t e = cudaMalloc(&p, bytes ? bytes : 1);
  if (e == cudaSuccess) return p;
  (void)cudaGetLastError();  // allocation failures are not sticky: clear the error state
  size_t free_b = 0, total_b = 0;
  const bool info = cudaMemGetInfo(&free_b, &total_b) == cudaSuccess;
  (void)cudaGetLastError();
  constexpr double MiB = 1024.0 * 1024.0;
  if (e == cudaErrorMemoryAllocation && info)
    GAN_FAIL("CUDA out of memory allocating " << what << ": asked for " << bytes << " bytes ("
                                              << bytes / MiB << " MiB), the device has "
                                              << free_b / MiB << " MiB free of "
                                              << total_b / MiB << " MiB");
  throw_cuda(__FILE__, __LINE__, "cudaMalloc", e);
}

inline bool stream_is_capturing(cudaStream_t s) {
  cudaStreamCaptureStatus st = cudaStreamCaptureStatusNone;
  CUDA_CHECK(cudaStreamIsCapturing(s, &st));
  return st != cudaStreamCaptureStatusNone;
}

// Device memory that only grows. get() returns at least `bytes` (contents undefined).
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  ~DeviceBuffer() { release(); }

  void* get(size_t bytes, cudaStream_t s, const char* what) {
    if (bytes <= size_ && p_) return p_.get();
    if (stream_is_capturing(s))
      GAN_FAIL(what << " needs " << bytes << " bytes of temporary device memory (" << size_
                    << " held) while a CUDA graph is being captured; run the same op once "
                       "before capturing so the memory exists");
    CUDA_CHECK(cudaStreamSynchronize(s));  // eager ops issued before may still use it
    release();  // freed here unless a captured graph still holds it
    const size_t grown = std::max(bytes, size_ + size_ / 2);
    // shared_ptr frees the memory itself should its own allocation fail
    p_ = std::shared_ptr<void>(cuda_malloc(grown, what), [](void* p) { (void)cudaFree(p); });
    size_ = grown;
    return p_.get();
  }
  size_t size() const { return size_; }
  // The current allocation (null if none), for a graph that may reach it to hold.
  std::shared_ptr<void> share() const { return p_; }
  void release() noexcept {
    p_.reset();
    size_ = 0;
  }

 private:
  std::shared_ptr<void> p_;
  size_t size_ = 0;
};

// Per-network scalars of the Adam update, computed on the device before the update.
struct AdamScalars {
  int skip = 0;  // 1: bad_now was set, the update is skipped
  float step_size = 0;
  float bc2_sqrt = 1;
};

// Small fixed device state: allocated once, zero-filled.
struct FixedState {
  int finite_flag[2];  // set by the finite-check scan, consumed (and reset) by its finisher
  AdamScalars adam[2];
};

struct CudaCtx {
  int device = 0;
  int num_sms = 1;
  cudaStream_t stream = nullptr;
  cublasHandle_t blas = nullptr;
  FixedState* fixed = nullptr;  // device memory
  DeviceBuffer scratch;         // per-op temporaries
  DeviceBuffer sort_keys_in, sort_keys_out, sort_values_in, sort_temp;  // shuffle

  // Blocks for a grid-stride loop over n items: enough to fill the device, no more.
  unsigned grid_for(size_t n, int threads) const {
    const size_t need = (n + threads - 1) / threads;
    const size_t cap = static_cast<size_t>(num_sms) * 16;
    return static_cast<unsigned>(std::max<size_t>(1, std::min(need, cap)));
  }
  // The temporaries a graph captured now may reach, for it to hold while it lives.
  std::vector<std::shared_ptr<void>> graph_memory() const {
    std::vector<std::shared_ptr<void>> held;
    for (const DeviceBuffer* b : {&scratch, &sort_keys_in, &sort_keys_out, &sort_values_in,
                                  &sort_temp})
      if (auto p = b->share()) held.push_back(std::move(p));
    return held;
  }
  template <typename T>
  T* scratch_as(size_t count, const char* what) {
    return static_cast<T*>(scratch.get(count * sizeof(T), stream, what));
  }
};

}  // namespace gan::gpu
