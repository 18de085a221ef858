/*
 * softmax_xent.cu — softmax cross-entropy head with accuracy on the GPU, the digit
 * classifier's loss (the CPU reference is kernels/cpu/softmax_xent_cpu.cpp).
 *
 * logits [rows, classes] row-major, labels [rows] int32. Per row, in double:
 *   lse = max + log sum exp(l - max); loss_r = lse - l[label]; correct_r = (first argmax ==
 *   label); dlogits (if non-null) = (exp(l - lse) - onehot) / rows.
 * Then m->loss = mean loss_r (float), m->correct = sum correct_r, written to device memory
 * (no host round trip). ONE kernel, one block of 256 threads: thread t takes rows t, t + 256,
 * ... and keeps partial sums in double; the block reduces them in a fixed tree order, so the
 * result is deterministic. The classifier's batches (and evaluation chunks of up to 1024 rows)
 * are small: one block is plenty. A label outside 0..classes-1 gives a NaN loss (the host
 * validates labels before upload).
 */
#include <cuda_runtime.h>

#include <cmath>

#include "engine/base/error.hpp"
#include "kernels/cuda/cuda_check.cuh"
#include "kernels/cuda/cuda_context.cuh"
#include "kernels/cuda/eval_ops.hpp"

namespace gan::gpu {
namespace {

constexpr int kThreads = 256;

__global__ void softmax_xent_kernel(int rows, int classes, const float* __restrict__ logits,
                                    const int32_t* __restrict__ labels,
                                    float* __restrict__ dlogits, XentMetrics* __restrict__ m) {
  __shared__ double loss_part[kThreads];
  __shared__ int correct_part[kThreads];
  double loss = 0;
  int correct = 0;
  for (int r = threadIdx.x; r < rows; r += kThreads) {
    const float* l = logits + static_cast<size_t>(r) * classes;
    const int y = labels[r];
    int arg = 0;
    for (int c = 1; c < classes; ++c)
      if (l[c] > l[arg]) arg = c;
    const double mx = l[arg];
    double sum = 0;
    for (int c = 0; c < classes; ++c) sum += exp(static_cast<double>(l[c]) - mx);
    const double lse = mx + log(sum);
    const bool valid = y >= 0 && y < classes;
    loss += valid ? lse - static_cast<double>(l[y]) : nan("");
    correct += (valid && arg == y) ? 1 : 0;
    if (dlogits) {
      float* d = dlogits + static_cast<size_t>(r) * classes;
      for (int c = 0; c < classes; ++c)
        d[c] = static_cast<float>((exp(static_cast<double>(l[c]) - lse) - (c == y ? 1.0 : 0.0)) /
                                  rows);
    }
  }
  loss_part[threadIdx.x] = loss;
  correct_part[threadIdx.x] = correct;
  __syncthreads();
  for (int stride = kThreads / 2; stride > 0; stride /= 2) {
    if (threadIdx.x < stride) {
      loss_part[threadIdx.x] += loss_part[threadIdx.x + stride];
      correct_part[threadIdx.x] += correct_part[threadIdx.x + stride];
    }
    __syncthreads();
  }
  if (threadIdx.x == 0) {
    m->loss = rows > 0 ? static_cast<float>(loss_part[0] / rows) : 0.0f;
    m->correct = correct_part[0];
  }
}

}  // namespace

void softmax_xent_block(CudaCtx& ctx, int rows, int classes, const float* logits,
                        const int32_t* labels, float* dlogits, XentMetrics* m) {
  GAN_CHECK(rows >= 0 && classes >= 1 && m, "softmax_xent: bad shape " << rows << "x" << classes);
  softmax_xent_kernel<<<1, kThreads, 0, ctx.stream>>>(rows, classes, logits, labels, dlogits, m);
  LAUNCH_CHECK("softmax_xent_kernel");
}

}  // namespace gan::gpu
