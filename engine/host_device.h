/*
 * host_device.h — GAN_HD: marks the small pure functions that the CPU backend and the CUDA
 * kernels share (philox.h, dropout_mask.h, lr_schedule.h), so both compute them from one
 * definition.
 */
#pragma once

#if defined(__CUDACC__)
#define GAN_HD __host__ __device__ __forceinline__
#else
#define GAN_HD inline
#endif
