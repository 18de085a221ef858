/*
 * data_pipeline.cu — the data side of an iteration on the GPU: per-epoch shuffle, batch
 * gather, Gaussian noise, and the end-of-iteration counter update (the CPU reference is
 * kernels/cpu/data_pipeline_cpu.cpp; both draw from engine/philox.h, so they agree bit for
 * bit — noise up to a rounding tie of the double-precision Box-Muller).
 *
 *   shuffle   perm = 0..n-1 sorted stably by key philox_u32(seed, Shuffle:epoch, i):
 *             a key kernel, then cub::DeviceRadixSort::SortPairs on (key, index) — an LSD
 *             radix sort, hence stable. Key/index/temp buffers are allocated on the first
 *             shuffle and reused. Resets batch_cursor to 0.
 *   gather    out[r, :] = images[perm[(batch_cursor + slot) * rows + r], :] / 255, uint8 in,
 *             float out, batch_cursor read from device memory (graph-replayable).
 *   noise     out[i] = philox_normal(seed, stream_id(purpose, k), i) with
 *             k = (*counter) * k_mul + k_add read on the device.
 *   end_iteration  iteration += 1, batch_cursor += d_steps (one thread).
 */
#include <cuda_runtime.h>

#include <cub/device/device_radix_sort.cuh>
#include <cstdint>

#include "engine/base/error.hpp"
#include "kernels/cuda/cuda_check.cuh"
#include "kernels/cuda/cuda_context.cuh"
#include "kernels/cuda/cuda_ops.hpp"
#include "engine/philox.h"

namespace gan::gpu {
namespace {

constexpr int kThreads = 256;

// ---- kernels --------------------------------------------------------------------------

__global__ void shuffle_keys_kernel(int n, uint64_t seed, uint64_t stream,
                                    uint32_t* __restrict__ keys, int32_t* __restrict__ index,
                                    StepCounters* c) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i == 0) c->batch_cursor = 0;
  if (i >= n) return;
  keys[i] = philox_u32(seed, stream, static_cast<uint64_t>(i));
  index[i] = i;
}

__global__ void gather_kernel(float* __restrict__ out, const uint8_t* __restrict__ images,
                              int dim, const int32_t* __restrict__ perm,
                              const StepCounters* __restrict__ c, int slot, int rows) {
  const int64_t base = (c->batch_cursor + slot) * static_cast<int64_t>(rows);
  const size_t n = static_cast<size_t>(rows) * dim;
  for (size_t i = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<size_t>(gridDim.x) * blockDim.x) {
    const size_t r = i / dim, k = i % dim;
    const size_t src = static_cast<size_t>(perm[base + static_cast<int64_t>(r)]);
    out[i] = static_cast<float>(images[src * dim + k]) / 255.0f;
  }
}

__global__ void noise_kernel(float* __restrict__ out, size_t n, uint64_t seed, Stream purpose,
                             const int64_t* __restrict__ counter, int64_t k_mul,
                             int64_t k_add) {
  const int64_t k = (counter ? *counter : 0) * k_mul + k_add;
  const uint64_t stream = stream_id(purpose, static_cast<uint64_t>(k));
  for (size_t i = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<size_t>(gridDim.x) * blockDim.x)
    out[i] = philox_normal(seed, stream, i);
}

__global__ void end_iteration_kernel(StepCounters* c, int d_steps) {
  c->iteration += 1;
  c->batch_cursor += d_steps;
}

}  // namespace

// ---- launchers ------------------------------------------------------------------------

void shuffle_radix(CudaCtx& ctx, int32_t* perm, int n, uint64_t seed, uint64_t epoch,
                   StepCounters* c) {
  GAN_CHECK(n >= 0 && c && (n == 0 || perm), "shuffle: bad arguments (n=" << n << ")");
  const size_t count = static_cast<size_t>(n);
  uint32_t* keys_in = nullptr;
  uint32_t* keys_out = nullptr;
  int32_t* index_in = nullptr;
  if (n > 0) {
    keys_in = static_cast<uint32_t*>(ctx.sort_keys_in.get(count * 4, ctx.stream, "shuffle"));
    keys_out = static_cast<uint32_t*>(ctx.sort_keys_out.get(count * 4, ctx.stream, "shuffle"));
    index_in = static_cast<int32_t*>(ctx.sort_values_in.get(count * 4, ctx.stream, "shuffle"));
  }
  const unsigned blocks = static_cast<unsigned>(n > 0 ? (count + kThreads - 1) / kThreads : 1);
  shuffle_keys_kernel<<<blocks, kThreads, 0, ctx.stream>>>(
      n, seed, stream_id(Stream::Shuffle, epoch), keys_in, index_in, c);
  LAUNCH_CHECK("shuffle_keys_kernel");
  if (n == 0) return;
  size_t temp_bytes = 0;
  CUDA_CHECK(cub::DeviceRadixSort::SortPairs(nullptr, temp_bytes, keys_in, keys_out, index_in,
                                             perm, n, 0, 32, ctx.stream));
  void* temp = ctx.sort_temp.get(temp_bytes, ctx.stream, "shuffle");
  CUDA_CHECK(cub::DeviceRadixSort::SortPairs(temp, temp_bytes, keys_in, keys_out, index_in,
                                             perm, n, 0, 32, ctx.stream));
}

void gather_direct(CudaCtx& ctx, float* out, const uint8_t* images, int dim,
                   const int32_t* perm, const StepCounters* c, int slot, int rows) {
  GAN_CHECK(dim >= 1 && rows >= 0 && slot >= 0 && out && images && perm && c,
            "gather_batch: bad arguments (dim=" << dim << " rows=" << rows << " slot=" << slot
                                                << ")");
  if (rows == 0) return;
  const size_t n = static_cast<size_t>(rows) * dim;
  gather_kernel<<<ctx.grid_for(n, kThreads), kThreads, 0, ctx.stream>>>(out, images, dim, perm,
                                                                        c, slot, rows);
  LAUNCH_CHECK("gather_kernel");
}

void noise_philox(CudaCtx& ctx, float* out, size_t n, uint64_t seed, Stream purpose,
                  const int64_t* counter, int64_t k_mul, int64_t k_add) {
  GAN_CHECK(n == 0 || out, "noise: output is required");
  if (n == 0) return;
  noise_kernel<<<ctx.grid_for(n, kThreads), kThreads, 0, ctx.stream>>>(out, n, seed, purpose,
                                                                       counter, k_mul, k_add);
  LAUNCH_CHECK("noise_kernel");
}

void end_iteration_counters(CudaCtx& ctx, StepCounters* c, int d_steps) {
  GAN_CHECK(c, "end_iteration: the step counters are required");
  end_iteration_kernel<<<1, 1, 0, ctx.stream>>>(c, d_steps);
  LAUNCH_CHECK("end_iteration_kernel");
}

}  // namespace gan::gpu
